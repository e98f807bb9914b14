"""fastnn.sklearn's training options: partial_fit, warm_start, stopping on `tol` and on
held-out data, a user's model function, and the errors wrong arguments get."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastnn.sklearn needs scikit-learn "
                                      "(pip install fastnn[sklearn])")
from sklearn.datasets import make_classification  # noqa: E402

import fastnn  # noqa: E402
from fastnn import layers  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture(scope="module")
def blobs():
    """A 3-class problem: 300 samples, 6 features."""
    return make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)


def quick(cls=MLPClassifier, **kwargs):
    return cls(**{"hidden_layer_sizes": (16,), "epochs": 40, "learning_rate": 0.01,
                  "random_state": 0, **kwargs})


# ---------------------------------------------------------------------- partial_fit

def test_partial_fit_trains_one_epoch_per_call(blobs):
    x, y = blobs
    clf = quick()
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x, y)
    clf.partial_fit(x[:100], y[:100], classes=[0, 1, 2])
    first = clf.score(x, y)
    for _ in range(29):
        clf.partial_fit(x[:100], y[:100])
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(x, y) > first + 0.1
    with pytest.raises(ValueError, match=r"classes \[7\] not among"):
        clf.partial_fit(x[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x[:3], y[:3], classes=[0, 1])


def test_partial_fit_batches_seen_once_match_one_fit_epoch(blobs):
    # one partial_fit call is one epoch of fit: same seed, same data, same bits
    x, y = blobs
    fitted = quick(epochs=1, n_iter_no_change=None).fit(x, y)
    partial = quick().partial_fit(x, y, classes=np.unique(y))
    np.testing.assert_array_equal(partial.predict_proba(x), fitted.predict_proba(x))


def test_partial_fit_regressor_continues_its_model():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (200, 2))
    y = x[:, 0] - 2 * x[:, 1]
    reg = quick(MLPRegressor)
    reg.partial_fit(x, y)
    model = reg.model_
    scores = [reg.partial_fit(x, y).score(x, y) for _ in range(100)]
    assert reg.model_ is model and scores[-1] > 0.95 and scores[-1] > scores[0]


def test_warm_start_continues_and_cold_start_restarts(blobs):
    x, y = blobs
    clf = quick(epochs=5, warm_start=True, n_iter_no_change=None).fit(x, y)
    model = clf.model_
    clf.fit(x, y)
    assert clf.model_ is model and clf.n_iter_ == 10 and len(clf.history_["loss"]) == 10
    clf.set_params(warm_start=False).fit(x, y)
    assert clf.model_ is not model and clf.n_iter_ == 5


# ---------------------------------------------------------------------- stopping

def test_stops_when_the_loss_stops_falling(blobs):
    x, y = blobs
    clf = quick(epochs=2000, tol=1e-2, n_iter_no_change=3).fit(x, y)
    assert clf.n_iter_ < 2000
    curve = clf.loss_curve_
    best_before = min(curve[:-3])
    # the last n_iter_no_change epochs did not beat the best by tol
    assert all(loss > best_before - 1e-2 for loss in curve[-3:])


def test_early_stopping_holds_out_validation_data(blobs):
    x, y = blobs
    clf = quick(epochs=500, early_stopping=True, validation_fraction=0.2,
                n_iter_no_change=5).fit(x, y)
    val = clf.history_["val_loss"]
    assert len(val) == clf.n_iter_ < 500
    # the weights kept are the best epoch's: their held-out loss is the smallest
    assert min(val) < val[-1] or len(val) == 500
    assert clf.score(x, y) > 0.8


# ---------------------------------------------------------------------- model function

def test_model_function_is_used_with_the_sizes_of_the_data(blobs):
    x, y = blobs
    calls = []

    def build(n_features_in_, n_classes_, hidden_layer_sizes, meta=None):
        calls.append((n_features_in_, n_classes_, hidden_layer_sizes))
        model = fastnn.Sequential([layers.Input(shape=(n_features_in_,)),
                                   layers.Dense(11, activation="tanh"),
                                   layers.Dense(7, activation="relu"),
                                   layers.Dense(n_classes_, activation="softmax")])
        model.compile(optimizer=fastnn.optimizers.Adam(0.01), loss="categorical_crossentropy")
        return model

    clf = MLPClassifier(hidden_layer_sizes=(3,), model=build, epochs=60,
                        random_state=0).fit(x, y)
    assert calls == [(6, 3, (3,))]
    assert [layer.units for layer in clf.model_.layers] == [11, 7, 3]
    assert type(clf.model_.loss).__name__ == "CategoricalCrossentropy"   # one-hot y
    assert clf.score(x, y) > 0.8
    np.testing.assert_allclose(clf.predict_proba(x), clf.model_.predict(x, verbose=0),
                               rtol=1e-6)


def test_model_function_returning_an_uncompiled_model_gets_compiled(blobs):
    x, y = blobs

    def build(**meta):
        return fastnn.Sequential([layers.Dense(meta["n_outputs_"], activation="softmax")])

    clf = MLPClassifier(model=build, optimizer="sgd", learning_rate=0.1, epochs=30,
                        random_state=0).fit(x, y)
    assert type(clf.model_.optimizer).__name__ == "SGD"
    assert type(clf.model_.loss).__name__ == "SparseCategoricalCrossentropy"
    first = clf.predict_proba(x)
    np.testing.assert_array_equal(
        MLPClassifier(model=build, optimizer="sgd", learning_rate=0.1, epochs=30,
                      random_state=0).fit(x, y).predict_proba(x), first)


def test_model_function_errors(blobs):
    x, y = blobs
    with pytest.raises(TypeError, match="must return a fastnn model"):
        MLPClassifier(model=lambda: "model").fit(x, y)
    with pytest.raises(TypeError, match=r"takes \['depth'\]"):
        MLPClassifier(model=lambda depth: None).fit(x, y)
    with pytest.raises(ValueError, match="3 output units for a multiclass target; got 2"):
        MLPClassifier(model=lambda: fastnn.Sequential([layers.Dense(2)])).fit(x, y)
    with pytest.raises(TypeError, match="`model` must be a function returning"):
        MLPClassifier(model=fastnn.Sequential([layers.Dense(2)])).fit(x, y)


# ---------------------------------------------------------------------- arguments

@pytest.mark.parametrize("name, value, error, match", [
    ("hidden_layer_sizes", (10, 0), ValueError, "hidden_layer_sizes"),
    ("hidden_layer_sizes", "big", ValueError, "hidden_layer_sizes"),
    ("activation", "swooshy", ValueError, "activation"),
    ("optimizer", "adamm", ValueError, "optimizer"),
    ("optimizer", 3, TypeError, "optimizer"),
    ("learning_rate", 0, ValueError, "learning_rate"),
    ("alpha", -1, ValueError, "alpha"),
    ("batch_size", 0, ValueError, "batch_size"),
    ("batch_size", "big", ValueError, "batch_size"),
    ("epochs", 1.5, ValueError, "epochs"),
    ("validation_fraction", 1.0, ValueError, "validation_fraction"),
    ("n_iter_no_change", 0, ValueError, "n_iter_no_change"),
    ("verbose", 3, ValueError, "verbose"),
    ("dtype", "int32", ValueError, "dtype"),
    ("shuffle", "yes", ValueError, "shuffle"),
])
def test_bad_arguments_are_named_at_fit(blobs, name, value, error, match):
    clf = quick(**{name: value})   # stored verbatim, as scikit-learn requires
    assert clf.get_params()[name] == value
    with pytest.raises(error, match=match):
        clf.fit(*blobs)


def test_bad_targets_and_weights(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        quick().fit(x, x[:, 0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        quick().fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match=r"sample_weight` must have shape \(300,\)"):
        quick().fit(x, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="only one class"):
        quick().fit(x, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match=">= 0"):
        quick().fit(x, y, sample_weight=-np.ones(len(x)))


def _dropout_model(n_features_in_, n_classes_):
    model = fastnn.Sequential([layers.Input(shape=(n_features_in_,)),
                               layers.Dense(32, activation="relu"), layers.Dropout(0.3),
                               layers.Dense(n_classes_, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_random_state_fixes_a_user_model_with_dropout(blobs):
    # initial weights, shuffling and dropout masks all derive from random_state
    x, y = blobs
    runs = [MLPClassifier(model=_dropout_model, epochs=10, random_state=seed).fit(x, y)
            .predict_proba(x) for seed in (4, 4, 5)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
