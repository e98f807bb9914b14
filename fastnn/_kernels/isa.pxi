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


def _check_isa_request(environ):
    """A ValueError for a FASTNN_ISA naming no instruction set, and a RuntimeWarning for
    one this CPU or build cannot run (the best available one runs instead); src_c/isa.c
    itself skips a value it does not know, so a misspelling would otherwise go unseen."""
    import warnings
    wanted = environ.get("FASTNN_ISA")
    if not wanted:
        return
    if wanted not in _ISAS:
        raise ValueError(f"the environment variable `FASTNN_ISA` must be one of {list(_ISAS)} or "
                         f"unset; got {wanted!r}")
    if not fnn_isa_available(wanted.encode()):
        warnings.warn(f"FASTNN_ISA={wanted!r} is not available on this CPU or build; the "
                      f"kernels use {isa_name()!r}", RuntimeWarning, stacklevel=2)


_check_isa_request(__import__("os").environ)
