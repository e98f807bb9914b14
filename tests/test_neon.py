"""The AArch64 build of src_c/ (the NEON micro-kernels), cross-compiled and run under QEMU.

The aarch64 wheels pick the NEON kernels at start-up, and no Python of that architecture
runs here, so tests/native/check_gemm.c checks the GEMM from C: against a double
product on shapes around the register tiles and across the cache blocks, every
transpose case, alpha and beta, the fused epilogues, bit-identical on 1 and 2 threads,
for the generic and the NEON kernels. Needs a cross compiler and QEMU's user-mode
emulator (Debian: gcc-aarch64-linux-gnu, qemu-user); skipped where they are missing.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC_C = ROOT / "src_c"
CHECK = ROOT / "tests" / "native" / "check_gemm.c"
CC = shutil.which("aarch64-linux-gnu-gcc")
QEMU = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
SYSROOT = "/usr/aarch64-linux-gnu"

pytestmark = [
    pytest.mark.skipif(CC is None or QEMU is None,
                       reason="no aarch64 cross compiler or qemu-aarch64 (Debian: "
                              "gcc-aarch64-linux-gnu qemu-user)"),
    pytest.mark.skipif(not SRC_C.is_dir(), reason="src_c/ is not here (an installed wheel)"),
]

# setup.py's flags for the C sources, less those of x86 (-mno-avx ...)
FLAGS = ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing",
         "-I", str(SRC_C)]


def aarch64_sources():
    """src_c/'s C files that an aarch64 wheel compiles: all but the x86 ISAs' own."""
    return sorted(str(p) for p in SRC_C.glob("*.c")
                  if "_avx2" not in p.name and "_avx512" not in p.name)


@pytest.fixture(scope="module")
def check_exe(tmp_path_factory):
    """tests/native/check_gemm.c with src_c/, built for aarch64."""
    exe = tmp_path_factory.mktemp("aarch64") / "check_gemm"
    built = subprocess.run([CC, *FLAGS, *aarch64_sources(), str(CHECK), "-lm", "-o", str(exe)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return exe


def run_check(exe, isa=None):
    """Runs the check under QEMU (FASTNN_ISA=isa when given): (exit code, output)."""
    env = dict(os.environ, QEMU_LD_PREFIX=SYSROOT, OMP_NUM_THREADS="2")
    env.pop("FASTNN_ISA", None)
    if isa is not None:
        env["FASTNN_ISA"] = isa
    done = subprocess.run([QEMU, str(exe)], env=env, capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout


def test_neon_kernels_match_the_reference(check_exe):
    rc, out = run_check(check_exe)
    assert out.splitlines()[0] == "default isa: neon", out
    counts = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert counts is not None, out
    assert rc == 0 and counts.group(2) == "0", out
    assert int(counts.group(1)) > 3000   # generic and neon, both dtypes


def test_fastnn_isa_forces_the_generic_kernels(check_exe):
    rc, out = run_check(check_exe, "generic")
    assert out.splitlines()[0] == "default isa: generic", out
    assert rc == 0, out
