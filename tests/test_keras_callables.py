"""Keras 3 call forms: activation functions with keyword arguments, a Sequential used as
a layer of another, and a user's own Loss subclass."""
import math

import numpy
import pytest

from fastnn import activations

X = numpy.array([-10.0, -5.0, 0.0, 5.0, 10.0])


def test_relu_keyword_arguments_match_keras():
    numpy.testing.assert_array_equal(activations.relu(X), [0, 0, 0, 5, 10])
    numpy.testing.assert_array_equal(activations.relu(X, negative_slope=0.5),
                                     [-5, -2.5, 0, 5, 10])
    numpy.testing.assert_array_equal(activations.relu(X, max_value=5.0), [0, 0, 0, 5, 5])
    numpy.testing.assert_array_equal(activations.relu(X, threshold=5.0), [0, 0, 0, 0, 10])
    # x above the threshold, clipped, minus slope * (threshold - x) below it
    numpy.testing.assert_array_equal(
        activations.relu(X, negative_slope=0.5, max_value=8.0, threshold=5.0),
        [-7.5, -5.0, -2.5, 0.0, 8.0])


def test_leaky_relu_elu_gelu_keyword_arguments():
    numpy.testing.assert_array_equal(activations.leaky_relu(X), [-2, -1, 0, 5, 10])
    numpy.testing.assert_array_equal(activations.leaky_relu(X, negative_slope=0.1),
                                     [-1, -0.5, 0, 5, 10])
    numpy.testing.assert_allclose(activations.elu(X, alpha=2.0),
                                  [2 * math.expm1(-10), 2 * math.expm1(-5), 0, 5, 10],
                                  rtol=1e-15)
    exact = [0.5 * v * math.erfc(-v / math.sqrt(2)) for v in X]
    approx = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
              for v in X]
    numpy.testing.assert_allclose(activations.gelu(X), exact, rtol=1e-14, atol=1e-300)
    numpy.testing.assert_allclose(activations.gelu(X, approximate=False), exact, rtol=1e-14,
                                  atol=1e-300)
    numpy.testing.assert_allclose(activations.gelu(X, approximate=True), approx, rtol=1e-14,
                                  atol=1e-300)
    assert activations.gelu(X, approximate=True)[3] != activations.gelu(X)[3]


def test_activation_strings_and_specs_unchanged():
    assert activations.get("relu") == activations.relu
    assert activations.get(activations.elu) is activations.elu
    assert activations.serialize(activations.leaky_relu) == "leaky_relu"
    with pytest.raises(TypeError, match="max_value"):
        activations.relu(X, max_value="big")


def _data(n=64, d=5, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1)))


def test_sequential_inside_sequential_trains_like_the_flat_model():
    from fastnn.layers import Dense, Input
    from fastnn.models import Sequential
    x, y = _data()
    inner = Sequential([Input(shape=(5,)), Dense(8, activation="relu"),
                        Dense(4, activation="tanh")])
    nested = Sequential([inner, Dense(1)])
    assert nested.layers[:2] == inner.layers and len(nested.layers) == 3
    assert nested.input_shape == (None, 5) and nested.output_shape == (None, 1)
    flat = Sequential([Input(shape=(5,)), Dense(8, activation="relu"),
                       Dense(4, activation="tanh"), Dense(1)])
    flat.set_weights(nested.get_weights())
    before = [w.copy() for w in inner.get_weights()]
    for model in (nested, flat):
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(nested.get_weights(), flat.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    # the inner model's weights are the trained ones
    for a, b, old in zip(inner.get_weights(), flat.get_weights()[:4], before):
        numpy.testing.assert_array_equal(a, b)
        assert not numpy.array_equal(a, old)
    numpy.testing.assert_array_equal(inner.predict(x, verbose=0),
                                     Sequential(flat.layers[:2]).predict(x, verbose=0))


def test_sequential_inside_sequential_refusals():
    from fastnn.layers import Dense
    from fastnn.models import Sequential
    with pytest.raises(ValueError, match="without layers"):
        Sequential([Sequential(), Dense(1)])
    inner = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="unique"):
        Sequential([inner, inner])


class WeightedSquaredError:
    """A hand-written mean squared error (the per-sample mean over the outputs)."""

    @staticmethod
    def call(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1)

    @staticmethod
    def gradient(y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.shape[-1]


def _my_loss_class():
    from fastnn import losses

    class MySquaredError(losses.Loss):
        def call(self, y_true, y_pred):
            return WeightedSquaredError.call(y_true, y_pred)

        def gradient(self, y_true, y_pred):
            return WeightedSquaredError.gradient(y_true, y_pred)

    return MySquaredError


def _trained(loss, x, y, **fit):
    from fastnn.layers import Dense, Input
    from fastnn.models import Sequential
    model = Sequential([Input(shape=(x.shape[1],), dtype="float64"), Dense(6, activation="tanh"),
                        Dense(y.shape[1])])
    model.set_weights([numpy.full(w.shape, 0.1) + 0.01 * numpy.arange(w.size).reshape(
        w.shape) for w in model.get_weights()])
    model.compile(optimizer="sgd", loss=loss)
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, **fit)
    return model, history.history["loss"]


@pytest.mark.parametrize("weighted", [False, True])
def test_custom_loss_subclass_trains_like_mse(weighted):
    from fastnn import losses
    x, y1 = _data(n=48)
    y = numpy.hstack([y1, -y1])
    fit = {"sample_weight": numpy.linspace(0.5, 2.0, len(x))} if weighted else {}
    loss = _my_loss_class()()
    assert loss.name == "my_squared_error"
    custom, custom_losses = _trained(loss, x, y, **fit)
    assert "MySquaredError" not in custom.executor.description
    assert "my_squared_error" in custom.executor.description
    reference, reference_losses = _trained("mse", x, y, **fit)
    for a, b in zip(custom.get_weights(), reference.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    numpy.testing.assert_allclose(custom_losses, reference_losses, rtol=1e-12)
    w = fit.get("sample_weight")
    pred = reference.predict(x, verbose=0)
    assert custom.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(
        reference.evaluate(x, y, sample_weight=w, verbose=0), rel=1e-12)
    # the loss object alone, with each reduction
    for reduction in ("sum_over_batch_size", "sum", "none", "mean_with_sample_weight"):
        mine = _my_loss_class()(reduction=reduction)(y, pred, sample_weight=w)
        keras = losses.MeanSquaredError(reduction=reduction)(y, pred, sample_weight=w)
        numpy.testing.assert_allclose(mine, keras, rtol=1e-12)


def test_custom_loss_function_with_gradient_attribute():
    x, y = _data(n=32)

    def squared(y_true, y_pred):
        return WeightedSquaredError.call(y_true, y_pred)

    squared.gradient = WeightedSquaredError.gradient
    custom, _ = _trained(squared, x, y)
    reference, _ = _trained("mse", x, y)
    for a, b in zip(custom.get_weights(), reference.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_custom_loss_without_gradient_is_explained():
    from fastnn import losses
    x, y = _data(n=16)

    def plain(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1)

    with pytest.raises(TypeError, match="gradient"):
        _trained(plain, x, y)

    class NoGradient(losses.Loss):
        def call(self, y_true, y_pred):
            return plain(y_true, y_pred)

    assert NoGradient()(y, y + 1.0) == pytest.approx(1.0)
    with pytest.raises(NotImplementedError, match="gradient"):
        _trained(NoGradient(), x, y)
    # Keras' own loss functions resolve to their classes
    assert isinstance(losses.get(losses.mean_squared_error), losses.MeanSquaredError)
