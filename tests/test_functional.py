"""Keras 3's functional API (fastnn.Input, fastnn.Model) and subclassed models."""
import json
import pickle
import zipfile

import numpy
import pytest

import fastnn
from fastnn import config, layers
from fastnn.layers.base import Workspace
from fastnn.layers.symbolic import KerasTensor


@pytest.fixture
def float64():
    previous = config.floatx()
    config.set_floatx("float64")
    yield
    config.set_floatx(previous)


def _wide_and_deep(seed=0):
    wide = fastnn.Input(shape=(3,), name="wide")
    deep = fastnn.Input(shape=(5,), name="deep")
    h = layers.Dense(8, activation="tanh",
                     kernel_initializer=fastnn.initializers.GlorotUniform(seed=seed))(deep)
    c = layers.Concatenate(axis=-1)([wide, h])
    out = layers.Dense(1, kernel_initializer=fastnn.initializers.GlorotUniform(seed=seed + 1))(c)
    return fastnn.Model([wide, deep], out), (wide, deep)


def _data(n=96, seed=0):
    rng = numpy.random.default_rng(seed)
    x1, x2 = rng.normal(size=(n, 3)), rng.normal(size=(n, 5))
    y = x1 @ [0.5, -1.0, 0.3] + numpy.tanh(x2 @ [0.4, 0.1, -0.6, 0.2, 0.5])
    return x1, x2, y


def test_input_is_symbolic_and_layer_calls_record_the_graph():
    inputs = fastnn.Input(shape=(8,), name="features")
    assert isinstance(inputs, KerasTensor) and isinstance(layers.Input(shape=(2,)), KerasTensor)
    assert inputs.shape == (None, 8) and inputs.name == "features" and inputs.dtype is None
    dense = layers.Dense(16, activation="relu")
    x = dense(inputs)
    assert isinstance(x, KerasTensor) and x.shape == (None, 16)
    assert dense.built and dense.kernel.shape == (8, 16)
    assert x.layer is dense and x.inputs == (inputs,)
    # called on arrays, a layer still computes
    assert layers.Dense(2)(numpy.ones((3, 4))).shape == (3, 2)
    assert layers.Concatenate()([numpy.ones((2, 1)), numpy.zeros((2, 2))]).shape == (2, 3)


def test_sequential_still_opens_with_input():
    model = fastnn.Sequential([fastnn.Input(shape=(4,)), layers.Dense(2)])
    assert model.built and model.input_shape == (None, 4)
    other = fastnn.Sequential()
    other.add(layers.Input(shape=(3,), dtype="float64"))
    other.add(layers.Dense(1))
    assert other.weights[0].dtype == numpy.float64


def test_chain_model_runs_bit_for_bit_as_sequential():
    rng = numpy.random.default_rng(1)
    x, y = rng.normal(size=(200, 6)).astype("float32"), rng.integers(0, 3, 200)

    def stack():
        return [layers.Dense(16, activation="relu"), layers.Dropout(0.2, seed=7),
                layers.Dense(3, activation="softmax")]
    seq = fastnn.Sequential([fastnn.Input(shape=(6,))] + stack())
    x_in = fastnn.Input(shape=(6,))
    out = x_in
    for layer in stack():
        out = layer(out)
    model = fastnn.Model(x_in, out)
    assert isinstance(model, fastnn.models.Model) and len(model.layers) == 3
    model.set_weights(seq.get_weights())
    for m in (seq, model):
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        m.training_seed = 1234
    h1 = seq.fit(x, y, epochs=3, batch_size=32, verbose=0)
    h2 = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert h1.history == h2.history
    assert model.executor.description == seq.executor.description
    assert model.executor.description.startswith("compiled")
    for a, b in zip(seq.get_weights(), model.get_weights()):
        assert numpy.array_equal(a, b)
    assert numpy.array_equal(seq.predict(x, verbose=0), model.predict(x, verbose=0))


def test_wide_and_deep_forward_matches_numpy(float64):
    model, _ = _wide_and_deep()
    x1, x2, _ = _data(10)
    k1, b1, k2, b2 = model.get_weights()
    expected = numpy.concatenate([x1, numpy.tanh(x2 @ k1 + b1)], axis=1) @ k2 + b2
    assert numpy.allclose(model.predict([x1, x2], verbose=0), expected, atol=1e-12)
    assert numpy.allclose(model.predict({"deep": x2, "wide": x1}, verbose=0), expected,
                          atol=1e-12)
    assert numpy.allclose(model([x1, x2]), expected, atol=1e-12)


def test_wide_and_deep_gradients_match_finite_differences(float64):
    model, _ = _wide_and_deep(seed=3)
    x1, x2, _ = _data(7, seed=2)
    packed = numpy.concatenate([x1, x2], axis=1)
    r = numpy.random.default_rng(5).normal(size=(7, 1))

    def objective():
        return float((model.predict([x1, x2], verbose=0) * r).sum())

    ws = Workspace()
    model._forward(packed, True, ws)
    model._backward(r.copy(), ws, is_dz=False)
    analytic = [fastnn.get_backend().to_numpy(g).copy()
                for layer in model.layers for g in layer._grads]
    eps = 1e-6
    for param, grad in zip(model.weights, analytic):
        flat, gflat = param.reshape(-1), grad.reshape(-1)
        for i in range(0, flat.size, max(1, flat.size // 9)):
            old = flat[i]
            flat[i] = old + eps
            up = objective()
            flat[i] = old - eps
            down = objective()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - gflat[i]) < 1e-6
    dx = model.input_gradient([x1, x2], r)
    assert dx.shape == (7, 8)
    for j in (0, 2, 3, 7):
        bump = numpy.zeros_like(packed)
        bump[:, j] = eps
        up = (model.predict(packed + bump, verbose=0) * r).sum()
        down = (model.predict(packed - bump, verbose=0) * r).sum()
        assert numpy.allclose((up - down) / (2 * eps), dx[:, j].sum(), atol=1e-6)


def test_wide_and_deep_trains():
    model, _ = _wide_and_deep(seed=4)
    x1, x2, y = _data(256, seed=4)
    model.compile(fastnn.optimizers.Adam(0.02), "mse")
    history = model.fit([x1, x2], y, epochs=60, batch_size=32, verbose=0,
                        validation_data=({"wide": x1, "deep": x2}, y))
    loss = history.history["loss"]
    assert loss[-1] < 0.02 < loss[0]
    assert model.evaluate([x1, x2], y, verbose=0) == pytest.approx(
        history.history["val_loss"][-1], rel=1e-5)
    text = []
    model.summary(print_fn=text.append)
    assert "graph executor" in text[0] and "<- wide, dense" in "\n".join(text)


def test_residual_add_graph_with_one_input(float64):
    inputs = fastnn.Input(shape=(4,))
    h = layers.Dense(4, activation="relu")(inputs)
    out = layers.Dense(2)(layers.Add()([inputs, h]))
    model = fastnn.Model(inputs, out)
    x = numpy.random.default_rng(0).normal(size=(5, 4))
    k1, b1, k2, b2 = model.get_weights()
    expected = (x + numpy.maximum(x @ k1 + b1, 0)) @ k2 + b2
    assert numpy.allclose(model.predict(x, verbose=0), expected, atol=1e-12)
    r = numpy.ones((5, 2))
    # d/dx through both branches: the identity one and the Dense one
    dx = model.input_gradient(x, r)
    mask = (x @ k1 + b1 > 0).astype(float)
    expected_dx = r @ k2.T + ((r @ k2.T) * mask) @ k1.T
    assert numpy.allclose(dx, expected_dx, atol=1e-12)


def test_errors():
    a = fastnn.Input(shape=(2,))
    shared = layers.Dense(2)
    shared(a)
    with pytest.raises(ValueError, match="shared layers"):
        shared(a)
    b, c = fastnn.Input(shape=(2,)), fastnn.Input(shape=(2,))
    out = layers.Add()([b, c])
    model = fastnn.Model([b, c], layers.Dense(1)(out))
    with pytest.raises(ValueError, match="missing"):
        model.predict({b.name: numpy.ones((2, 2))}, verbose=0)
    with pytest.raises(ValueError, match="list of 2 arrays"):
        model.predict([numpy.ones((2, 2))], verbose=0)
    with pytest.raises(ValueError, match="not one of the model's `inputs`"):
        fastnn.Model([b], layers.Dense(1)(layers.Concatenate()([b, fastnn.Input(shape=(1,))])))


class TwoLayer(fastnn.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


class Residual(fastnn.Model):
    def __init__(self, units):
        super().__init__()
        self.hidden = layers.Dense(units, activation="tanh")
        self.add_layer = layers.Add()
        self.head = layers.Dense(1)

    def call(self, inputs):
        return self.head(self.add_layer([inputs, self.hidden(inputs)]))


def test_subclassed_models_trace_call():
    x, _, y = _data(128, seed=6)
    model = TwoLayer()
    model.compile(fastnn.optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=40, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    k1, b1, k2, b2 = model.get_weights()
    assert numpy.allclose(model.predict(x, verbose=0).ravel(),
                          (numpy.maximum(x @ k1 + b1, 0) @ k2 + b2).ravel(), atol=1e-4)
    assert model.executor.description.startswith("compiled")   # a chain
    residual = Residual(3)
    residual.build((None, 3))
    assert residual.built and len(residual.layers) == 3
    residual.compile(fastnn.optimizers.Adam(0.02), "mse")
    history = residual.fit(x, y, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_saving_chain_and_graph(tmp_path):
    inputs = fastnn.Input(shape=(4,))
    chain = fastnn.Model(inputs, layers.Dense(2)(layers.Dense(3, activation="relu")(inputs)))
    chain.compile("adam", "mse")
    x = numpy.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    chain.fit(x, numpy.ones((16, 2)), epochs=2, verbose=0)
    path = tmp_path / "chain.fnn"
    chain.save(path)
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("model.json"))["model"]["class_name"] == "Functional"
    loaded = fastnn.models.load_model(path)
    assert type(loaded) is fastnn.Model and loaded.optimizer is not None
    assert numpy.array_equal(loaded.predict(x, verbose=0), chain.predict(x, verbose=0))
    clone = fastnn.models.model_from_json(chain.to_json())
    assert type(clone) is fastnn.Model and clone.count_params() == chain.count_params()

    graph, _ = _wide_and_deep()
    graph.compile("adam", "mse")
    x1, x2, y = _data(32)
    graph.fit([x1, x2], y, epochs=2, verbose=0)
    graph.save(tmp_path / "graph.fnn")
    loaded = fastnn.models.load_model(tmp_path / "graph.fnn")
    assert [t.name for t in loaded.inputs] == ["wide", "deep"]
    assert numpy.array_equal(loaded.predict([x1, x2], verbose=0),
                             graph.predict([x1, x2], verbose=0))
    again = pickle.loads(pickle.dumps(graph))
    assert numpy.array_equal(again.predict([x1, x2], verbose=0),
                             graph.predict([x1, x2], verbose=0))
    # a subclassed model saves its traced graph, read back as a functional Model
    sub = Residual(2)
    sub.build((None, 2))
    sub.save(tmp_path / "sub.fnn")
    back = fastnn.models.load_model(tmp_path / "sub.fnn")
    z = numpy.ones((3, 2), dtype="float32")
    assert numpy.array_equal(back.predict(z, verbose=0), sub.predict(z, verbose=0))


def test_graph_with_dropout_frozen_layer_and_backends():
    rng = numpy.random.default_rng(0)
    a, b = fastnn.Input(shape=(4,)), fastnn.Input(shape=(2,))
    h = layers.Dropout(0.3, seed=1)(layers.Dense(8, activation="relu")(a))
    frozen = layers.Dense(8, trainable=False)
    out = layers.Dense(3, activation="softmax")(layers.Add()([h, frozen(b)]))
    model = fastnn.Model([a, b], out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x1, x2 = rng.normal(size=(300, 4)), rng.normal(size=(300, 2))
    y = (x1[:, 0] > 0).astype(int) + (x2[:, 0] > 0)
    before = frozen.get_weights()
    history = model.fit([x1, x2], y, epochs=20, verbose=0, validation_split=0.2)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(numpy.array_equal(u, v) for u, v in zip(before, frozen.get_weights()))
    cpu = model.predict([x1, x2], verbose=0)
    with fastnn.use_backend("reference"):
        reference = model.predict([x1, x2], verbose=0)
    assert numpy.allclose(cpu, reference, atol=1e-5)
