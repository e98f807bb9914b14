"""keras.Input / layers.InputLayer opening a Sequential, as Keras 3 programs write it."""
import numpy
import pytest

import fastnn
from fastnn import layers, models


def test_input_opens_a_sequential_like_input_shape():
    fastnn.utils.set_random_seed(0)
    a = fastnn.Sequential([fastnn.Input(shape=(6,)), layers.Dense(4, activation="relu"),
                           layers.Dense(2)])
    fastnn.utils.set_random_seed(0)
    b = fastnn.Sequential([layers.Dense(4, activation="relu", input_shape=(6,)),
                           layers.Dense(2)])
    assert a.built and a.input_shape == (None, 6) and a.output_shape == (None, 2)
    assert [l.name for l in a.layers] == [l.name for l in a.layers if l.weights]  # no input
    for u, v in zip(a.get_weights(), b.get_weights()):
        numpy.testing.assert_array_equal(u, v)
    x = numpy.random.default_rng(1).random((32, 6))
    y = x.sum(axis=1, keepdims=True).repeat(2, axis=1)
    for m in (a, b):
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for u, v in zip(a.get_weights(), b.get_weights()):
        numpy.testing.assert_array_equal(u, v)


def test_input_layer_with_add_batch_shape_and_dtype():
    model = models.Sequential()
    model.add(layers.InputLayer(shape=(4,), dtype="float64"))
    model.add(layers.Dense(3))
    assert model.get_weights()[0].dtype == numpy.float64
    images = models.Sequential([layers.Input(batch_shape=(None, 28, 28)), layers.Flatten(),
                                layers.Dense(5)])
    assert images.output_shape == (None, 5)
    assert layers.Input(shape=(3,), batch_size=16).shape == (16, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "`shape` must be given"),
    ({"shape": (0,)}, "`shape`"),
    ({"shape": (3,), "dtype": "int8"}, "`dtype`"),
    ({"shape": (3,), "sparse": True}, "`sparse`"),
])
def test_input_refuses_what_it_cannot_be(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        layers.Input(**kwargs)


def test_input_must_come_first():
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="must come first"):
        model.add(layers.Input(shape=(3,)))
