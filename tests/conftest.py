"""Shared fixtures: the backends available here and one tolerance table per dtype."""
import numpy as np
import pytest

import fastnn
from fastnn.backend import available_backends, get_backend

# rtol/atol of a compiled kernel against the reference, per dtype and per element (see
# assert_close): rtol ~170 float32 ulps; atol is absolute, for results that cancel at the
# unit scale the tests' inputs are drawn at (p - lr m / sqrt(v), 1 - y^2, log_softmax)
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}
BACKENDS = available_backends()
DTYPES = [np.float32, np.float64]


def _openmp_enabled():
    if "cpu" not in BACKENDS:
        return False
    from fastnn._kernels.compiled import openmp_enabled
    return openmp_enabled()


# For the tests whose point is the same bits on 1 and 2 threads: in a build without
# OpenMP (FASTNN_NO_OPENMP=1, or a compiler without it) both run on the one thread, and
# they would pass whatever the kernels did.
needs_openmp = pytest.mark.skipif(not _openmp_enabled(), reason=(
    "built without OpenMP (show_config: openmp False): 1 and 2 threads are the same "
    "single thread, so the same bits across threads are not tested"))


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


@pytest.fixture(params=[b for b in ("reference", "cpu") if b in BACKENDS])
def on_backend(request):
    """Each of the reference and cpu backends (those built here), active for the test:
    for the tests against values that Keras 3 wrote (tests/test_keras_golden.py)."""
    with fastnn.use_backend(request.param):
        yield request.param


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


def assert_close(actual, expected, dtype, terms=None, k=1):
    """Compare a backend result with the reference element by element: each within the
    dtype's rtol of itself plus its atol (TOLERANCE: a few roundings of an element-wise
    kernel, and cancellation at the inputs' unit scale). An element that is a sum of k
    terms (a product, a row or column sum) may also be off by the dot-product error
    bound 4 sqrt(k) eps * terms (tests/gemm_check.py), `terms` being that element's own
    sum of |term| (same shape as expected, or broadcast to it): a wrong small element
    fails however large the others are."""
    actual = np.asarray(get_backend().to_numpy(actual), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    tol = TOLERANCE[dtype]
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    atol = np.full(expected.shape, tol["atol"])
    if terms is not None:
        atol = atol + sum_bound(terms, k, dtype)
    ok = np.isclose(actual, expected, rtol=tol["rtol"], atol=atol, equal_nan=True)
    if not ok.all():
        at = np.flatnonzero(~ok)[:5]
        allowed = tol["rtol"] * np.abs(expected.ravel()[at]) + atol.ravel()[at]
        raise AssertionError(
            f"{(~ok).sum()} of {ok.size} elements differ; at flat {at.tolist()}: actual "
            f"{actual.ravel()[at].tolist()}, expected {expected.ravel()[at].tolist()}, "
            f"allowed error {allowed.tolist()}")


def sum_bound(terms, k, dtype):
    """The error bound of sums of k terms each: 4 sqrt(k) eps * terms, per element."""
    return 4 * np.sqrt(max(k, 1)) * np.finfo(dtype).eps * np.asarray(terms, np.float64)


def through_activation(name, z, y, terms):
    """The `terms` of z = a sum, carried through y = act(z) (z and y as float64): an
    element-wise activation changes an error in z by at most its largest slope (2 bounds
    selu's 1.76, gelu's 1.13, the others' 1); softmax changes p_i by at most
    p_i (|dz_i| + sum_j p_j |dz_j|) <= 2 p_i max_j |dz_j|, log_softmax by at most
    2 max_j |dz_j|, which also rounds z - shift (|z| + |shift| more)."""
    terms = np.asarray(terms, np.float64)
    if name in (None, "linear"):
        return terms
    if name == "softmax":
        return 2 * np.abs(y) * terms.max(axis=-1, keepdims=True)
    if name == "log_softmax":
        return 2 * terms.max(axis=-1, keepdims=True) + np.abs(z) + np.abs(z - y)
    return 2 * terms
