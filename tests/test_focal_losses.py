"""BinaryFocalCrossentropy and CategoricalFocalCrossentropy (and their functions and string
names) against tests/golden/focal.npz, written by Keras 3 itself
(tests/golden/make_keras_focal_goldens.py), on the reference and the compiled cpu backend;
their gradients by finite differences in float64; the compiled training step, fused with
a sigmoid or softmax last layer, and bit-identical at any thread count.

Tolerances, as tests/test_keras_golden.py: float64 within 1e-12 of each element, plus 16
float64 ulps of the row's largest gradient where the gradient is a difference of the
row's terms (categorical: h_k - sum_j h_j p_j; binary from saturated logits, where
Keras' sigmoid' rounds to 0); float32 within 4 times Keras' own float32 error.
"""
import json

import numpy as np
import pytest

import fastnn
from fastnn import losses, optimizers
from fastnn.backend import get_backend
from fastnn.backend.compiled_executor import why_not_compiled
from fastnn.layers import Dense
from fastnn.models import Sequential
from numeric_gradient import central_differences
from test_keras_golden import (BACKENDS, EPS64, assert_loss_golden,
                               assert_reduction_golden, assert_rel64, load,
                               loss_function_golden, loss_value_grad, sgd_step_move)

GOLD = load("focal.npz")
PARAMS = json.loads(str(GOLD["params"]))
CASES = PARAMS["losses"]
CPU = BACKENDS[-1]


def _loss(case, **extra):
    cls, kwargs = CASES[case][:2]
    return getattr(losses, cls)(**kwargs, **extra)


def _row_tol(case, want, eps=EPS64):
    """16 ulps of each row's largest gradient where the gradient cancels (docstring)."""
    row = np.abs(want).max(axis=1, keepdims=True)
    if CASES[case][0] == "BinaryFocalCrossentropy":
        saturated = np.abs(GOLD[f"{case}/y_pred"]) >= 30 if "logits" in case else False
        return np.where(saturated, 16 * eps * row, 0.0)
    return 16 * eps * row


def _value_grad(case, dtype, weighted):
    return loss_value_grad(_loss(case), GOLD, case, dtype, weighted)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(CASES))
def test_focal_keras3(on_backend, case, weighted, dtype):
    value, grad = _value_grad(case, dtype, weighted)
    want = GOLD[f"{case}/{'w_' if weighted else ''}grad"]
    assert_loss_golden(GOLD, case, weighted, dtype, value, grad,
                       extra_tol=_row_tol(case, want, float(np.finfo(dtype).eps)))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(CASES))
def test_focal_gradient_of_the_compiled_training_step(case, weighted):
    """One SGD step (lr 1) of a bias-free linear Dense layer on the identity input, whose
    output is y_pred: the weights move by exactly Keras' gradient (the compiled step)."""
    with fastnn.use_backend(CPU):
        step, model = sgd_step_move(_loss(case), GOLD, case, weighted)
        assert CPU != "cpu" or why_not_compiled(model.program) is None
    want = GOLD[f"{case}/{'w_' if weighted else ''}grad"]
    assert_rel64(step, want, f"{case} step", extra_tol=4 * EPS64 * np.abs(
        GOLD[f"{case}/y_pred"]) + _row_tol(case, want))


@pytest.mark.parametrize("reduction", PARAMS["reductions"])
@pytest.mark.parametrize("case", PARAMS["reduction_cases"])
def test_focal_reduction_keras3(on_backend, case, reduction):
    assert_reduction_golden(_loss(case, reduction=reduction), GOLD, case, reduction)


@pytest.mark.parametrize("name", list(PARAMS["functions"]))
def test_focal_function_keras3(on_backend, name):
    got, want = loss_function_golden(GOLD, PARAMS["functions"], name)
    assert_rel64(got, want, name)


# ------------------------------------------------------------------ kernels
FOCAL_BCE, SIGMOID_FOCAL_BCE, FOCAL_CCE, SOFTMAX_FOCAL_CCE = (
    fastnn._codes.LOSS_CODES[name] for name in (
        "FOCAL_BCE", "SIGMOID_FOCAL_BCE", "FOCAL_CCE", "SOFTMAX_FOCAL_CCE"))
KERNELS = {  # kind: (params, the prediction's kind)
    "bce": (FOCAL_BCE, (2.0, 0.3, 1.0), "prob"),
    "bce_g0.5": (FOCAL_BCE, (0.5, 0.25, 0.0), "prob"),
    "sigmoid_bce": (SIGMOID_FOCAL_BCE, (3.0, 0.6, 1.0), "logits"),
    "cce": (FOCAL_CCE, (2.0, 0.25), "prob"),
    "cce_alphas": (FOCAL_CCE, (1.5, 0.1, 0.5, 0.2, 0.9), "prob"),
    "softmax_cce": (SOFTMAX_FOCAL_CCE, (2.5, 0.4, 1.0, 0.3, 0.8), "logits"),
}


def _kernel_inputs(name, n=6, c=4, seed=0):
    kind, params, pred_kind = KERNELS[name]
    rng = np.random.default_rng(seed)
    pred = (rng.uniform(0.05, 0.95, (n, c)) if pred_kind == "prob"
            else rng.standard_normal((n, c)) * 2)
    target = (rng.random((n, c)) if kind in (FOCAL_BCE, SIGMOID_FOCAL_BCE)
              else np.eye(c)[rng.integers(0, c, n)] * 0.8 + 0.05)
    return kind, params, pred, target, rng.random(n) + 0.5


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("name", list(KERNELS))
def test_focal_kernel_gradient_by_finite_differences(backend_name, name):
    kind, params, pred, target, w = _kernel_inputs(name)
    with fastnn.use_backend(backend_name):
        backend = get_backend()
        grad = np.empty_like(pred)
        backend.loss_grad(kind, params, pred, target, w, grad)
        numeric = central_differences(
            lambda v: backend.loss_grad(kind, params, v, target, w), pred)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(KERNELS))
def test_focal_kernel_cpu_matches_reference(name, dtype):
    if CPU != "cpu":
        pytest.skip("the compiled cpu backend is not built here")
    kind, params, pred, target, w = _kernel_inputs(name, n=129, c=5 if "alphas" not in name
                                                   and "softmax" not in name else 4)
    pred, target, w = pred.astype(dtype), target.astype(dtype), w.astype(dtype)
    out = {}
    for backend_name in ("reference", "cpu"):
        with fastnn.use_backend(backend_name):
            grad = np.empty_like(pred)
            rows = np.empty(len(pred))
            value = get_backend().loss_grad(kind, params, pred, target, w, grad, rows)
            out[backend_name] = (value, grad, rows)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out["cpu"][0], out["reference"][0], rtol=tol)
    np.testing.assert_allclose(out["cpu"][1], out["reference"][1], rtol=tol,
                               atol=tol * np.abs(out["reference"][1]).max())
    np.testing.assert_allclose(out["cpu"][2], out["reference"][2], rtol=tol)


@pytest.mark.parametrize("name", list(KERNELS))
def test_focal_kernel_bits_do_not_depend_on_threads(name):
    if CPU != "cpu":
        pytest.skip("the compiled cpu backend is not built here")
    kind, params, pred, target, w = _kernel_inputs(name, n=5000, c=4)
    results = []
    with fastnn.use_backend("cpu"):
        for n_threads in (1, 2, 3):
            with fastnn.threads(n_threads):
                grad = np.empty_like(pred)
                results.append((get_backend().loss_grad(kind, params, pred, target, w, grad),
                                grad))
    for value, grad in results[1:]:
        assert value == results[0][0]
        assert np.array_equal(grad, results[0][1])


def test_focal_kernel_refuses_a_wrong_parameter_vector():
    if CPU != "cpu":
        pytest.skip("the compiled cpu backend is not built here")
    pred, target = np.full((2, 3), 0.3), np.full((2, 3), 0.5)
    with fastnn.use_backend("cpu"):
        backend = get_backend()
        with pytest.raises(ValueError, match="gamma, alpha, apply_class_balancing"):
            backend.loss_grad(FOCAL_BCE, 2.0, pred, target)
        with pytest.raises(ValueError, match="one alpha per class"):
            backend.loss_grad(FOCAL_CCE, (2.0, 0.1, 0.2), pred, target)


# ------------------------------------------------------------------ training
def _data(kind, n=64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5))
    if kind == "binary":
        return x, (x[:, :2] + 0.3 * rng.standard_normal((n, 2)) > 0).astype(np.float64)
    return x, np.eye(3)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]


def _trained(loss, activation, kind, backend_name, n_threads=1, epochs=3):
    x, y = _data(kind)
    with fastnn.use_backend(backend_name), fastnn.threads(n_threads):
        fastnn.utils.set_random_seed(3)
        model = Sequential([Dense(8, activation="tanh", input_dim=5, dtype="float64"),
                            Dense(y.shape[1], activation=activation, dtype="float64")])
        model.compile(optimizer=optimizers.Adam(0.01), loss=loss)
        history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=False)
        return model, history.history["loss"]


FITS = {  # name: (loss, last activation, targets)
    "bfocal_sigmoid": (lambda: losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.3, gamma=2.0, label_smoothing=0.1),
        "sigmoid", "binary"),
    "bfocal_logits": (lambda: losses.BinaryFocalCrossentropy(gamma=1.5, from_logits=True),
                      None, "binary"),
    "bfocal_by_name": (lambda: "binary_focal_crossentropy", "sigmoid", "binary"),
    "cfocal_softmax": (lambda: losses.CategoricalFocalCrossentropy(
        alpha=[0.2, 0.5, 0.3], gamma=2.0), "softmax", "categorical"),
    "cfocal_logits": (lambda: losses.CategoricalFocalCrossentropy(
        gamma=3.0, from_logits=True, label_smoothing=0.2), None, "categorical"),
    "cfocal_by_name": (lambda: "categorical_focal_crossentropy", "softmax", "categorical"),
}


@pytest.mark.parametrize("name", list(FITS))
def test_focal_fit_compiled_matches_the_reference(name):
    """fit on the cpu backend's compiled step (fused with the sigmoid / softmax last
    layer) gives the reference backend's losses and weights."""
    if CPU != "cpu":
        pytest.skip("the compiled cpu backend is not built here")
    loss, activation, kind = FITS[name]
    cpu_model, cpu_losses = _trained(loss(), activation, kind, "cpu")
    assert why_not_compiled(cpu_model.program) is None
    assert cpu_model.program.fused == (activation is not None)
    ref_model, ref_losses = _trained(loss(), activation, kind, "reference")
    np.testing.assert_allclose(cpu_losses, ref_losses, rtol=1e-11)
    for a, b in zip(cpu_model.get_weights(), ref_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert cpu_losses[-1] < cpu_losses[0]


@pytest.mark.parametrize("name", ["bfocal_sigmoid", "cfocal_softmax", "cfocal_logits"])
def test_focal_fit_bits_do_not_depend_on_threads(name):
    if CPU != "cpu":
        pytest.skip("the compiled cpu backend is not built here")
    loss, activation, kind = FITS[name]
    one, losses1 = _trained(loss(), activation, kind, "cpu", n_threads=1)
    two, losses2 = _trained(loss(), activation, kind, "cpu", n_threads=2)
    assert losses1 == losses2
    for a, b in zip(one.get_weights(), two.get_weights()):
        assert np.array_equal(a, b)


def test_focal_evaluate_is_the_keras_loss_of_predict():
    """evaluate (fused with the softmax) = the loss object applied to predict's output."""
    loss, activation, kind = FITS["cfocal_softmax"]
    model, _ = _trained(loss(), activation, kind, CPU, epochs=1)
    x, y = _data(kind)
    with fastnn.use_backend(CPU):
        value = model.evaluate(x, y, verbose=0)
        want = loss()(y, model.predict(x, verbose=0))
    assert value == pytest.approx(want, rel=1e-9)


# ------------------------------------------------------------------ surface
@pytest.mark.parametrize("cls, kwargs", [
    (losses.BinaryFocalCrossentropy, {"apply_class_balancing": True, "alpha": 0.4,
                                      "gamma": 1.0, "from_logits": True,
                                      "label_smoothing": 0.1}),
    (losses.CategoricalFocalCrossentropy, {"alpha": [0.1, 0.9], "gamma": 0.0}),
    (losses.CategoricalFocalCrossentropy, {"alpha": 0.5, "label_smoothing": 0.2}),
])
def test_focal_config_round_trip(cls, kwargs):
    loss = cls(**kwargs)
    config = loss.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    again = losses.get(json.loads(json.dumps(losses.serialize(loss))))
    assert type(again) is cls and again.get_config() == config


def test_focal_names_and_defaults_are_keras():
    b = losses.get("binary_focal_crossentropy")
    assert isinstance(b, losses.BinaryFocalCrossentropy)
    assert b.get_config() == {
        "apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, "from_logits": False,
        "label_smoothing": 0.0, "axis": -1, "reduction": "sum_over_batch_size",
        "name": "binary_focal_crossentropy"}
    c = losses.get("CategoricalFocalCrossentropy")
    assert isinstance(c, losses.CategoricalFocalCrossentropy)
    assert (c.name, c.alpha, c.gamma) == ("categorical_focal_crossentropy", 0.25, 2.0)
    assert losses.get(losses.binary_focal_crossentropy).name == "binary_focal_crossentropy"
    assert "BinaryFocalCrossentropy" in losses.__all__
    assert "categorical_focal_crossentropy" in losses.__all__


def test_focal_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="gamma"):
        losses.BinaryFocalCrossentropy(gamma=-1.0)
    with pytest.raises(TypeError, match="alpha"):
        losses.BinaryFocalCrossentropy(alpha="x")
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CategoricalFocalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="axis"):
        losses.CategoricalFocalCrossentropy(axis=0)
    with pytest.raises(ValueError, match="alpha"):
        losses.CategoricalFocalCrossentropy(alpha=[])
    with pytest.raises(ValueError, match="one weight per class"):
        losses.CategoricalFocalCrossentropy(alpha=[0.5, 0.5])([[0, 0, 1]], [[0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.BinaryFocalCrossentropy()([[2.0]], [[0.5]])
