"""keras.layers.ReLU / LeakyReLU / ELU / Softmax: values by hand, Keras 3 defaults, files."""
import numpy
import pytest

import fastnn
from fastnn import layers, models

X = numpy.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("layer, expected", [
    (lambda: layers.ReLU(), [0, 0, 0, 0.5, 3]),
    (lambda: layers.ReLU(negative_slope=0.1), [-0.2, -0.05, 0, 0.5, 3]),
    (lambda: layers.LeakyReLU(), [-0.6, -0.15, 0, 0.5, 3]),          # Keras 3: 0.3
    (lambda: layers.ELU(alpha=2.0), [2 * numpy.expm1(-2), 2 * numpy.expm1(-0.5), 0, 0.5, 3]),
    (lambda: layers.Softmax(), numpy.exp(X[0]) / numpy.exp(X[0]).sum()),
])
def test_activation_layer_values(backend, layer, expected):
    with fastnn.use_backend(backend):
        model = models.Sequential([layers.Input(shape=(5,)), layer()])
        out = model.predict(X, verbose=0)
    numpy.testing.assert_allclose(out[0], expected, rtol=1e-6, atol=1e-7)


def test_activation_layers_train_and_round_trip_a_file(tmp_path):
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(8), layers.LeakyReLU(0.1),
                               layers.Dense(8), layers.ELU(), layers.Dense(3),
                               layers.Softmax()])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = numpy.random.default_rng(1).random((64, 4))
    y = (x[:, 0] * 3).astype(int)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "m.fnn")
    model.save(path)
    again = models.load_model(path)
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    assert again.layers[1].negative_slope == 0.1
    numpy.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("make, message", [
    (lambda: layers.ReLU(max_value=6.0), "`max_value`"),
    (lambda: layers.ReLU(threshold=1.0), "`threshold`"),
    (lambda: layers.LeakyReLU(negative_slope="a"), "`negative_slope`"),
    (lambda: layers.Softmax(axis=0), "`axis`"),
])
def test_unsupported_arguments_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()
