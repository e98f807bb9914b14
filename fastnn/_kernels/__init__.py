"""fastnn's compiled kernels: the extension module fastnn._kernels.compiled (see setup.py
and compiled.pyx), with one run-time instruction-set choice for every kernel."""


def set_isa(name):
    """Switch every kernel to the named instruction set ("generic", "avx2" or "avx512";
    "generic" or "neon" on aarch64; for tests and benchmarks). Raises ValueError if this CPU cannot run it."""
    from fastnn._kernels import compiled
    compiled.set_isa(name)


def isa_name():
    """The instruction set the kernels use."""
    from fastnn._kernels import compiled
    return compiled.isa_name()


def isa_available(name):
    """Whether this CPU and build can run the named instruction set."""
    from fastnn._kernels import compiled
    return compiled.isa_available(name)
