"""Shared fixtures: the backends available here and one tolerance table per dtype."""
import numpy as np
import pytest

import fastnn
from fastnn.backend import available_backends, get_backend

# rtol/atol of a compiled kernel against the reference, per dtype
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}
BACKENDS = available_backends()
DTYPES = [np.float32, np.float64]


def pytest_report_header(config):
    return f"fastnn backends: {BACKENDS}; ISA {fastnn._info.config_dict().get('kernel_isa')}"


@pytest.fixture(params=["cpu", "cupy"])
def backend(request):
    """Each non-reference backend, skipped with its reason where it cannot run."""
    if request.param not in BACKENDS:
        pytest.skip(f"backend {request.param!r} not available here (no CuPy/GPU)"
                    if request.param == "cupy" else "compiled kernels missing")
    with fastnn.use_backend(request.param):
        yield get_backend()


@pytest.fixture
def reference():
    """The reference backend object."""
    with fastnn.use_backend("reference"):
        return get_backend()


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    """float32 and float64."""
    return request.param


@pytest.fixture(params=["generic", "avx2", "avx512", "neon"])
def kernel_isa(request):
    """Every compiled kernel switched to one instruction set for the test (those
    this CPU cannot run are skipped), then switched back."""
    if "cpu" not in BACKENDS:
        pytest.skip("compiled kernels missing")
    import fastnn._kernels as kernels
    if not kernels.isa_available(request.param):
        pytest.skip(f"{request.param} not available on this CPU/build")
    before = kernels.isa_name()
    kernels.set_isa(request.param)
    yield request.param
    kernels.set_isa(before)


@pytest.fixture
def floatx64():
    """Run the test with float64 as the default float type."""
    fastnn.config.set_floatx("float64")
    yield
    fastnn.config.set_floatx("float32")


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Each test starts on the cpu backend (when built) with float32 and the default threads."""
    threads = fastnn.get_num_threads()
    yield
    fastnn.config.set_floatx("float32")
    fastnn.set_num_threads(threads)
    fastnn.set_backend("cpu" if "cpu" in BACKENDS else "reference")


def assert_close(actual, expected, dtype):
    """Compare a backend result with the reference within the dtype's tolerance, relative
    to each element and to the largest element (sums of many terms cancel)."""
    actual = np.asarray(get_backend().to_numpy(actual), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    tol = TOLERANCE[dtype]
    scale = np.abs(expected).max() if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"],
                               atol=tol["atol"] + tol["rtol"] * scale)
