"""fastnn's Keras 3 schedules (InverseTimeDecay, PolynomialDecay, CosineDecayRestarts),
losses (msle, mape, log_cosh, poisson, cosine_similarity), label smoothing, reductions
and per-sample loss functions against tests/golden/losses3.npz, written by Keras 3 itself
(tests/golden/make_keras_loss_goldens.py), on the reference and the compiled cpu backend.

Tolerances, as tests/test_keras_golden.py: float64 within 1e-12 of each element; float32
within FLOAT32_FACTOR (4) times Keras' own float32 error plus two float32 ulps.
"""
import json

import numpy as np
import pytest

import fastnn
from fastnn import losses, optimizers, schedules
from fastnn.layers import Dense
from fastnn.models import Sequential
from test_keras_golden import (BACKENDS, EPS64, assert_loss_golden,
                               assert_reduction_golden, assert_rel64, load,
                               loss_function_golden, loss_value_grad, sgd_step_move)

GOLD = load("losses3.npz")
PARAMS = json.loads(str(GOLD["params"]))
LOSS_CASES = PARAMS["losses"]
SCHEDULE_CASES = PARAMS["schedules"]


def _loss_object(case, **extra):
    cls, kwargs = LOSS_CASES[case][:2]
    return getattr(losses, cls)(**kwargs, **extra)


# ------------------------------------------------------------------ schedules
@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_schedule_keras3(name):
    cls, kwargs = SCHEDULE_CASES[name]
    sched = getattr(schedules, cls)(**kwargs)
    got = [sched(step) for step in GOLD["schedule_steps"]]
    assert_rel64(got, GOLD[f"schedule/{name}"], name)
    again = schedules.get(json.loads(json.dumps(schedules.serialize(sched))))
    assert type(again) is type(sched) and again.get_config() == sched.get_config()


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_schedule_drives_the_compiled_step(name):
    """Full-batch SGD on a linear model (cpu backend, the compiled training step):
    w_{t+1} = w_t - lr(t) * dL/dw."""
    cls, kwargs = SCHEDULE_CASES[name]
    lr = getattr(schedules, cls)(**kwargs)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    with fastnn.use_backend(BACKENDS[-1]):
        model = Sequential([Dense(1, use_bias=False, input_dim=3,
                                  kernel_initializer="zeros", dtype="float64")])
        model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="mse")
        w = np.zeros((3, 1))
        for step in range(25):
            model.train_on_batch(x, y)
            w = w - lr(step) * (2.0 / len(x)) * x.T @ (x @ w - y)
        np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-11, atol=1e-14)


# ------------------------------------------------------------------ losses
def _value_grad(case, dtype, weighted):
    return loss_value_grad(_loss_object(case), GOLD, case, dtype, weighted)


def _cancellation(case, weighted):
    """4 ulps of the terms whose difference Keras' gradient forms, where it cancels: the
    Poisson gradient 1 - y / (p + eps) as p + eps nears y (fastnn forms it without the
    cancellation), and the cosine gradient (y/|y| - cos p/|p|) / |p| of (anti)parallel
    rows, 0 up to those ulps."""
    t, p = GOLD[f"{case}/y_true"], GOLD[f"{case}/y_pred"]
    n, c = p.shape
    w = (GOLD[f"{case}/sample_weight"] if weighted else np.ones(n))[:, None] / n
    if case == "poisson":
        return 4 * EPS64 * w * (1.0 + np.abs(t) / (p + 1e-7)) / c
    if case == "cosine":
        norm = lambda a: np.maximum(np.sqrt((a * a).sum(axis=1, keepdims=True)), 1e-7)
        return 4 * EPS64 * w * (np.abs(t) / norm(t) + np.abs(p) / norm(p)) / norm(p)
    return 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_keras3(on_backend, case, weighted, dtype):
    value, grad = _value_grad(case, dtype, weighted)
    # the cancellation's ulps are the dtype's
    ulps = float(np.finfo(dtype).eps) / EPS64
    assert_loss_golden(GOLD, case, weighted, dtype, value, grad,
                       extra_tol=_cancellation(case, weighted) * ulps)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_keras3_gradient_of_the_training_step(on_backend, case, weighted):
    """One SGD step (lr 1) of a bias-free Dense layer on the identity input, whose output
    is y_pred: the weights move by exactly the loss' gradient, smoothed targets and
    sample weights included (the compiled step on the cpu backend)."""
    step, _ = sgd_step_move(_loss_object(case), GOLD, case, weighted)
    want = GOLD[f"{case}/{'w_' if weighted else ''}grad"]
    assert_rel64(step, want, f"{case} step", extra_tol=4 * EPS64 * np.abs(
        GOLD[f"{case}/y_pred"]) + _cancellation(case, weighted))


def test_label_smoothing_is_keras_on_the_targets():
    bce = losses.BinaryCrossentropy(label_smoothing=0.2)
    np.testing.assert_allclose(bce.prepare_target([[0.0, 1.0]], 2, np.float64), [[0.1, 0.9]])
    cce = losses.CategoricalCrossentropy(label_smoothing=0.3)
    np.testing.assert_allclose(cce.prepare_target([[0.0, 1.0, 0.0]], 3, np.float64),
                               [[0.1, 0.8, 0.1]])
    for cls in (losses.BinaryCrossentropy, losses.CategoricalCrossentropy):
        config = cls(label_smoothing=0.25, from_logits=True).get_config()
        assert config["label_smoothing"] == 0.25
        assert cls(**config).get_config() == config
        with pytest.raises(ValueError, match="label_smoothing"):
            cls(label_smoothing=1.5)


# ------------------------------------------------------------------ reductions, functions
@pytest.mark.parametrize("reduction", PARAMS["reductions"])
@pytest.mark.parametrize("case", PARAMS["reduction_cases"])
def test_reduction_keras3(on_backend, case, reduction):
    loss = _loss_object(case, reduction=reduction)
    assert_reduction_golden(loss, GOLD, case, reduction)
    assert loss.get_config()["reduction"] == reduction


def test_reduction_none_is_per_sample_and_bad_ones_are_refused():
    got = losses.MeanSquaredError(reduction=None)([[1.0], [2.0]], [[0.0], [0.0]])
    assert got.shape == (2,) and got.tolist() == [1.0, 4.0]
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="reduction"):
        model.compile("sgd", losses.MeanSquaredError(reduction="sum"))
        model.train_on_batch(np.ones((2, 2)), np.ones((2, 1)))


@pytest.mark.parametrize("name", list(PARAMS["functions"]))
def test_loss_function_keras3(on_backend, name):
    got, want = loss_function_golden(GOLD, PARAMS["functions"], name)
    # KL divergence's row terms cancel (its values near 0): 1e-12 of the largest term
    extra = 1e-12 * np.abs(want).max() if name == "kl_divergence" else 0.0
    assert_rel64(got, want, name, extra_tol=extra)


@pytest.mark.parametrize("name", ["msle", "mape", "log_cosh", "logcosh", "poisson",
                                  "cosine_similarity", "mean_squared_logarithmic_error",
                                  "mean_absolute_percentage_error"])
def test_new_losses_by_name(name):
    loss = losses.get(name)
    again = losses.get(json.loads(json.dumps(losses.serialize(loss))))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
