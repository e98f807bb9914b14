"""fastnn's compiled kernels: one extension module per kernel family (see setup.py)."""

# the modules that link the run-time ISA choice (src_c/isa.c), each with its own copy
_ISA_MODULES = ("gemm", "activations", "optimizers", "dropout", "reduce", "step")


def set_isa(name):
    """Switch every kernel family to the named instruction set ("generic", "avx2" or
    "avx512"; for tests and benchmarks). Raises ValueError if this CPU cannot run it."""
    import importlib
    modules = [importlib.import_module(f"fastnn._kernels.{m}") for m in _ISA_MODULES]
    modules[0].set_isa(name)  # validates the name before anything changes
    for module in modules[1:]:
        module.set_isa(name)


def isa_name():
    """The instruction set the kernels use."""
    from fastnn._kernels import gemm
    return gemm.isa_name()


def isa_available(name):
    """Whether this CPU and build can run the named instruction set."""
    from fastnn._kernels import gemm
    return gemm.isa_available(name)
