# The run-time instruction-set choice of src_c/isa.c, made once for every kernel.
from fastnn._kernels.capi cimport fnn_isa_name, fnn_isa_available, fnn_set_isa

_ISAS = ("generic", "avx2", "avx512", "neon")   # neon: aarch64 builds


def isa_name():
    """The instruction set the kernels use: "avx512", "avx2", "neon" or "generic"."""
    return fnn_isa_name().decode()


def isa_available(str name):
    """Whether this CPU and build can run the named instruction set."""
    return bool(fnn_isa_available(name.encode()))


def set_isa(str name):
    """Switch every kernel to the named instruction set (tests, benchmarks)."""
    if name not in _ISAS:
        raise ValueError(f"`name` must be one of {list(_ISAS)}; got {name!r}")
    if fnn_set_isa(name.encode()) != 0:
        raise ValueError(f"`name` {name!r} is not available on this CPU or build; "
                         f"available: {[i for i in _ISAS if fnn_isa_available(i.encode())]}")
