"""show_config(): what this fastnn install is and what it will run."""
import platform
import sys

import numpy

# the release; fastnn.__version__ re-exports it (pyproject.toml holds the same number)
__version__ = "0.1.0"


def config_dict():
    """The facts `show_config` prints, as a dict."""
    from fastnn._threads import get_num_threads
    from fastnn.backend import get_backend
    from fastnn.config import floatx
    info = {"fastnn": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
            "platform": platform.platform(), "machine": platform.machine(),
            "backend": get_backend().name, "floatx": floatx(), "threads": get_num_threads()}
    try:
        from fastnn._kernels import compiled
        info["compiled_kernels"] = True
        info["openmp"] = compiled.openmp_enabled()
        info["kernel_isa"] = compiled.isa_name()
        info["isa_available"] = [i for i in ("avx512", "avx2", "neon", "generic")
                                 if compiled.isa_available(i)]
        info["bfloat16"] = bfloat16_route(compiled)
    except ImportError as exc:
        info["compiled_kernels"] = f"missing ({exc})"
    return info


def bfloat16_route(compiled):
    """How bfloat16 products (mixed_bfloat16, quantize('bfloat16')) run here."""
    if compiled.bf16_native():
        return "vdpbf16ps (AVX512_BF16)"
    why = ("the kernels in use are not AVX-512" if compiled.bf16_cpu_has_avx512bf16()
           else "no AVX512_BF16 on this CPU")
    return f"float32 kernels on bfloat16-rounded operands, float32 speed ({why})"


def show_config():
    """Print the version, backend, kernel ISA chosen, threads and OpenMP status."""
    info = config_dict()
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key == "openmp" and value is False:
            value = "False (single-threaded build)"
        print(f"{key.ljust(width)} : {value}")
