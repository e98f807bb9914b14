"""Every kernel of every backend against the reference, in float32 and float64.

Shapes include 1, primes and sizes around the GEMM register tiles; inputs include
non-contiguous views where the interface accepts them.
"""
import inspect

import numpy as np
import pytest

from conftest import assert_close, through_activation
from fastnn import _codes, activations
from fastnn.backend.cpu import CpuBackend
from fastnn.backend.reference import (BCE, CCE, KERNELS, KLD, SIGMOID_BCE, SOFTMAX_CCE,
                                      ReferenceBackend)

SHAPES = [(1, 1, 1), (1, 7, 3), (13, 1, 17), (31, 37, 5), (64, 784, 128), (97, 33, 65),
          (8, 16, 48)]
ACTIVATIONS = [a.name for a in _codes.ACTIVATIONS]
ELEMENTWISE = [a.name for a in _codes.ELEMENTWISE]


def rand(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def test_backends_share_the_kernel_interface():
    """Same names, parameter order and defaults as the reference; cpu defines each itself."""
    for name in KERNELS:
        ref = inspect.signature(getattr(ReferenceBackend, name))
        cpu = inspect.signature(getattr(CpuBackend, name))
        assert list(ref.parameters) == list(cpu.parameters), name
        assert [p.default for p in ref.parameters.values()] == [
            p.default for p in cpu.parameters.values()], name
        assert name in CpuBackend.__dict__, f"cpu backend inherits {name} from the reference"


def test_cpu_backend_runs_compiled_code():
    from fastnn._kernels import compiled
    backend = CpuBackend()
    assert type(compiled).__name__ == "module" and compiled.__file__.endswith((".so", ".pyd"))
    assert (inspect.isbuiltin(compiled.gemm)
            or type(compiled.gemm).__name__ == "cython_function_or_method")
    # a compiled kernel rejects what NumPy would silently accept: a mismatched dtype
    x = np.ones((4, 4), np.float32)
    with pytest.raises((TypeError, ValueError)):
        backend.bias_grad(x, out=np.empty(4, np.float64))


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_matmul(backend, reference, dtype, m, k, n, ta, tb):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rand(rng, (k, m) if ta else (m, k), dtype)
    b = rand(rng, (n, k) if tb else (k, n), dtype)
    expected = reference.matmul(a, b, transpose_a=ta, transpose_b=tb)
    got = backend.matmul(backend.asarray(a), backend.asarray(b), transpose_a=ta, transpose_b=tb)
    terms = np.abs(a.T if ta else a).astype(np.float64) @ np.abs(b.T if tb else b)
    assert_close(got, expected, dtype, terms, k)


def _dense_terms(x, w, b, spec, z, y):
    """Per-element error terms of act(x w + b) (conftest.through_activation)."""
    terms = np.abs(x).astype(np.float64) @ np.abs(w) + (0 if b is None else np.abs(b))
    return through_activation(spec and spec.name, z, np.asarray(y, np.float64), terms)


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_forward(backend, reference, dtype, m, k, n, act):
    rng = np.random.default_rng(k)
    x, w, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype, 0.3), rand(rng, (n,), dtype)
    spec = activations.get(act)
    expected = reference.dense_forward(x, w, b, spec)
    z_out = backend.empty((m, n), dtype)
    got = backend.dense_forward(backend.asarray(x), backend.asarray(w), backend.asarray(b),
                                spec, preact=z_out)
    z = x.astype(np.float64) @ w + b
    assert_close(got, expected, dtype, _dense_terms(x, w, b, spec, z, expected), k + 1)
    assert_close(z_out, reference.matmul(x, w) + b, dtype, _dense_terms(x, w, b, None, z, z),
                 k + 1)
    expected = reference.dense_forward(x, w, None, spec)
    assert_close(backend.dense_forward(backend.asarray(x), backend.asarray(w), None, spec),
                 expected, dtype, _dense_terms(x, w, None, spec, z - b, expected), k)


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("act", ELEMENTWISE + ["softmax", None])
def test_dense_backward_input(backend, reference, dtype, m, k, n, act):
    rng = np.random.default_rng(n)
    dz, w = rand(rng, (m, n), dtype), rand(rng, (k, n), dtype)
    spec = None if act is None else activations.get(act)
    z = rand(rng, (m, k), dtype)
    saved = z if spec is None or spec.needs_z else reference.activation_forward(z, spec)
    expected = reference.dense_backward_input(dz, w, spec, saved)
    got = backend.dense_backward_input(backend.asarray(dz), backend.asarray(w), spec,
                                       backend.asarray(saved))
    # g = dz w^T, sums of n terms, then g * act'(saved): act' <= 2 (selu's 1.76) scales
    # g's error; softmax's y (g - sum_j g_j y_j) at most 3 y_i max_j (g_j's error terms)
    terms = np.abs(dz).astype(np.float64) @ np.abs(w).T
    if act == "softmax":
        terms = 3 * np.abs(saved) * terms.max(axis=1, keepdims=True)
    elif act is not None:
        terms = 2 * terms
    assert_close(got, expected, dtype, terms, n)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (257, 129), (1000, 70)])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_forward_backward(backend, reference, dtype, shape, act):
    rng = np.random.default_rng(shape[0])
    x = rand(rng, shape, dtype, 3.0)
    spec = activations.get(act)
    y_ref = reference.activation_forward(x, spec)
    assert_close(backend.activation_forward(backend.asarray(x), spec), y_ref, dtype)
    g = rand(rng, shape, dtype)
    saved = x if spec.needs_z else y_ref
    expected = reference.activation_backward(spec, g, saved)
    got = backend.activation_backward(spec, backend.asarray(g), backend.asarray(saved))
    assert_close(got, expected, dtype)


def test_activation_extremes_are_finite(backend, dtype):
    x = np.array([[-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4]], dtype=dtype)
    for act in ACTIVATIONS:
        y = backend.to_numpy(backend.activation_forward(backend.asarray(x), activations.get(act)))
        assert np.isfinite(y).all(), act


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (1000, 257)])
def test_bias_grad(backend, reference, dtype, shape):
    dz = rand(np.random.default_rng(1), shape, dtype)
    assert_close(backend.bias_grad(backend.asarray(dz)), reference.bias_grad(dz), dtype,
                 np.abs(dz).astype(np.float64).sum(axis=0), shape[0])


# (param, target kind) of the losses that need other than (0.0, "real"); every loss of the
# table is tested
_LOSS_INPUTS = {"HUBER": (0.7, "real"), "BCE": (0.0, "prob"), "CCE": (0.0, "onehot"),
                "HINGE": (0.0, "sign"), "KLD": (0.0, "dist"), "SOFTMAX_CCE": (0.0, "onehot"),
                "SIGMOID_BCE": (0.0, "binary"), "POISSON": (0.0, "prob"),
                "FOCAL_BCE": ((2.0, 0.3, 1.0), "prob"),
                "SIGMOID_FOCAL_BCE": ((2.0, 0.3, 1.0), "binary"),
                "FOCAL_CCE": ((2.0, 0.25), "onehot"),
                "SOFTMAX_FOCAL_CCE": ((2.5, 0.5), "onehot")}
LOSS_CASES = [(loss.code, *_LOSS_INPUTS.get(loss.name, (0.0, "real")))
              for loss in _codes.LOSSES]


def _loss_inputs(rng, kind, target_kind, n, c, dtype):
    z = rand(rng, (n, c), dtype, 2.0)
    if kind in (BCE, _codes.LOSS_CODES["FOCAL_BCE"]):
        pred = (1 / (1 + np.exp(-z))).astype(dtype)
    elif kind in (CCE, KLD, _codes.LOSS_CODES["FOCAL_CCE"]):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        pred = (e / e.sum(axis=1, keepdims=True)).astype(dtype)
    elif kind == _codes.LOSS_CODES["POISSON"]:   # a rate: log(pred + eps) needs pred > 0
        pred = (np.abs(z) + 0.01).astype(dtype)
    else:
        pred = z
    labels = rng.integers(0, c, n)
    target = {"real": rand(rng, (n, c), dtype), "prob": rng.random((n, c)).astype(dtype),
              "onehot": np.eye(c, dtype=dtype)[labels],
              "sign": np.where(rng.random((n, c)) > 0.5, 1.0, -1.0).astype(dtype),
              "dist": pred[rng.permutation(n)].copy(),
              "binary": (rng.random((n, c)) > 0.5).astype(dtype)}[target_kind]
    return pred, target, labels


@pytest.mark.parametrize("kind,param,target_kind", LOSS_CASES)
@pytest.mark.parametrize("n,c", [(1, 1), (7, 3), (129, 10)])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_grad(backend, reference, dtype, kind, param, target_kind, n, c, weighted):
    if c == 1 and kind in (CCE, SOFTMAX_CCE, KLD):
        c = 2
    rng = np.random.default_rng(n * c + kind)
    pred, target, labels = _loss_inputs(rng, kind, target_kind, n, c, dtype)
    w = rng.random(n).astype(dtype) if weighted else None
    g_ref = np.empty_like(pred)
    l_ref = reference.loss_grad(kind, param, pred, target, w, g_ref)
    g = backend.empty(pred.shape, dtype)
    loss = backend.loss_grad(kind, param, backend.asarray(pred), backend.asarray(target),
                             None if w is None else backend.asarray(w), g)
    assert loss == pytest.approx(l_ref, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert_close(g, g_ref, dtype)
    if kind in (CCE, SOFTMAX_CCE):  # integer labels give the same as one-hot rows
        g2 = backend.empty(pred.shape, dtype)
        sparse = backend.loss_grad(kind, param, backend.asarray(pred),
                                   backend.asarray(labels.astype(np.int64)),
                                   None if w is None else backend.asarray(w), g2)
        assert sparse == pytest.approx(l_ref, rel=1e-5 if dtype == np.float32 else 1e-12)
        assert_close(g2, g_ref, dtype)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 200])
@pytest.mark.parametrize("sparse", [True, False])
def test_compiled_softmax_cce_in_blocks(dtype, n, sparse):
    # with a gradient the exps go in blocks of rows through the vectorised exp_rows; the
    # loss alone keeps the row-by-row loop: the same bits in float64, float rounding in
    # float32, and the same bits at any thread count
    from fastnn._kernels import compiled
    rng = np.random.default_rng(n)
    z = (rng.standard_normal((n, 10)) * 8).astype(dtype)
    labels = rng.integers(0, 10, n).astype(np.int64)
    target = labels if sparse else np.eye(10, dtype=dtype)[labels]
    call = compiled.loss_grad_sparse if sparse else (
        lambda k, *a: compiled.loss_grad(k, 0.0, *a))
    rows = np.empty(n)
    alone = call(SOFTMAX_CCE, z, target, None, None, rows, 1)
    g1, g2 = np.empty_like(z), np.empty_like(z)
    with_grad = call(SOFTMAX_CCE, z, target, None, g1, rows, 1)
    if dtype == np.float64:
        assert with_grad == alone
    else:
        assert with_grad == pytest.approx(alone, rel=1e-6)
    assert call(SOFTMAX_CCE, z, target, None, g2, rows, 2) == with_grad
    np.testing.assert_array_equal(g2, g1)
    p = np.exp(z - z.max(axis=1, keepdims=True).astype(np.float64))
    expect = (p / p.sum(axis=1, keepdims=True) - np.eye(10)[labels]) / n
    np.testing.assert_allclose(g1, expect, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-8 if dtype == np.float32 else 1e-15)


def test_fused_losses_are_stable_for_any_logit(backend, dtype):
    z = np.array([[1e4, -1e4, 0.0], [-3e3, 3e3, 1.0]], dtype=dtype)
    g = backend.empty(z.shape, dtype)
    loss = backend.loss_grad(SOFTMAX_CCE, 0.0, backend.asarray(z),
                             backend.asarray(np.array([1, 1], np.int64)), None, g)
    assert loss == pytest.approx(2e4 / 2, rel=1e-6)
    np.testing.assert_allclose(backend.to_numpy(g), [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-6)
    loss = backend.loss_grad(SIGMOID_BCE, 0.0, backend.asarray(z), backend.asarray(
        np.array([[0, 1, 1], [1, 0, 0]], dtype)), None, g)
    assert np.isfinite(loss) and np.isfinite(backend.to_numpy(g)).all()


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (33, 1000), (128, 128)])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_dropout_masks_match_the_reference_exactly(backend, reference, dtype, shape, rate):
    x = rand(np.random.default_rng(0), shape, dtype)
    mask_ref = np.empty(shape, np.uint8)
    y_ref = reference.dropout(x, rate, 12345, 7, 3, mask=mask_ref)
    mask = backend.empty(shape, np.uint8)
    y = backend.dropout(backend.asarray(x), rate, 12345, 7, 3, mask=mask)
    np.testing.assert_array_equal(backend.to_numpy(mask), mask_ref)
    assert_close(y, y_ref, dtype)
    g = rand(np.random.default_rng(1), shape, dtype)
    assert_close(backend.dropout_backward(backend.asarray(g), mask, rate),
                 reference.dropout_backward(g, mask_ref, rate), dtype)
    if x.size >= 10000:  # the kept fraction is 1 - rate
        assert abs(mask_ref.mean() - (1 - rate)) < 0.02


def test_dropout_mask_depends_on_seed_layer_and_step(reference):
    x = np.ones((64, 64))
    masks = [reference.dropout(x, 0.5, s, t, l) != 0 for s, t, l in
             [(1, 0, 0), (2, 0, 0), (1, 1, 0), (1, 0, 1)]]
    for other in masks[1:]:
        assert (masks[0] != other).mean() > 0.3


def test_take_rows(backend, reference, dtype):
    x = rand(np.random.default_rng(0), (50, 13), dtype)
    idx = np.random.default_rng(1).permutation(50)[:17].astype(np.int64)
    assert_close(backend.take_rows(backend.asarray(x), backend.asarray(idx)),
                 reference.take_rows(x, idx), dtype)


OPTIMIZER_CALLS = {
    "sgd": lambda be, p, g, s: be.sgd_update(p, g, None, 0.1, 0.0, False, 0.0),
    "sgd_momentum": lambda be, p, g, s: be.sgd_update(p, g, s[0], 0.1, 0.9, False, 0.01),
    "sgd_nesterov": lambda be, p, g, s: be.sgd_update(p, g, s[0], 0.1, 0.9, True, 0.0),
    "adam": lambda be, p, g, s: be.adam_update(p, g, s[0], s[1], None, 0.01, 0.9, 0.999,
                                               1e-7, 0.0),
    "adamw_amsgrad": lambda be, p, g, s: be.adam_update(p, g, s[0], s[1], s[2], 0.01, 0.9,
                                                        0.999, 1e-7, 0.004),
    "rmsprop": lambda be, p, g, s: be.rmsprop_update(p, g, s[0], None, None, 0.01, 0.9, 0.0,
                                                     1e-7, 0.0),
    "rmsprop_centered_momentum": lambda be, p, g, s: be.rmsprop_update(
        p, g, s[0], s[1], s[2], 0.01, 0.9, 0.5, 1e-7, 0.0),
    "adagrad": lambda be, p, g, s: be.adagrad_update(p, g, s[0], 0.01, 1e-7, 0.0),
    "adamax": lambda be, p, g, s: be.adamax_update(p, g, s[0], s[1], 0.01, 0.9, 0.999, 1e-7,
                                                   0.0),
    "nadam": lambda be, p, g, s: be.nadam_update(p, g, s[0], s[1], 0.01, 0.9, 0.999, 1e-7,
                                                 0.3, 0.2, 1.5, 0.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CALLS))
@pytest.mark.parametrize("shape", [(1,), (7, 3), (300, 129)])
def test_optimizer_updates(backend, reference, dtype, name, shape):
    rng = np.random.default_rng(len(shape))
    p0 = rand(rng, shape, dtype)
    # plausible optimizer state: a centered RMSprop's mean gradient^2 stays below its velocity
    slots0 = [np.abs(rand(rng, shape, dtype)) + 0.5, 0.1 * np.abs(rand(rng, shape, dtype)),
              np.abs(rand(rng, shape, dtype))]
    p_ref, slots_ref = p0.copy(), [s.copy() for s in slots0]
    p, slots = backend.asarray(p0.copy()), [backend.asarray(s.copy()) for s in slots0]
    for step in range(3):
        g = rand(rng, shape, dtype)
        OPTIMIZER_CALLS[name](reference, p_ref, g, slots_ref)
        OPTIMIZER_CALLS[name](backend, p, backend.asarray(g), slots)
    assert_close(p, p_ref, dtype)
    for s, s_ref in zip(slots, slots_ref):
        assert_close(s, s_ref, dtype)


@pytest.mark.parametrize("dtype_", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(set(OPTIMIZER_CALLS) - {"sgd", "adagrad"}))
def test_optimizer_slots_flush_subnormals(name, dtype_):
    """A slot decaying under a zero gradient leaves the subnormal range as 0 (subnormal
    arithmetic is many times slower), and the caller's floating-point mode is restored."""
    tiny = np.finfo(dtype_).tiny
    p, p_ref = np.ones(100, dtype_), np.ones(100, dtype_)
    slots = [np.full(100, tiny / 4, dtype_) for _ in range(3)]
    slots_ref = [s.copy() for s in slots]
    assert (slots[0] != 0).all()
    OPTIMIZER_CALLS[name](CpuBackend(), p, np.zeros(100, dtype_), slots)
    OPTIMIZER_CALLS[name](ReferenceBackend(), p_ref, np.zeros(100, dtype_), slots_ref)
    decaying = [s for s, s_ref in zip(slots, slots_ref) if (s_ref != tiny / 4).any()]
    assert decaying
    for s in decaying:
        assert ((s == 0) | (np.abs(s) >= tiny)).all(), "a subnormal slot value survived"
    assert_close(p, p_ref, dtype_)
    assert dtype_(tiny) / dtype_(4) != 0, "the kernel left subnormals flushed"
