"""Build fastnn's compiled kernels.

    pip install .                       # optimised build, OpenMP when the compiler has it
    FASTNN_NO_OPENMP=1 pip install .    # single-threaded build (show_config() says so)
    FASTNN_DEBUG=1 pip install .        # Cython bounds checks and asserts back on
    FASTNN_SANITIZE=1 pip install .     # GCC/Clang: AddressSanitizer + UBSan (.ci/sanitize.sh)

The C in src_c/ is compiled once per instruction set: files named `*_avx2*.c` get the
AVX2+FMA flags, `*_avx512*.c` the AVX-512 flags, `*_neon*.c` are aarch64-only, and all
other files get the baseline flags only, so that importing the wheel never executes an
instruction the CPU lacks. src_c/dispatch.c picks the kernels at run time.
"""
import os
import platform
import runpy
import shlex
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
SRC_C = "src_c"

# The activation and loss codes are defined once, in fastnn/_codes.py; every build path
# (pip install, build_ext --inplace, sdist, .ci/sanitize.sh, .ci/wheel.sh) runs this file,
# which writes src_c/fnn_codes.h and fastnn/_kernels/fnn_codes.pxd from that table (only
# where their text changed). The table is run on its own: fastnn itself is not imported.
runpy.run_path(str(ROOT / "fastnn" / "_codes.py"))["write_generated"](ROOT)

# Which C files each extension links (components: C files whose names start so). All the
# kernels are one module, fastnn/_kernels/compiled.pyx, so that the GEMM and the
# element-wise kernels of every ISA are linked once and share one run-time ISA choice.
EXTENSIONS = {
    "fastnn._kernels.compiled": ["gemm", "dispatch", "threads", "eltwise", "isa", "philox",
                                 "bf16", "qgemm"],
}

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "nonecheck": False,
}
DEBUG_DIRECTIVES = {"boundscheck": True, "wraparound": True, "initializedcheck": True}

# FASTNN_SANITIZE=1: every C file, the micro-kernels included, is built with ASan and UBSan
# (plus float-cast-overflow, which GCC leaves out of "undefined": a NaN or out-of-range float
# converted to an integer), and any undefined behaviour aborts. The interpreter is not
# instrumented: the runtimes are preloaded (LD_PRELOAD), as .ci/sanitize.sh does.
SANITIZE_FLAGS = ["-fsanitize=address,undefined,float-cast-overflow",
                  "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]

# Per-ISA compiler flags for GCC/Clang and MSVC. Never -march=native: wheels run anywhere.
ISA_FLAGS = {
    "avx2": {"unix": ["-mavx2", "-mfma", "-mf16c"], "msvc": ["/arch:AVX2"]},
    "avx512": {"unix": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma",
                        "-mavx2"], "msvc": ["/arch:AVX512"]},
    "neon": {"unix": [], "msvc": []},
}
# bfloat16 products (vdpbf16ps): the AVX-512 flags and AVX512_BF16 (GCC 10, Clang 9)
ISA_FLAGS["avx512bf16"] = {"unix": ISA_FLAGS["avx512"]["unix"] + ["-mavx512bf16"],
                           "msvc": ["/arch:AVX512"]}
# int8 products (src_c/qgemm_*vnni*.c): vpdpbusd on zmm (AVX512_VNNI) and on ymm (AVX-VNNI)
ISA_FLAGS["avx512vnni"] = {"unix": ISA_FLAGS["avx512"]["unix"] + ["-mavx512vnni"],
                           "msvc": ["/arch:AVX512"]}
ISA_FLAGS["avx2vnni"] = {"unix": ISA_FLAGS["avx2"]["unix"] + ["-mavxvnni"],
                         "msvc": ["/arch:AVX2"]}


def target_is_x86():
    """Whether we build for x86-64 (honours cross-compilation settings of cibuildwheel)."""
    host = os.environ.get("_PYTHON_HOST_PLATFORM", "") + os.environ.get("ARCHFLAGS", "")
    if "arm64" in host or "aarch64" in host:
        return False
    if "x86_64" in host:
        return True
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def isa_of(path):
    """The ISA a C file is written for, from its name, or None for baseline code."""
    name = Path(path).name
    for isa in ("avx512bf16", "avx512vnni", "avx2vnni", "avx512", "avx2", "neon"):
        if f"_{isa}" in name:
            return isa
    return None


def c_sources(component):
    """C files of one component (file names start with the component's name)."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / SRC_C).glob(f"{component}*.c"))
    if component == "gemm":
        # micro-kernels: sgemm_<isa>_<MR>x<NR>.c, dgemm_..., pack_<isa>.c; sgemv_<isa>.c
        for pattern in ("sgemm_*.c", "dgemm_*.c", "sgemv_*.c"):
            files += sorted(str(p.relative_to(ROOT)) for p in (ROOT / SRC_C).glob(pattern))
    x86 = target_is_x86()
    keep = []
    for f in files:
        isa = isa_of(f)
        if isa in ("avx2", "avx512", "avx512bf16", "avx512vnni", "avx2vnni") and not x86:
            continue
        if isa == "neon" and x86:
            continue
        keep.append(f)
    return keep


class BuildExt(build_ext):
    """Adds optimisation, OpenMP and per-ISA flags that depend on the compiler."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        kind = "msvc" if ctype == "msvc" else "unix"
        self.openmp_flags = self._openmp_flags(kind)
        if kind == "msvc":
            base = ["/O2", "/fp:precise"]
        else:
            # -fno-trapping-math: float selects become vector blends (src_c/vmath_f32.h)
            base = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing",
                    "-Wno-unused-function", "-Wno-unreachable-code",
                    # only PyInit_* is exported: no fnn_* symbol can clash in a host process
                    "-fvisibility=hidden"]
            if target_is_x86():
                base += ["-mno-avx", "-mno-avx2"]  # baseline only in shared code
        sanitize = kind == "unix" and bool(os.environ.get("FASTNN_SANITIZE"))
        if sanitize:
            base += SANITIZE_FLAGS
        self.base_flags = base
        link = self.openmp_flags["link"] + (SANITIZE_FLAGS if sanitize else [])
        defines = [("FNN_OPENMP", "1")] if self.openmp_flags["compile"] else []
        for ext in self.extensions:
            ext.define_macros += defines
            ext.extra_compile_args = base + self.openmp_flags["compile"]
            ext.extra_link_args = link
            ext.extra_objects = self._compile_isa_objects(ext, kind)
        super().build_extensions()

    def _compile_isa_objects(self, ext, kind):
        """Compile the ISA-specific C files of an extension with their own flags."""
        objects = []
        for isa, sources in ISA_SOURCES.get(ext.name, {}).items():
            if not sources:
                continue
            flags = self.base_flags + ISA_FLAGS[isa][kind] + self.openmp_flags["compile"]
            if kind == "unix" and target_is_x86():
                flags = [f for f in flags if f not in ("-mno-avx", "-mno-avx2")]
            objects += self.compiler.compile(
                sources, output_dir=os.path.join(self.build_temp, isa),
                include_dirs=[SRC_C], extra_postargs=flags,
                macros=[("FNN_OPENMP", "1")] if self.openmp_flags["compile"] else [])
        return objects

    def _openmp_flags(self, kind):
        """OpenMP flags if the compiler can build and link an OpenMP program."""
        none = {"compile": [], "link": []}
        if os.environ.get("FASTNN_NO_OPENMP"):
            return none
        if kind == "msvc":
            flags = {"compile": ["/openmp"], "link": []}
        elif sys.platform == "darwin":
            flags = {"compile": ["-Xpreprocessor", "-fopenmp"], "link": ["-lomp"]}
        else:
            flags = {"compile": ["-fopenmp"], "link": ["-fopenmp"]}
        return flags if self._try_openmp(flags) else none

    def _try_openmp(self, flags):
        code = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_check.c")
            Path(src).write_text(code)
            try:
                objs = self.compiler.compile([src], output_dir=tmp,
                                             extra_postargs=flags["compile"])
                # LDFLAGS is not applied to executables; it holds -L for libomp on macOS
                self.compiler.link_executable(objs, os.path.join(tmp, "omp_check"),
                                              extra_preargs=shlex.split(
                                                  os.environ.get("LDFLAGS", "")),
                                              extra_postargs=flags["link"])
            except Exception:  # any compiler or linker failure means: no OpenMP
                print("fastnn: OpenMP not available, building single-threaded kernels")
                return False
        return True


# extension name -> {isa: [C files]}, filled by make_extensions(); cythonize() builds new
# Extension objects, so this cannot live on them.
ISA_SOURCES = {}


def make_extensions():
    debug = bool(os.environ.get("FASTNN_DEBUG"))
    directives = dict(CYTHON_DIRECTIVES, **(DEBUG_DIRECTIVES if debug else {}))
    extensions = []
    for name, components in EXTENSIONS.items():
        pyx = name.replace(".", "/") + ".pyx"
        files = [f for comp in components for f in c_sources(comp)]
        ext = Extension(
            name, sources=[pyx] + [f for f in files if isa_of(f) is None],
            include_dirs=[SRC_C, numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=[os.path.join(SRC_C, "fastnn.h")] + [f for f in files if isa_of(f)]
            + sorted(str(p.relative_to(ROOT)) for p in (ROOT / SRC_C).glob("*.h")))
        isa_sources = {}
        for f in files:
            if isa_of(f) is not None:
                isa_sources.setdefault(isa_of(f), []).append(f)
        ISA_SOURCES[name] = isa_sources
        extensions.append(ext)
    return cythonize(extensions, compiler_directives=directives,
                     include_path=["fastnn/_kernels"])


setup(ext_modules=make_extensions(), cmdclass={"build_ext": BuildExt})
