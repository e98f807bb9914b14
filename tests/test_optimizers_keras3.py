"""Adadelta, Lion and Ftrl, and every optimizer's use_ema / ema_momentum /
ema_overwrite_frequency and gradient_accumulation_steps, against Keras 3: 20 steps of
the goldens of tests/golden/make_keras_optimizer_goldens.py (optimizers3.npz), on the
reference and cpu backends, in float64 and float32; the arguments Keras refuses; and
fit with these options (layer by layer, the EMA weights at the end)."""
import json

import numpy as np
import pytest

import fastnn
from fastnn import layers, models, optimizers, schedules
from fastnn.backend import get_backend
from test_keras_golden import EPS32, assert_float32, assert_rel64, load

OPT3 = load("optimizers3.npz")
_PARAMS = json.loads(str(OPT3["params"]))
CASES = _PARAMS["optimizers"]
SCHEDULES = _PARAMS["schedules"]


def _optimizer(case):
    cls, kwargs = CASES[case]
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        name, sched_kwargs = SCHEDULES[kwargs["learning_rate"]["schedule"]]
        kwargs["learning_rate"] = getattr(schedules, name)(**sched_kwargs)
    return getattr(optimizers, cls)(**kwargs)


def _run(case, dtype):
    """The weights (and moving averages) after each of the 20 steps, and the weights
    finalize_variable_values leaves."""
    opt = _optimizer(case)
    backend = get_backend()
    w = backend.asarray(OPT3["w0"].astype(dtype).copy())
    b = backend.asarray(OPT3["b0"].astype(dtype).copy())
    got = {"w": [], "b": [], "ema_w": [], "ema_b": []}
    for gw, gb in zip(OPT3["grad_w"], OPT3["grad_b"]):
        opt.apply([w, b], [backend.asarray(gw.astype(dtype)), backend.asarray(gb.astype(dtype))])
        got["w"].append(backend.to_numpy(w).copy())
        got["b"].append(backend.to_numpy(b).copy())
        if opt.use_ema:
            got["ema_w"].append(backend.to_numpy(opt._slots[0]["average"]).copy())
            got["ema_b"].append(backend.to_numpy(opt._slots[1]["average"]).copy())
    if opt.use_ema:
        opt.finalize_variable_values([w, b])
        got["final_w"], got["final_b"] = backend.to_numpy(w).copy(), backend.to_numpy(b).copy()
    return {k: np.array(v) for k, v in got.items() if len(v)}


@pytest.mark.parametrize("case", list(CASES))
def test_optimizer_float64(on_backend, case):
    got = _run(case, np.float64)
    for key, values in got.items():
        assert_rel64(values, OPT3[f"{case}/{key}"], f"{case} {key}", extra_tol=1e-14,
                     rtol=1e-11)


@pytest.mark.parametrize("case", list(CASES))
def test_optimizer_float32(on_backend, case):
    got = _run(case, np.float32)
    for key, values in got.items():
        assert_float32(values, OPT3[f"{case}/{key}32"], OPT3[f"{case}/{key}"],
                       f"{case} {key} float32", extra_tol=EPS32)


def test_keras_defaults_and_config_round_trip():
    assert (optimizers.Adadelta().learning_rate, optimizers.Adadelta().rho,
            optimizers.Adadelta().epsilon) == (0.001, 0.95, 1e-7)
    lion = optimizers.Lion()
    assert (lion.learning_rate, lion.beta_1, lion.beta_2) == (0.001, 0.9, 0.99)
    ftrl = optimizers.Ftrl()
    assert ftrl.get_config() | {} == ftrl.get_config()
    assert (ftrl.learning_rate_power, ftrl.initial_accumulator_value, ftrl.beta) == (
        -0.5, 0.1, 0.0)
    opt = optimizers.Adam()
    assert (opt.use_ema, opt.ema_momentum, opt.ema_overwrite_frequency,
            opt.gradient_accumulation_steps) == (False, 0.99, None, None)
    for name in ("adadelta", "lion", "ftrl"):
        opt = optimizers.get(name)
        again = type(opt).from_config(opt.get_config())
        assert again.get_config() == opt.get_config()
    opt = optimizers.Ftrl(use_ema=True, ema_overwrite_frequency=2,
                          gradient_accumulation_steps=3, l1_regularization_strength=0.1)
    assert optimizers.Ftrl.from_config(opt.get_config()).get_config() == opt.get_config()


@pytest.mark.parametrize("make", [
    lambda: optimizers.Lion(beta_1=0.0),
    lambda: optimizers.Lion(beta_1=1.5),
    lambda: optimizers.Ftrl(learning_rate_power=0.5),
    lambda: optimizers.Ftrl(initial_accumulator_value=-1.0),
    lambda: optimizers.Ftrl(l1_regularization_strength=-0.1),
    lambda: optimizers.Ftrl(l2_shrinkage_regularization_strength=-0.1),
    lambda: optimizers.SGD(use_ema=True, ema_momentum=1.5),
    lambda: optimizers.SGD(use_ema=True, ema_overwrite_frequency=0),
    lambda: optimizers.Adam(gradient_accumulation_steps=1),
    lambda: optimizers.Adam(gradient_accumulation_steps=2.5),
])
def test_arguments_keras_refuses(make):
    with pytest.raises(ValueError):
        make()


def _fit(optimizer, backend, epochs=3):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((48, 5)), rng.standard_normal((48, 2))
    with fastnn.use_backend(backend):
        fastnn.utils.set_random_seed(2)
        model = models.Sequential([layers.Input((5,)), layers.Dense(6, activation="tanh"),
                                   layers.Dense(2)])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
        return model, [np.array(w) for w in model.get_weights()]


def test_fit_with_ema_ends_on_the_averages_and_runs_layer_by_layer():
    opt = optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9)
    model, weights = _fit(opt, "cpu")
    assert "use_ema" in model._training_executor().description
    averages = [np.asarray(s["average"]) for s in opt._slots]
    params = model._training_executor().program.params
    for p, a in zip(params, averages):
        np.testing.assert_array_equal(np.asarray(p), a)
    _, reference = _fit(optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9), "reference")
    for a, b in zip(weights, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_accumulating_gradients_matches_the_reference_backend():
    opt = optimizers.SGD(0.05, momentum=0.5, gradient_accumulation_steps=3)
    _, cpu = _fit(opt, "cpu")
    assert opt.iterations == 3 * 6 // 3 and opt._micro_steps == 18
    _, ref = _fit(optimizers.SGD(0.05, momentum=0.5, gradient_accumulation_steps=3),
                  "reference")
    for a, b in zip(cpu, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
