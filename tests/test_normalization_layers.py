"""BatchNormalization, LayerNormalization, Normalization, Rescaling, PReLU, Reshape and
the noise layers (GaussianNoise, GaussianDropout, AlphaDropout).

Golden values are Keras 3's own (tests/golden/layers3.npz, written by
tests/golden/make_keras_layer_goldens.py in float64); each is compared on the reference
and the cpu backends. Gradients are also checked against float64 finite differences,
and model files against exact round trips.
"""
import os

import numpy as np
import pytest

import fastnn
from fastnn import layers, optimizers
from fastnn.backend import available_backends, get_backend
from fastnn.models import Sequential

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "layers3.npz")
BACKENDS = [b for b in ("reference", "cpu") if b in available_backends()]
RTOL = 1e-11

with np.load(GOLDEN) as _data:
    G = {k: _data[k] for k in _data.files}


@pytest.fixture(params=BACKENDS)
def on_backend(request):
    fastnn.config.set_floatx("float64")
    with fastnn.use_backend(request.param):
        yield request.param
    fastnn.config.set_floatx("float32")


def close(got, want, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(get_backend().to_numpy(got) if not isinstance(
        got, np.ndarray) else got, want, rtol=rtol, atol=atol)


def run(layer, x, g, training):
    """(y, dx) of `layer` at x with cotangent g."""
    backend = get_backend()
    ws = layers.base.Workspace()
    xb = backend.asarray(x)
    if not layer.built:
        layer.build(x.shape[1:])
    y = backend.to_numpy(layer.forward(xb, training, ws)).copy()
    dx = backend.to_numpy(layer.backward(backend.asarray(g), ws)).copy()
    return y, dx


# ------------------------------------------------------------------ goldens
def test_batchnorm_training_forward_and_gradients_match_keras(on_backend):
    layer = layers.BatchNormalization(momentum=0.9)
    layer.build((5,))
    layer.set_weights([G["bn/gamma"], G["bn/beta"], np.zeros(5), np.ones(5)])
    y, dx = run(layer, G["bn/x"], G["bn/g"], training=True)
    close(y, G["bn/train_y"])
    close(dx, G["bn/dx"])
    close(layer._grads[0], G["bn/dgamma"])
    close(layer._grads[1], G["bn/dbeta"])


def test_batchnorm_moving_statistics_and_inference_match_keras(on_backend):
    layer = layers.BatchNormalization(momentum=0.9)
    layer.build((5,))
    layer.set_weights([G["bn/gamma"], G["bn/beta"], np.zeros(5), np.ones(5)])
    for b in [G["bn/x"]] + [G[f"bn/steps/{i}"] for i in range(3)]:
        layer(b, training=True)
    gamma, beta, mean, var = layer.get_weights()
    close(mean, G["bn/moving_mean"])
    close(var, G["bn/moving_variance"])
    close(layer(G["bn/x"]), G["bn/infer_y"])
    np.testing.assert_array_equal(gamma, G["bn/gamma"])


def test_layernorm_matches_keras(on_backend):
    layer = layers.LayerNormalization()
    layer.build((6,))
    layer.set_weights([G["ln/gamma"], G["ln/beta"]])
    y, dx = run(layer, G["ln/x"], G["ln/g"], training=True)
    close(y, G["ln/y"])
    close(dx, G["ln/dx"])
    close(layer._grads[0], G["ln/dgamma"])
    close(layer._grads[1], G["ln/dbeta"])


@pytest.mark.parametrize("form", ["array", "list_of_batches", "generator"])
def test_normalization_adapt_matches_keras(on_backend, form):
    batches = [G[f"norm/batches/{i}"] for i in range(3)]
    data = {"array": np.concatenate(batches), "list_of_batches": batches,
            "generator": (b for b in batches)}[form]
    layer = layers.Normalization()
    layer.adapt(data)
    mean, var = layer.get_weights()
    close(mean, G["norm/mean"])
    close(var, G["norm/variance"])
    close(layer(batches[0]), G["norm/y"])
    inv = layers.Normalization(mean=G["norm/mean"], variance=G["norm/variance"], invert=True)
    close(inv(batches[0]), G["norm/y_inv"])
    assert inv.get_weights() == []


def test_prelu_matches_keras(on_backend):
    layer = layers.PReLU()
    layer.build((5,))
    layer.set_weights([G["prelu/alpha"]])
    y, dx = run(layer, G["prelu/x"], G["prelu/g"], training=True)
    close(y, G["prelu/y"])
    close(dx, G["prelu/dx"])
    close(layer._grads[0], G["prelu/dalpha"])


def test_rescaling_matches_keras(on_backend):
    close(layers.Rescaling(0.5, offset=-1.25)(G["rescale/x"]), G["rescale/y"])


def test_fit_dense_batchnorm_dense_matches_keras(on_backend):
    model = Sequential([layers.Dense(6, activation="relu", input_shape=(3,)),
                        layers.BatchNormalization(momentum=0.8), layers.Dense(1)])
    model.set_weights([G[f"fit/weights/{i}"] for i in range(8)])
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
    history = model.fit(G["fit/x"], G["fit/y"], batch_size=8, epochs=3, shuffle=False,
                        verbose=0)
    close(np.array(history.history["loss"]), G["fit/history/loss"], rtol=1e-10)
    for i, w in enumerate(model.get_weights()):
        close(w, G[f"fit/final_weights/{i}"], rtol=1e-10)


# ------------------------------------------------------------------ finite differences
def _numeric_grads(layer, x, g, training, h=1e-6):
    """d sum(layer(x) * g) / dx and / d each parameter, by central differences."""
    def f():
        ws = layers.base.Workspace()
        return float(np.sum(get_backend().to_numpy(
            layer.forward(get_backend().asarray(x), training, ws)) * g))
    def diff(arr):
        out = np.zeros(arr.shape)
        for i in np.ndindex(arr.shape):
            keep = arr[i]
            arr[i] = keep + h
            up = f()
            arr[i] = keep - h
            down = f()
            arr[i] = keep
            out[i] = (up - down) / (2 * h)
        return out
    return diff(x), [diff(p) for p in layer._params]


@pytest.mark.parametrize("make,training", [
    (lambda: layers.BatchNormalization(), True),
    (lambda: layers.BatchNormalization(scale=False), True),
    (lambda: layers.BatchNormalization(), False),
    (lambda: layers.LayerNormalization(), True),
    (lambda: layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1]), True),
    (lambda: layers.Normalization(mean=[0.5, -1.0, 2.0, 0.0], variance=[4.0, 0.25, 1.0,
                                                                         9.0]), True),
    (lambda: layers.AlphaDropout(0.3, seed=4), True),
    (lambda: layers.GaussianDropout(0.3, seed=4), True),
])
def test_backward_matches_finite_differences(make, training):
    fastnn.config.set_floatx("float64")
    with fastnn.use_backend("reference"):
        rng = np.random.default_rng(3)
        x = rng.standard_normal((6, 4)) * 1.5 + 0.2
        g = rng.standard_normal((6, 4))
        layer = make()
        layer.build((4,))
        layer.set_weights([w + rng.uniform(-0.3, 0.3, w.shape)
                           for w in layer.get_weights()])
        step = getattr(layer, "step", None)
        _, dx = run(layer, x, g, training)
        if step is not None:   # the same noise for every evaluation
            layer._next_step = lambda s=step, gen=type(layer)._next_step: gen(
                _at_step(layer, s))
        grads = [np.array(v) for v in layer._grads]
        num_dx, num_p = _numeric_grads(layer, x, g, training)
        np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-7)
        for got, want in zip(grads, num_p):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _at_step(layer, step):
    layer.step = step
    return layer


# ------------------------------------------------------------------ weights and files
def test_weights_order_counts_and_summary():
    model = Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                        layers.Dense(2)])
    bn = model.layers[1]
    assert bn.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert bn.count_params() == 16 and model.count_params() == 16 + 16 + 10
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Trainable params: 34" in text and "Non-trainable params: 8" in text
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def _noisy_model():
    return Sequential([
        layers.Normalization(input_shape=(4,)), layers.Dense(8),
        layers.BatchNormalization(momentum=0.7), layers.PReLU(),
        layers.GaussianNoise(0.1, seed=1), layers.LayerNormalization(),
        layers.GaussianDropout(0.1, seed=2), layers.AlphaDropout(0.1, seed=3),
        layers.Rescaling(2.0, 0.5), layers.Reshape((2, 4)), layers.Flatten(),
        layers.Dense(1)])


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)) * [1, 2, 3, 4]
    return x, x @ [[0.5], [-1.0], [0.2], [0.1]]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_save_load_round_trip_is_exact_and_resumes(tmp_path, backend_name):
    with fastnn.use_backend(backend_name):
        x, y = _data()
        fastnn.utils.set_random_seed(7)
        model = _noisy_model()
        model.layers[0].adapt(x)
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        path = str(tmp_path / "m.fastnn")
        model.save(path)
        loaded = fastnn.models.load_model(path)
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert len(loaded.get_weights()) == len(model.get_weights())
        np.testing.assert_array_equal(model.predict(x, verbose=0),
                                      loaded.predict(x, verbose=0))
        for a, b in zip(model.layers, loaded.layers):
            assert getattr(a, "step", None) == getattr(b, "step", None)
        # training goes on identically: the noise streams and moving statistics resume
        h1 = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        h2 = loaded.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        assert h1.history["loss"] == h2.history["loss"]
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_fit_repeats_under_set_random_seed():
    x, y = _data()
    results = []
    for _ in range(2):
        fastnn.utils.set_random_seed(11)
        model = Sequential([layers.Dense(8, input_shape=(4,)), layers.GaussianNoise(0.3),
                            layers.GaussianDropout(0.2), layers.AlphaDropout(0.2),
                            layers.Dense(1)])
        model.compile("adam", "mse")
        results.append(model.fit(x, y, epochs=2, verbose=0).history["loss"])
    assert results[0] == results[1]


def test_config_round_trip():
    for layer in [layers.BatchNormalization(momentum=0.5, epsilon=1e-5, center=False),
                  layers.LayerNormalization(epsilon=1e-6), layers.Normalization(axis=-1),
                  layers.Normalization(mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True),
                  layers.Rescaling(0.5, 2.0), layers.GaussianNoise(0.2, seed=3),
                  layers.GaussianDropout(0.2, seed=3),
                  layers.AlphaDropout(0.2, noise_shape=(None, 1), seed=3),
                  layers.PReLU(shared_axes=[1]), layers.Reshape((2, -1))]:
        again = layers.get(layers.serialize(layer))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


# ------------------------------------------------------------------ behaviour
def test_noise_layers_are_identity_in_inference():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype("float32")
    for layer in [layers.GaussianNoise(1.0), layers.GaussianDropout(0.5),
                  layers.AlphaDropout(0.5)]:
        np.testing.assert_array_equal(layer(x), x)
        assert not np.array_equal(layer(x, training=True), x)


def test_noise_statistics():
    x = np.full((200000, 1), 2.0)
    fastnn.config.set_floatx("float64")
    y = get_backend().to_numpy(layers.GaussianNoise(0.5, seed=1)(x, training=True))
    assert abs(y.mean() - 2.0) < 0.01 and abs(y.std() - 0.5) < 0.01
    y = get_backend().to_numpy(layers.GaussianDropout(0.2, seed=1)(x, training=True))
    assert abs(y.mean() - 2.0) < 0.01 and abs(y.std() - 2.0 * 0.5) < 0.01
    z = np.random.default_rng(0).standard_normal((200000, 1))
    y = get_backend().to_numpy(layers.AlphaDropout(0.2, seed=1)(z, training=True))
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1.0) < 0.01


def test_reshape_and_frozen_batchnorm():
    x = np.arange(24.0).reshape(2, 12)
    assert layers.Reshape((3, -1))(x).shape == (2, 3, 4)
    assert layers.Reshape((3, -1)).compute_output_shape((12,)) == (3, 4)
    with pytest.raises(ValueError):
        layers.Reshape((5,)).compute_output_shape((12,))
    bn = layers.BatchNormalization(trainable=False)
    bn.build((12,))
    before = bn.get_weights()
    bn(x, training=True)   # a frozen layer runs in inference mode
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_float32_fit_agrees_across_backends():
    if len(BACKENDS) < 2:
        pytest.skip("needs the reference and cpu backends")
    x, y = _data()
    runs = []
    for name in BACKENDS:
        with fastnn.use_backend(name):
            fastnn.utils.set_random_seed(3)   # the same initial weights on both
            model = Sequential([layers.Dense(6, activation="relu", input_shape=(4,)),
                                layers.BatchNormalization(), layers.LayerNormalization(),
                                layers.PReLU(alpha_initializer="random_uniform"),
                                layers.Dense(1)])
            model.compile(optimizers.SGD(0.01), "mse")
            runs.append((model.fit(x, y, batch_size=16, epochs=2, shuffle=False,
                                   verbose=0).history["loss"], model.get_weights()))
            assert model.get_weights()[0].dtype == np.float32
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-4)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
