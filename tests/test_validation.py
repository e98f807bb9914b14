"""Bad input gets a clear ValueError/TypeError naming the argument, what was expected
and what was received -- never a crash or silent garbage."""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential


@pytest.fixture
def classifier():
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)),
                        Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


X = np.random.default_rng(0).standard_normal((10, 4)).astype("float32")
Y = np.arange(10) % 3


def test_feature_count_mismatch(classifier):
    with pytest.raises(ValueError, match=r"`x` must have 4 features \(from input_shape=\(4,\)\); "
                                         r"got shape \(10, 5\)"):
        classifier.fit(np.zeros((10, 5)), Y, verbose=0)
    with pytest.raises(ValueError, match="`x` must have 4 features"):
        classifier.predict(np.zeros((2, 3)))


def test_labels_out_of_range_or_wrong_shape(classifier):
    with pytest.raises(ValueError, match=r"`y` must hold integer class labels in \[0, 2\].*"
                                         r"got values in \[0, 3\]"):
        classifier.fit(X, np.arange(10) % 4, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        classifier.fit(X, np.full(10, 0.5), verbose=0)
    with pytest.raises(ValueError, match=r"`y` must be integer class labels of shape"):
        classifier.fit(X, np.zeros((10, 3)), verbose=0)
    binary = Sequential([Dense(1, activation="sigmoid", input_dim=4)])
    binary.compile("adam", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"`y` must hold values in \[0, 1\]"):
        binary.fit(X, np.arange(10), verbose=0)
    with pytest.raises(ValueError, match=r"`y` must have shape \(n_samples, 1\)"):
        binary.fit(X, np.zeros((10, 2)), verbose=0)


def test_non_numeric_and_ragged_x(classifier):
    with pytest.raises(TypeError, match="`x` must hold numbers; got dtype <U"):
        classifier.fit(np.array([["a"] * 4] * 10), Y, verbose=0)
    with pytest.raises(ValueError, match="`x` must be a rectangular array"):
        classifier.fit([[1, 2, 3, 4], [1, 2]], [0, 1], verbose=0)
    with pytest.raises(ValueError, match="`x` must be an array of numbers; got None"):
        classifier.fit(None, Y, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(classifier, bad):
    x = X.copy()
    x[3, 1] = bad
    with pytest.raises(ValueError, match="`x` must be finite; got 1 NaN or infinite"):
        classifier.fit(x, Y, verbose=0)
    regressor = Sequential([Dense(1, input_dim=4)])
    regressor.compile("sgd", "mse")
    y = np.zeros(10)
    y[2] = bad
    with pytest.raises(ValueError, match="`y` must be finite"):
        regressor.fit(X, y, verbose=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_nonfinite_count_over_threads(dtype, n_threads):
    # many parallel chunks (8,192 values each): bad values at chunk edges and at the end;
    # finite values whose sum overflows count as finite
    from fastnn import _validation
    x = np.full((300, 333), np.finfo(dtype).max / 2, dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(x.sum())
    with fastnn.threads(n_threads):
        assert _validation.count_nonfinite(x) == 0
        with warnings.catch_warnings():   # NumPy's route (a strided view): no overflow
            warnings.simplefilter("error")   # warning from the sum of huge finite values
            assert _validation.count_nonfinite(x[:, ::2]) == 0
        flat = x.reshape(-1)
        for i, bad in zip([0, 8191, 8192, 16384, flat.size - 1], [np.nan, np.inf, -np.inf,
                                                                 np.nan, np.inf]):
            flat[i] = bad
        assert _validation.count_nonfinite(x) == 5
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _validation.count_nonfinite(x[:, ::2]) == \
                int((~np.isfinite(x[:, ::2])).sum())
        with pytest.raises(ValueError, match="`x` must be finite; got 5 NaN or infinite"):
            _validation.numeric_array(x, "x")


def test_nan_in_the_last_value_of_a_large_x_is_caught_before_training(classifier):
    x = np.random.default_rng(1).standard_normal((20_000, 4)).astype("float32")
    x[-1, -1] = np.nan
    classifier.fit(X, Y, verbose=0)
    before = [w.copy() for w in classifier.get_weights()]
    with pytest.raises(ValueError, match="`x` must be finite; got 1 NaN or infinite"):
        classifier.fit(x, np.arange(20_000) % 3, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, classifier.get_weights()))


def test_empty_and_mismatched_lengths(classifier):
    with pytest.raises(ValueError, match="`x` must hold at least one sample; got shape"):
        classifier.fit(np.zeros((0, 4)), np.zeros(0), verbose=0)
    with pytest.raises(ValueError, match="`x` and `y` must have the same number of samples; "
                                         "got 10 and 9"):
        classifier.fit(X, Y[:9], verbose=0)


@pytest.mark.parametrize("arg,value", [("batch_size", 0), ("batch_size", -3),
                                       ("batch_size", 2.5), ("epochs", 0), ("epochs", -1)])
def test_batch_size_and_epochs(classifier, arg, value):
    with pytest.raises(ValueError, match=f"`{arg}` must be a positive int; got {value}"):
        classifier.fit(X, Y, verbose=0, **{arg: value})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"`activation` must be one of .*relu.*got 'relux'"):
        Dense(3, activation="relux")
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match=r"`loss` must be one of .*binary_crossentropy.*'msee'"):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match=r"`optimizer` must be one of .*adam.*'adamm'"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match=r"`metrics` must be one of .*accuracy.*'acuracy'"):
        model.compile("adam", "mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match=r"`initializer` must be one of .*glorot_uniform"):
        Dense(3, kernel_initializer="glorot")


def test_fit_and_evaluate_before_compile():
    model = Sequential([Dense(1, input_dim=4)])
    for call in (lambda: model.fit(X, Y, verbose=0), lambda: model.evaluate(X, Y, verbose=0)):
        with pytest.raises(ValueError, match="compile"):
            call()
        with pytest.raises(RuntimeError):  # what Keras raises
            call()


def test_layer_arguments():
    with pytest.raises(ValueError, match="`units` must be a positive int; got 0"):
        Dense(0)
    with pytest.raises(ValueError, match=r"`rate` must be a number in \[0, 1\); got 1.5"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="`layer` must be a fastnn layer"):
        Sequential().add("dense")
    with pytest.raises(ValueError, match="`input_shape` must be a tuple of positive ints"):
        Dense(3, input_shape=(0,))


def test_ops_matmul_shapes():
    with pytest.raises(ValueError, match="matching inner dimensions"):
        fastnn.ops.matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="`a` must be an array of at least one dimension"):
        fastnn.ops.matmul(3.0, np.ones((3, 3)))
    with pytest.raises(ValueError, match="`out` must have shape"):
        fastnn.ops.matmul(np.ones((2, 3)), np.ones((3, 4)), out=np.empty((2, 3)))


def test_seed_and_floatx_arguments():
    with pytest.raises(ValueError, match="`seed` must be a non-negative int"):
        fastnn.utils.set_random_seed(-1)
    with pytest.raises(ValueError, match="`value` must be 'float32' or 'float64'"):
        fastnn.config.set_floatx("float16")
