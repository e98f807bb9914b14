"""Weights behave as Keras 3 variables (fastnn.variables.Variable): `layer.kernel`,
`layer.weights`, `model.trainable_weights` have assign / assign_add / assign_sub / numpy /
shape / dtype / name / path / trainable, work with NumPy, and `assign` writes into the
live buffer the executors train (compiled and layer by layer), so training continues
from the assigned value. Derived arrays and `get_weights()` are plain NumPy arrays."""
import copy
import pickle

import numpy as np
import pytest

import fastnn
from fastnn import layers, models, optimizers
from fastnn.backend import available_backends
from fastnn.variables import Variable

BACKENDS = [b for b in ("reference", "cpu") if b in available_backends()]


def _model(dtype="float64"):
    model = models.Sequential([
        layers.Dense(3, activation="tanh", input_dim=2, dtype=dtype),
        layers.BatchNormalization(dtype=dtype),
        layers.Dense(1, dtype=dtype)])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    return model


def test_weights_are_variables_with_keras_attributes():
    model = _model()
    dense, bn, out = model.layers
    assert isinstance(dense.kernel, Variable) and isinstance(dense.bias, Variable)
    assert dense.kernel is dense.weights[0] is model.weights[0]
    assert (dense.kernel.name, dense.bias.name) == ("kernel", "bias")
    assert dense.kernel.path == f"{dense.name}/kernel"
    assert dense.kernel.shape == (2, 3) and dense.kernel.dtype == "float64"
    assert dense.kernel.ndim == 2 and dense.kernel.trainable
    names = [v.name for v in bn.weights]
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.trainable for v in bn.weights] == [True, True, False, False]
    assert bn.moving_mean is bn.weights[2]
    assert [v.path for v in model.trainable_weights] == [
        f"{dense.name}/kernel", f"{dense.name}/bias", f"{bn.name}/gamma", f"{bn.name}/beta",
        f"{out.name}/kernel", f"{out.name}/bias"]
    dense.trainable = False
    assert not dense.kernel.trainable and dense.kernel in dense.non_trainable_weights
    assert repr(dense.bias).startswith(f"<Variable path={dense.name}/bias, shape=(3,), "
                                       f"dtype=float64, value=")


def test_numpy_sees_plain_arrays():
    kernel = _model().layers[0].kernel
    plain = kernel.view(np.ndarray)
    for derived in (kernel * 2, kernel + kernel, np.array(kernel), kernel.numpy(),
                    np.asarray(kernel), kernel[0], kernel.T, kernel.copy(),
                    kernel.reshape(-1), kernel.astype(np.float32), np.concatenate([kernel]),
                    np.zeros_like(kernel), np.tanh(kernel), kernel @ np.ones((3, 1))):
        assert type(derived) is np.ndarray
    assert np.array_equal(kernel * 2, plain * 2)
    assert kernel.numpy().mean() == pytest.approx(plain.mean())
    assert float(np.sum(kernel)) == pytest.approx(plain.sum())
    assert not np.shares_memory(kernel.numpy(), kernel)
    assert np.shares_memory(np.asarray(kernel), kernel)
    assert all(type(w) is np.ndarray for w in _model().get_weights())


@pytest.mark.parametrize("backend", BACKENDS)
def test_assign_writes_the_live_buffer_and_training_continues_from_it(backend):
    """Assigning the weights of a model mid-training equals training a fresh model that
    starts from those weights (compiled step on cpu, NumPy on the reference backend)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 2)), rng.standard_normal((32, 1))
    with fastnn.use_backend(backend):
        fastnn.utils.set_random_seed(1)
        model = models.Sequential([layers.Dense(4, activation="tanh", input_dim=2,
                                                dtype="float64"), layers.Dense(1, dtype="float64")])
        model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
        chosen = [rng.standard_normal(w.shape) for w in model.get_weights()]
        for variable, value in zip(model.weights, chosen):
            returned = variable.assign(value)
            assert np.array_equal(returned, value)
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), chosen))
        model.optimizer = optimizers.Adam(0.01)
        model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
        fresh = models.Sequential([layers.Dense(4, activation="tanh", input_dim=2,
                                                dtype="float64"), layers.Dense(1, dtype="float64")])
        fresh.compile(optimizer=optimizers.Adam(0.01), loss="mse")
        fresh.set_weights(chosen)
        fresh.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        assert np.array_equal(a, b)


def test_assign_into_a_compiled_model_without_recompiling():
    """assign between two fit calls of one compiled model: the second fit reads the
    assigned weights (one SGD step from zero weights on mse: -lr * dL/dw)."""
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([[1.0], [2.0]])
    model = models.Sequential([layers.Dense(1, input_dim=2, dtype="float64")])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    dense = model.layers[0]
    dense.kernel.assign(np.zeros((2, 1)))
    dense.bias.assign([0.0])
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    # dL/dw = 2/n x^T (xw - y) at w = 0: -(x^T y) = -[7, 0], bias: -mean 2y = -3
    np.testing.assert_allclose(dense.kernel.numpy(), [[0.7], [0.0]], atol=1e-15)
    np.testing.assert_allclose(dense.bias.numpy(), [0.3], atol=1e-15)


def test_assign_add_sub_and_in_place_arithmetic():
    dense = _model().layers[0]
    start = dense.kernel.numpy()
    dense.kernel.assign_add(np.ones((2, 3)))
    dense.kernel.assign_sub(0.5)
    np.testing.assert_allclose(dense.kernel.numpy(), start + 0.5)
    kernel = dense.kernel
    kernel *= 2.0
    assert kernel is dense.kernel and isinstance(kernel, Variable)
    np.testing.assert_allclose(dense.kernel.numpy(), (start + 0.5) * 2)
    dense.bias.assign(np.array([1, 2, 3]))        # integers, cast to the weight's dtype
    assert dense.bias.numpy().tolist() == [1.0, 2.0, 3.0]
    assert dense.bias.dtype == np.float64


def test_assign_refuses_a_wrong_shape_or_dtype():
    dense = _model(dtype="float32").layers[0]
    before = dense.kernel.numpy()
    with pytest.raises(ValueError, match=r"kernel.assign must have the weight's shape \(2, 3\)"
                                         r"; got shape \(3, 2\)"):
        dense.kernel.assign(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        dense.kernel.assign(np.full((2, 3), "a"))
    with pytest.raises(TypeError, match="real numbers"):
        dense.kernel.assign(np.zeros((2, 3), complex))
    with pytest.raises(ValueError, match="shape"):
        dense.kernel.assign_add(np.ones((4, 3)))
    assert np.array_equal(dense.kernel.numpy(), before)
    dense.kernel.assign(np.full((2, 3), 0.1, np.float64))    # cast to float32
    assert dense.kernel.dtype == np.float32 and dense.kernel.numpy()[0, 0] == np.float32(0.1)


def test_copies_and_pickles_keep_variables():
    model = _model()
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    dense = model.layers[0]
    for again in (copy.deepcopy(dense), pickle.loads(pickle.dumps(dense))):
        assert isinstance(again.kernel, Variable) and again.kernel is again._params[0]
        assert again.kernel.path == dense.kernel.path
        assert np.array_equal(again.kernel, dense.kernel)
        assert not np.shares_memory(again.kernel, dense.kernel)
        again.kernel.assign(np.zeros((2, 3)))
        assert not np.array_equal(again.kernel, dense.kernel)
    loaded = pickle.loads(pickle.dumps(model))
    assert np.allclose(loaded.predict(np.ones((2, 2)), verbose=0),
                       model.predict(np.ones((2, 2)), verbose=0))


def test_saved_and_loaded_models_have_variables(tmp_path):
    model = _model()
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = models.load_model(path)
    assert all(isinstance(v, Variable) for v in loaded.weights)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)
    loaded.layers[0].kernel.assign(np.zeros((2, 3)))
    assert not np.array_equal(loaded.get_weights()[0], model.get_weights()[0])
