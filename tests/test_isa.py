"""The element-wise kernels of every instruction set this CPU runs, against the reference.

Each ISA has its own build of the activation, dropout, reduction and optimizer kernels
(src_c/eltwise_<isa>.c); the cpu backend tests cover the ISA chosen at start-up, these
cover the others, as an older CPU would run them.
"""
import math

import numpy as np
import pytest

import fastnn
import fastnn._kernels as kernels
from conftest import assert_close
from fastnn import _codes, activations
from fastnn._kernels import compiled as _dropout
from fastnn.backend import get_backend

ELEMENTWISE = [a.name for a in _codes.ELEMENTWISE]


@pytest.fixture
def cpu():
    with fastnn.use_backend("cpu"):
        yield get_backend()


@pytest.fixture
def ref():
    with fastnn.use_backend("reference"):
        yield get_backend()


def test_set_isa_switches_the_kernels(kernel_isa):
    from fastnn._kernels import compiled
    assert compiled.isa_name() == kernel_isa == kernels.isa_name()
    

def test_set_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="name"):
        kernels.set_isa("sse9")


def _exact_activation(name, x):
    """float64 values of an activation, from NumPy and math.erf."""
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "silu":
        return x / (1 + np.exp(-x))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x))
    if name == "softplus":
        return np.logaddexp(x, 0)
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


@pytest.mark.parametrize("name, atol", [("tanh", 0), ("sigmoid", 0), ("silu", 0), ("elu", 0),
                                        ("softplus", 0), ("gelu", 6e-7)])
def test_float_transcendentals_within_a_few_ulp(kernel_isa, cpu, name, atol):
    # the vectorised exp/expm1/tanh/erf/log1p of src_c/vmath_f32.h, over the whole useful range
    # and down to tiny arguments, against float64; gelu's 1 + erf keeps an absolute error
    x = np.concatenate([np.linspace(-30, 30, 60001), np.geomspace(1e-8, 1, 500),
                        -np.geomspace(1e-8, 1, 500), [0.0]]).astype(np.float32)
    got = cpu.activation_forward(x.reshape(1, -1), activations.get(name)).ravel()
    exact = _exact_activation(name, x.astype(np.float64))
    np.testing.assert_allclose(got, exact, rtol=5e-7, atol=atol)   # rtol: ~4 ulp


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activations(kernel_isa, cpu, ref, dtype, name):
    act = activations.get(name)
    rng = np.random.default_rng(3)
    z = (3 * rng.standard_normal((37, 129))).astype(dtype)   # odd sizes: vector tails
    g = rng.standard_normal(z.shape).astype(dtype)
    y = cpu.activation_forward(z, act)
    assert_close(y, ref.activation_forward(z, act), dtype)
    saved = z if act.needs_z else ref.activation_forward(z, act)
    assert_close(cpu.activation_backward(act, g, saved), ref.activation_backward(act, g, saved),
                 dtype)


@pytest.mark.parametrize("start", [0, 1, 3, 4, 64, 1001])
@pytest.mark.parametrize("n", [1, 5, 64, 65, 300])
def test_vector_philox_matches_block_at_a_time(kernel_isa, start, n):
    fast, slow = np.empty(n, np.uint8), np.empty(n, np.uint8)
    for rate in (0.0, 0.3, 0.99):
        _dropout.keep_mask(2**40 + 17, 2, 9, rate, start, fast, True)
        _dropout.keep_mask(2**40 + 17, 2, 9, rate, start, slow, False)
        np.testing.assert_array_equal(fast, slow)


def test_vector_philox_where_the_counter_word_wraps(kernel_isa):
    start = (2**32 - 5) * 4        # the low counter word wraps inside a vector of blocks
    fast, slow = np.empty(400, np.uint8), np.empty(400, np.uint8)
    _dropout.keep_mask(7, 0, 0, 0.5, start, fast, True)
    _dropout.keep_mask(7, 0, 0, 0.5, start, slow, False)
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("name", [a.name for a in _codes.ACTIVATIONS])
def test_dropout_forward_and_fused_backward(kernel_isa, cpu, ref, dtype, name):
    act = activations.get(name)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((33, 517)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    mask_ref = np.empty(x.shape, np.uint8)
    y_ref = ref.dropout(x, 0.3, 99, 4, 1, mask=mask_ref)
    mask = np.empty(x.shape, np.uint8)
    assert_close(cpu.dropout(x, 0.3, 99, 4, 1, mask=mask), y_ref, dtype)
    np.testing.assert_array_equal(mask, mask_ref)
    saved = ref.activation_forward(x, act)
    assert_close(cpu.dropout_backward(g, mask, 0.3, activation=act, saved=saved),
                 ref.dropout_backward(g, mask_ref, 0.3, activation=act, saved=saved), dtype)


@pytest.mark.parametrize("n_cols", [1, 3, 10, 16, 17, 100])
@pytest.mark.parametrize("name", [a.name for a in _codes.ROWWISE])
def test_softmax_rows_in_blocks_match_each_row_alone(kernel_isa, cpu, ref, dtype, name,
                                                     n_cols):
    # the kernel exponentiates a block of rows as one loop; a row alone puts its elements
    # in other vector lanes (or the scalar tail), which must not change a bit
    act = activations.get(name)
    x = (np.random.default_rng(n_cols).standard_normal((150, n_cols)) * 20).astype(dtype)
    x[3] = 0.0
    block = cpu.activation_forward(x, act)
    alone = np.concatenate([cpu.activation_forward(x[i:i + 1], act) for i in range(len(x))])
    np.testing.assert_array_equal(block, alone)
    assert_close(block, ref.activation_forward(x, act), dtype)
    split = np.empty_like(x)   # the rows shared by two threads
    _dropout.softmax_forward(x, split, name == "log_softmax", 2)
    np.testing.assert_array_equal(split, block)


# limits at -inf and +inf of the activations built on exp (src_c/vmath_f32.h clamps exp's
# argument, so these come out within float32's smallest normal of the exact limits)
INF_LIMITS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "elu": (-1.0, np.inf),
              "selu": (-1.0507009873554805 * 1.6732632423543772, np.inf),
              "softplus": (0.0, np.inf)}


@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "silu", "sigmoid", "tanh",
                                  "softplus"])
def test_transcendentals_on_nan_and_inf(kernel_isa, cpu, dtype, name):
    # NaN in, NaN out, in vector lanes and the scalar tail alike, and no other element
    # changes; +-inf give the activation's limits
    act = activations.get(name)
    x = (5 * np.random.default_rng(11).standard_normal(203)).astype(dtype)
    clean = cpu.activation_forward(x.reshape(1, -1), act).ravel()
    nan_at = np.arange(0, x.size, 7)
    bad = x.copy()
    bad[nan_at] = np.nan
    bad[nan_at[::2]] = -np.nan
    got = cpu.activation_forward(bad.reshape(1, -1), act).ravel()
    assert np.isnan(got[nan_at]).all()
    rest = np.ones(x.size, bool)
    rest[nan_at] = False
    np.testing.assert_array_equal(got[rest], clean[rest])
    if name in INF_LIMITS:
        inf = np.array([-np.inf, np.inf] * 20, dtype)   # 40: vector lanes and a tail
        got = cpu.activation_forward(inf.reshape(1, -1), act).ravel()
        np.testing.assert_allclose(got, INF_LIMITS[name] * 20, rtol=1e-6, atol=1e-37)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_row_with_nan_is_nan(kernel_isa, cpu, dtype, name):
    act = activations.get(name)
    x = (5 * np.random.default_rng(12).standard_normal((70, 37))).astype(dtype)
    clean = cpu.activation_forward(x, act)
    bad = x.copy()
    bad[2, 0] = bad[5, 20] = bad[69, 36] = np.nan     # first, middle and last column
    got = cpu.activation_forward(bad, act)
    nan_rows = np.zeros(len(x), bool)
    nan_rows[[2, 5, 69]] = True
    assert np.isnan(got[nan_rows]).all()
    np.testing.assert_array_equal(got[~nan_rows], clean[~nan_rows])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "silu", "elu", "gelu"])
def test_dense_with_a_nan_weight(kernel_isa, cpu, dtype, name):
    # the GEMM's epilogue applies the activation: a NaN weight makes its column NaN only
    act = activations.get(name)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((40, 30)).astype(dtype)
    w = rng.standard_normal((30, 45)).astype(dtype)
    b = rng.standard_normal(45).astype(dtype)
    clean = cpu.dense_forward(x, w, b, act)
    w[7, 33] = np.nan
    got = cpu.dense_forward(x, w, b, act)
    assert np.isnan(got[:, 33]).all()
    np.testing.assert_array_equal(np.delete(got, 33, axis=1), np.delete(clean, 33, axis=1))


def test_bias_grad_and_optimizers(kernel_isa, cpu, ref, dtype):
    rng = np.random.default_rng(8)
    dz = rng.standard_normal((301, 77)).astype(dtype)
    assert_close(cpu.bias_grad(dz), ref.bias_grad(dz), dtype,
                 np.abs(dz).astype(np.float64).sum(axis=0), len(dz))
    p0 = rng.standard_normal(1003).astype(dtype)
    g = rng.standard_normal(1003).astype(dtype)
    m0, v0 = 0.1 * g, np.abs(g) + 0.5
    for update in ("adam", "rmsprop"):
        p_c, p_r = p0.copy(), p0.copy()
        slots_c, slots_r = [m0.copy(), v0.copy()], [m0.copy(), v0.copy()]
        if update == "adam":
            cpu.adam_update(p_c, g, *slots_c, None, 0.01, 0.9, 0.999, 1e-7, 0.001)
            ref.adam_update(p_r, g, *slots_r, None, 0.01, 0.9, 0.999, 1e-7, 0.001)
        else:
            cpu.rmsprop_update(p_c, g, slots_c[1], None, None, 0.01, 0.9, 0.0, 1e-7, 0.0)
            ref.rmsprop_update(p_r, g, slots_r[1], None, None, 0.01, 0.9, 0.0, 1e-7, 0.0)
        assert_close(p_c, p_r, dtype)
        assert_close(slots_c[1], slots_r[1], dtype)
