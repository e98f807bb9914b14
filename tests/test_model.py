"""Sequential end to end: Keras return values, backends agreeing, determinism, accuracy."""
import numpy as np
import pytest

import fastnn
from conftest import needs_openmp
from fastnn import layers, models
from fastnn.datasets import load_digits, make_tabular
from fastnn.models import Sequential
from fastnn.layers import Dense, Dropout


def mnist_like_model(hidden=32, dropout=0.2, optimizer="adam"):
    model = Sequential([Dense(hidden, activation="relu", input_shape=(64,)), Dropout(dropout),
                        Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), (x_test, y_test) = load_digits()
    return (x_train.reshape(-1, 64) / 255.0, y_train), (x_test.reshape(-1, 64) / 255.0, y_test)


def test_keras_return_values(digits):
    (x, y), (xt, yt) = digits
    fastnn.utils.set_random_seed(0)
    model = mnist_like_model()
    history = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.1, verbose=0)
    assert isinstance(history, fastnn.callbacks.History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())
    assert history.epoch == [0, 1]
    result = model.evaluate(xt, yt, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert 0 < result[0] < 3 and 0 <= result[1] <= 1
    probs = model.predict(xt, verbose=0)
    assert probs.shape == (len(xt), 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict(xt[:1]).shape == (1, 10)
    # without metrics evaluate returns a scalar
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(xt, yt, verbose=0), float)


def test_compile_defaults_to_rmsprop():
    model = Sequential([Dense(2, input_dim=3)])
    model.compile(loss="mse")
    assert isinstance(model.optimizer, fastnn.optimizers.RMSprop)
    assert model.optimizer.learning_rate == 0.001


def test_accuracy_resolves_from_loss():
    x = np.random.default_rng(0).standard_normal((20, 3)).astype("float32")
    cases = [("binary_crossentropy", 1, (x[:, 0] > 0) * 1.0, "BinaryAccuracy"),
             ("sparse_categorical_crossentropy", 3, np.arange(20) % 3, "SparseCategoricalAccuracy"),
             ("categorical_crossentropy", 3, np.eye(3)[np.arange(20) % 3], "CategoricalAccuracy")]
    for loss, units, y, cls in cases:
        model = Sequential([Dense(units, activation="sigmoid" if units == 1 else "softmax",
                                  input_dim=3)])
        model.compile("adam", loss, metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)
        assert type(model.compiled_metrics[0]).__name__ == cls
        assert model.compiled_metrics[0].name == "accuracy"


def _train(backend, x, y, seed=0, steps_model=None, epochs=2):
    with fastnn.use_backend(backend):
        fastnn.utils.set_random_seed(seed)
        model = steps_model() if steps_model else mnist_like_model(hidden=64, dropout=0.3)
        model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
        return model.get_weights()


def test_reference_and_cpu_train_to_the_same_weights(digits):
    """Same seed, same data: dropout masks, shuffling and updates agree across backends."""
    (x, y), _ = digits
    ref = _train("reference", x, y)
    cpu = _train("cpu", x, y)
    for a, b in zip(ref, cpu):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(ref[0], _train("cpu", x, y, seed=1)[0])


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adagrad", "adamax", "nadam",
                                       "adamw"])
def test_every_optimizer_trains_alike_on_both_backends(digits, optimizer):
    (x, y), _ = digits
    build = lambda: mnist_like_model(hidden=16, dropout=0.1, optimizer=optimizer)
    ref = _train("reference", x[:300], y[:300], steps_model=build, epochs=1)
    cpu = _train("cpu", x[:300], y[:300], steps_model=build, epochs=1)
    for a, b in zip(ref, cpu):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@needs_openmp
def test_bit_identical_at_one_and_two_threads():
    """Big enough layers that GEMM and the element-wise kernels really go parallel."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 784)).astype("float32")
    y = rng.integers(0, 10, 1024)

    def run(n_threads):
        with fastnn.threads(n_threads):
            fastnn.utils.set_random_seed(5)
            model = Sequential([Dense(256, activation="relu", input_shape=(784,)),
                                Dropout(0.2), Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy")
            model.fit(x, y, epochs=1, batch_size=256, verbose=0)
            return model.get_weights(), model.predict(x)

    w1, p1 = run(1)
    w2, p2 = run(2)
    for a, b in zip(w1, w2):
        assert np.array_equal(a, b)
    assert np.array_equal(p1, p2)


def test_digits_classifier_reaches_keras_accuracy():
    """The MNIST-shaped Keras program on the bundled 28x28 digits."""
    (x, y), (xt, yt) = load_digits(size=28)
    x, xt = x.reshape(-1, 784) / 255.0, xt.reshape(-1, 784) / 255.0
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(128, activation="relu", input_shape=(784,)), Dropout(0.2),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    assert accuracy > 0.93, accuracy  # scikit-learn's MLPClassifier gets ~0.96 here


def test_pima_style_binary_classifier():
    x, y = make_tabular(seed=0)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    fastnn.utils.set_random_seed(0)
    model = models.Sequential()
    model.add(layers.Dense(16, input_dim=8, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x[:600], y[:600], epochs=60, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[600:], y[600:], verbose=0)
    assert accuracy > 0.72, accuracy
    assert model.predict(x[:5]).shape == (5, 1)


def test_float64_models(floatx64):
    x = np.random.default_rng(0).standard_normal((40, 3))
    model = Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
    assert model.get_weights()[0].dtype == np.float64
    assert model.predict(x).dtype == np.float64


def test_sequential_structure():
    model = Sequential()
    model.add(Dense(8, activation="relu", input_shape=(4,), name="hidden"))
    model.add(Dense(2))
    assert [l.name for l in model.layers] == ["hidden", model.layers[1].name]
    assert model.get_layer("hidden") is model.layers[0]
    assert model.count_params() == 4 * 8 + 8 + 8 * 2 + 2
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 1
    assert fastnn.Sequential is Sequential


def test_summary_lists_layers_and_params(capsys):
    model = Sequential([Dense(128, activation="relu", input_shape=(784,), name="d1"),
                        Dropout(0.2, name="drop"), Dense(10, activation="softmax", name="d2")])
    model.summary()
    out = capsys.readouterr().out
    assert "d1 (Dense)" in out and "(None, 128)" in out and "100,480" in out
    assert "drop (Dropout)" in out and "d2 (Dense)" in out and "1,290" in out
    assert "Total params: 101,770" in out


def test_ops_matmul_on_every_backend():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((5, 3))
    for name in ("cpu", "reference"):
        with fastnn.use_backend(name):
            np.testing.assert_allclose(fastnn.ops.matmul(a, b, transpose_a=True), a.T @ b)
            out = np.empty((7, 3))
            assert fastnn.ops.matmul(a, b, transpose_a=True, out=out) is out
            np.testing.assert_allclose(out, a.T @ b)
            np.testing.assert_allclose(fastnn.ops.matmul(a.T, b, transpose_a=False), a.T @ b)


def test_backend_switching():
    assert fastnn.get_backend().name == "cpu"
    with fastnn.use_backend("reference") as backend:
        assert backend.name == "reference" and fastnn.get_backend() is backend
    assert fastnn.get_backend().name == "cpu"
    fastnn.set_backend("reference")
    assert fastnn.get_backend().name == "reference"
    fastnn.set_backend("cpu")
    with pytest.raises(ValueError, match="backend"):
        fastnn.set_backend("tpu")


def test_threads_setting():
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1
    with fastnn.threads(2):
        assert fastnn.get_num_threads() == 2
    assert fastnn.get_num_threads() == 1
    with pytest.raises(ValueError, match="`n`"):
        fastnn.set_num_threads(0)


def test_show_config(capsys):
    fastnn.show_config()
    out = capsys.readouterr().out
    for key in ("fastnn", "backend", "kernel_isa", "threads", "openmp"):
        assert key in out
