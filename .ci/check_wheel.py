"""Check built fastnn wheels: size, no build leftovers, and baseline-only code outside the
per-ISA kernels.

    python .ci/check_wheel.py [--max-bytes N] [--expect-lib libgomp] WHEEL_OR_DIR...

A directory stands for every wheel in it. For each wheel it prints the size and fails
(exit 1) when:
  * the wheel is N bytes or larger (default 1,500,000);
  * it holds sources or build outputs (.c, .h, .pyx, .pxi, .o, .html, __pycache__, build/...),
    or a compiled module outside fastnn/_kernels/ and the vendored-library folder;
  * --expect-lib is given and no vendored library starts with that name;
  * on x86-64 Linux, with objdump at hand: a function outside the AVX2/AVX-512 kernels
    uses an AVX instruction (VEX/EVEX encoded, or a ymm/zmm register), which a CPU without
    AVX could not run. The ISA is chosen at run time, so only those kernels may;
  * on Linux, with nm at hand: an extension module exports a symbol besides its PyInit_
    (a host process that loads modules RTLD_GLOBAL would see fastnn's C functions).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

LEFTOVER_SUFFIXES = (".c", ".cpp", ".h", ".pyx", ".pxi", ".o", ".obj", ".a", ".lib", ".html",
                     ".pyc", ".orig", ".rej")
LEFTOVER_PARTS = {"__pycache__", "build", "src_c", "tests", "benchmarks", ".ci"}
MODULE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
VENDORED_DIRS = ("fastnn.libs/", "fastnn/.dylibs/")
# Functions that may use AVX: the kernels compiled per ISA, and their compiler clones.
ISA_FUNCTION = re.compile(r"avx2|avx512")
AVX_INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\s+(v[a-z0-9]+)\b|%[yz]mm\d+")


def wheels_in(paths):
    for path in paths:
        if os.path.isdir(path):
            yield from sorted(os.path.join(path, f) for f in os.listdir(path)
                              if f.endswith(".whl"))
        else:
            yield path


def leftovers(names):
    """Names in the wheel that are sources, build outputs or misplaced binaries."""
    bad = []
    for name in names:
        parts = set(name.split("/")[:-1])
        if name.endswith(LEFTOVER_SUFFIXES) or parts & LEFTOVER_PARTS:
            bad.append(name)
        elif (name.endswith(MODULE_SUFFIXES) or ".so." in name) and not (
                name.startswith("fastnn/_kernels/") or name.startswith(VENDORED_DIRS)):
            bad.append(name)
    return bad


def has_symbol_table(library):
    out = subprocess.run(["objdump", "-t", library], capture_output=True, text=True).stdout
    return any(" .text" in line for line in out.splitlines())


def avx_outside_kernels(library):
    """Names of functions in `library` outside the per-ISA kernels that use AVX."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library],
                         capture_output=True, text=True, check=True).stdout
    bad, function = set(), None
    for line in out.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            function = header.group(1)
        elif function and not ISA_FUNCTION.search(function):
            m = AVX_INSTRUCTION.search(line)
            if m and (m.group(1) is None or not m.group(1).startswith("ver")):
                bad.add(function)
    return sorted(bad)


def exported_symbols(library):
    """Dynamic symbols `library` defines, but for its PyInit_ function."""
    out = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True,
                         text=True, check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    return [n for n in names if not n.startswith("PyInit_") and not n.startswith("_")]


def check_binaries(wheel, names):
    """Problems of the extension modules' machine code, and a note of what was checked."""
    base = os.path.basename(wheel)
    if "linux" not in base:
        return [], "skipped (not a Linux wheel)"
    x86 = "x86_64" in base and shutil.which("objdump")
    problems, modules, stripped = [], [n for n in names if n.startswith("fastnn/_kernels/")
                                       and n.endswith(".so")], False
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        for name in modules:
            path = z.extract(name, tmp)
            # the functions' names are needed to tell the kernels apart: a stripped wheel is
            # checked before it was stripped
            stripped = stripped or (x86 and not has_symbol_table(path))
            if x86 and not stripped:
                problems += [f"{name}: {f} uses AVX" for f in avx_outside_kernels(path)]
            if shutil.which("nm"):
                problems += [f"{name} exports {s}" for s in exported_symbols(path)]
    isa = ("AVX check skipped (stripped), " if stripped else
           "AVX only in the per-ISA kernels, " if x86 else "")
    return problems, f"{len(modules)} modules: {isa}exports only PyInit_"


def check(wheel, max_bytes, expect_lib):
    size = os.path.getsize(wheel)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    problems = [f"leftover in the wheel: {n}" for n in leftovers(names)]
    if size >= max_bytes:
        problems.append(f"{size:,} bytes is not under the limit of {max_bytes:,}")
    vendored = [n for n in names if n.startswith(VENDORED_DIRS) and not n.endswith("/")]
    if expect_lib and not any(os.path.basename(n).startswith(expect_lib) for n in vendored):
        problems.append(f"no vendored {expect_lib}* (vendored: {vendored or 'nothing'})")
    binary_problems, binary_note = check_binaries(wheel, names)
    problems += binary_problems
    print(f"{os.path.basename(wheel)}: {size:,} bytes ({size / 1e6:.3f} MB), "
          f"{len(names)} files, vendored: {[os.path.basename(n) for n in vendored]}")
    print(f"  machine code: {binary_note}")
    for p in problems:
        print(f"  FAIL {p}")
    return not problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", help="wheel files, or directories of wheels")
    p.add_argument("--max-bytes", type=int, default=1_500_000)
    p.add_argument("--expect-lib", help="a vendored library that must be present")
    args = p.parse_args(argv)
    wheels = list(wheels_in(args.paths))
    if not wheels:
        print(f"no wheel found in {args.paths}")
        return 1
    results = [check(w, args.max_bytes, args.expect_lib) for w in wheels]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
