"""Learning-rate schedules (Keras formulas), schedules inside optimizers, and gradient
clipping."""
import json
import math

import numpy as np
import pytest

import fastnn
from fastnn import optimizers, schedules
from fastnn.layers import Dense
from fastnn.models import Sequential


def test_exponential_decay():
    lr = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert lr(0) == 0.1
    assert lr(10) == pytest.approx(0.05)
    assert lr(15) == pytest.approx(0.1 * 0.5 ** 1.5)
    stairs = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert [stairs(s) for s in (0, 9, 10, 19, 20)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])


def test_piecewise_constant_decay_boundaries_are_inclusive():
    lr = schedules.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [lr(s) for s in (0, 100, 101, 200, 201, 10 ** 6)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="values"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="increasing"):
        schedules.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1])


def test_cosine_decay_without_and_with_warmup():
    lr = schedules.CosineDecay(0.2, decay_steps=100, alpha=0.1)
    assert lr(0) == pytest.approx(0.2)
    assert lr(50) == pytest.approx(0.2 * (0.9 * 0.5 + 0.1))
    assert lr(100) == pytest.approx(0.02) and lr(500) == pytest.approx(0.02)
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
    assert [warm(s) for s in (0, 1, 4)] == pytest.approx([0.0, 0.02, 0.08])
    assert warm(5) == pytest.approx(0.1)
    assert warm(10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert warm(15) == pytest.approx(0.0) and warm(99) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, decay_steps=0)


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 7, 0.9, staircase=True),
    schedules.PiecewiseConstantDecay([3, 8], [0.3, 0.2, 0.1]),
    schedules.CosineDecay(0.1, 20, alpha=0.05, warmup_target=0.2, warmup_steps=4)])
def test_serialize_and_get_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    clone = schedules.get(config)
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert [clone(s) for s in range(30)] == [schedule(s) for s in range(30)]


def test_get_rejects_unknown_and_plain_functions():
    with pytest.raises(ValueError, match="class_name"):
        schedules.get({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="schedule"):
        schedules.serialize(lambda step: 0.1)


def test_optimizer_accepts_and_serializes_a_schedule():
    lr = schedules.ExponentialDecay(0.1, 10, 0.5)
    for cls in (optimizers.SGD, optimizers.Adam, optimizers.RMSprop, optimizers.Nadam):
        opt = cls(learning_rate=lr)
        clone = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
        assert isinstance(clone._learning_rate, schedules.ExponentialDecay)
        clone.iterations = 20
        assert clone.learning_rate == pytest.approx(0.025)
    with pytest.raises(TypeError, match="schedule"):
        optimizers.SGD(learning_rate=lr).learning_rate = 0.5


def test_sgd_follows_the_schedule_step_by_step():
    """Full-batch SGD on a linear model: w_{t+1} = w_t - lr(t) * dL/dw, checked per step."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3))
    y = rng.normal(size=(16, 1))
    lr = schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01])
    with fastnn.use_backend("reference"):
        model = Sequential([Dense(1, use_bias=False, input_dim=3,
                                  kernel_initializer="zeros", dtype="float64")])
        model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="mse")
        w = np.zeros((3, 1))
        for step in range(6):
            model.train_on_batch(x, y)
            w = w - lr(step) * (2.0 / len(x)) * x.T @ (x @ w - y)
            np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-12, atol=1e-14)
        assert model.optimizer.iterations == 6


def _one_step(**clip):
    with fastnn.use_backend("reference"):
        params = [np.zeros(2), np.zeros(1)]
        grads = [np.array([3.0, 4.0]), np.array([12.0])]
        optimizers.SGD(learning_rate=1.0, **clip).apply(params, grads)
        return [-p for p in params]


def test_clipping_matches_keras():
    norm = _one_step(clipnorm=1.0)  # each gradient to norm <= 1 on its own
    np.testing.assert_allclose(norm[0], [0.6, 0.8])
    np.testing.assert_allclose(norm[1], [1.0])
    value = _one_step(clipvalue=3.5)
    np.testing.assert_allclose(value[0], [3.0, 3.5])
    np.testing.assert_allclose(value[1], [3.5])
    total = _one_step(global_clipnorm=6.5)  # the norm of all gradients together is 13
    np.testing.assert_allclose(total[0], [1.5, 2.0])
    np.testing.assert_allclose(total[1], [6.0])
    untouched = _one_step(clipnorm=100.0)
    np.testing.assert_allclose(untouched[0], [3.0, 4.0])
    with pytest.raises(ValueError, match="only one"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    config = optimizers.SGD(clipvalue=0.5).get_config()
    assert config["clipvalue"] == 0.5 and config["clipnorm"] is None
