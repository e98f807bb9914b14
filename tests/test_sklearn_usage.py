"""fastnn.sklearn's estimators beyond scikit-learn's checks: clone, pickling, sample
weights, multi-output, partial_fit, warm_start, early stopping, a user's model function,
determinism, and the errors a wrong argument gets."""
import pickle
import random

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastnn.sklearn needs scikit-learn "
                                      "(pip install fastnn[sklearn])")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402

import fastnn  # noqa: E402
from fastnn import optimizers  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from session_python import run_python  # noqa: E402


@pytest.fixture(scope="module")
def blobs():
    """A 3-class problem: 300 samples, 6 features."""
    x, y = make_classification(n_samples=300, n_features=6, n_informative=4,
                               n_classes=3, random_state=0)
    return x, y


def quick(cls=MLPClassifier, **kwargs):
    return cls(**{"hidden_layer_sizes": (16,), "epochs": 40, "learning_rate": 0.01,
                  "random_state": 0, **kwargs})


# ---------------------------------------------------------------------- imports

def test_import_fastnn_does_not_import_sklearn():
    out = run_python("import sys, fastnn; fastnn.Sequential; "
                     "print('sklearn' in sys.modules, 'fastnn.sklearn' in sys.modules)",
                     check=True)
    assert out.stdout.split() == ["False", "False"]


def test_import_without_sklearn_names_the_extra():
    out = run_python("import sys; sys.modules['sklearn'] = None\n"
                     "try:\n    import fastnn.sklearn\n"
                     "except ImportError as exc:\n    print(exc)\n", check=True)
    assert "pip install fastnn[sklearn]" in out.stdout


# ---------------------------------------------------------------------- clone, pickle

def test_clone_keeps_every_parameter_and_no_fitted_state(blobs):
    adam = optimizers.Adam(learning_rate=0.02)
    clf = MLPClassifier((7, 5), activation="tanh", optimizer=adam, alpha=0.1,
                        batch_size=16, epochs=3, early_stopping=True, random_state=3,
                        dtype="float64").fit(*blobs)
    copy = clone(clf)
    assert copy.get_params().keys() == clf.get_params().keys()
    for name, value in clf.get_params().items():
        if name == "optimizer":   # clone copies objects
            assert copy.optimizer is not adam
            assert copy.optimizer.get_config() == adam.get_config()
        else:
            assert copy.get_params()[name] == value, name
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")
    copy.set_params(hidden_layer_sizes=(9,))
    assert copy.fit(*blobs).model_.layers[0].units == 9
    assert clf.hidden_layer_sizes == (7, 5)


def test_pickle_round_trip_predicts_the_same_and_trains_on(blobs):
    x, y = blobs
    clf = quick().fit(x, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(x), clf.predict_proba(x))
    assert back.get_params() == clf.get_params()
    assert back.n_iter_ == clf.n_iter_ and list(back.classes_) == list(clf.classes_)
    # the optimizer state travels too: one more epoch gives the same bits on both
    clf.partial_fit(x, y)
    back.partial_fit(x, y)
    np.testing.assert_array_equal(back.predict_proba(x), clf.predict_proba(x))


def test_pickle_of_an_unfitted_estimator():
    clf = quick(alpha=0.5)
    back = pickle.loads(pickle.dumps(clf))
    assert back.get_params() == clf.get_params()


# ---------------------------------------------------------------------- determinism

def test_same_random_state_same_bits_and_global_state_untouched(blobs):
    x, y = blobs
    np.random.seed(123)
    random.seed(123)
    fastnn.utils.set_random_seed(123)
    expected = (np.random.random(), random.random(), fastnn._random.next_seed())
    np.random.seed(123)
    random.seed(123)
    fastnn.utils.set_random_seed(123)
    first = quick(random_state=7).fit(x, y).predict_proba(x)
    # fitting left NumPy's, Python's and fastnn's global streams where they were
    assert (np.random.random(), random.random(), fastnn._random.next_seed()) == expected
    np.testing.assert_array_equal(quick(random_state=7).fit(x, y).predict_proba(x), first)
    assert not np.array_equal(quick(random_state=8).fit(x, y).predict_proba(x), first)


def test_random_state_none_follows_fastnn_set_random_seed(blobs):
    x, y = blobs
    fastnn.utils.set_random_seed(5)
    first = quick(random_state=None).fit(x, y).predict_proba(x)
    fastnn.utils.set_random_seed(5)
    np.testing.assert_array_equal(quick(random_state=None).fit(x, y).predict_proba(x),
                                  first)


# ---------------------------------------------------------------------- sample weights

def test_sample_weight_equals_repeating_samples(blobs):
    # full batches in float64: weight k is k copies of the sample, to rounding (scikit-
    # learn's weighted loss sum(w * loss) / sum(w), its alpha per unit of weight)
    x, y = blobs[0][:60], blobs[1][:60]
    weights = np.random.RandomState(0).randint(0, 4, len(x))
    settings = dict(dtype="float64", batch_size=1000, alpha=0.01, n_iter_no_change=None)
    weighted = quick(**settings).fit(x, y, sample_weight=weights)
    repeated = quick(**settings).fit(np.repeat(x, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(x), repeated.predict_proba(x),
                               rtol=1e-9, atol=1e-12)
    unweighted = quick(**settings).fit(x, y)
    assert np.abs(unweighted.predict_proba(x) - weighted.predict_proba(x)).max() > 1e-3


def test_sample_weight_moves_predictions_toward_the_heavy_class(blobs):
    x, y = blobs
    plain = quick().fit(x, y)
    heavy = quick().fit(x, y, sample_weight=np.where(y == 2, 20.0, 1.0))
    assert (heavy.predict(x) == 2).sum() > (plain.predict(x) == 2).sum()
    assert heavy.predict_proba(x)[:, 2].mean() > plain.predict_proba(x)[:, 2].mean() + 0.05


def test_equal_sample_weights_scale_only_the_penalty(blobs):
    # as in scikit-learn, alpha is per unit of sample weight: weights of 1 change nothing,
    # weights of 3 are every sample three times, so the penalty weighs a third as much
    x, y = blobs
    plain = quick(alpha=0.3).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(
        quick(alpha=0.3).fit(x, y, sample_weight=np.ones(len(x))).predict_proba(x), plain)
    np.testing.assert_allclose(
        quick(alpha=0.3).fit(x, y, sample_weight=np.full(len(x), 3.0)).predict_proba(x),
        quick(alpha=0.1).fit(x, y).predict_proba(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- regression

def test_multi_output_regression():
    x, y = make_regression(n_samples=400, n_features=5, n_targets=3, noise=1.0,
                           random_state=0)
    y = y / y.std(axis=0)
    reg = quick(MLPRegressor, hidden_layer_sizes=(32,), epochs=300).fit(x, y)
    pred = reg.predict(x)
    assert pred.shape == (400, 3) and reg.n_outputs_ == 3
    assert reg.model_.output_shape == (None, 3)
    assert reg.score(x, y) == pytest.approx(r2_score(y, pred))
    assert reg.score(x, y) > 0.95
    single = quick(MLPRegressor, epochs=300).fit(x, y[:, 0])
    assert single.predict(x).shape == (400,) and single.score(x, y[:, 0]) > 0.95


def test_regressor_loss_option():
    x, y = make_regression(n_samples=200, n_features=3, random_state=0)
    reg = quick(MLPRegressor, loss="mae").fit(x, y / y.std())
    assert type(reg.model_.loss).__name__ == "MeanAbsoluteError"
    with pytest.raises(ValueError, match="loss"):
        quick(MLPRegressor, loss="nope").fit(x, y)


# ---------------------------------------------------------------------- classification

def test_binary_and_multilabel_targets():
    x, y = make_classification(n_samples=200, n_features=5, random_state=1)
    labels = np.where(y == 1, "yes", "no")
    clf = quick().fit(x, labels)
    assert clf.model_.output_shape == (None, 1) and clf.target_type_ == "binary"
    proba = clf.predict_proba(x)
    assert proba.shape == (200, 2) and list(clf.classes_) == ["no", "yes"]
    np.testing.assert_allclose(proba[:, 1], clf.model_.predict(x, verbose=0)[:, 0],
                               rtol=1e-6)
    assert clf.score(x, labels) > 0.85
    multilabel = np.stack([y, 1 - y, (x[:, 0] > 0).astype(int)], axis=1)
    ml = quick(epochs=100).fit(x, multilabel)
    assert ml.target_type_ == "multilabel-indicator" and list(ml.classes_) == [0, 1, 2]
    assert ml.predict(x).shape == (200, 3) and ml.predict_proba(x).shape == (200, 3)
    assert (ml.predict(x) == multilabel).mean() > 0.85


def test_dataframe_gives_feature_names(blobs):
    pd = pytest.importorskip("pandas", reason="feature_names_in_ comes from a DataFrame")
    x, y = blobs
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    clf = quick().fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(x)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[frame.columns[::-1]])


def test_wrong_number_of_features_at_predict(blobs):
    x, y = blobs
    clf = quick().fit(x, y)
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting "
                                         "6 features as input"):
        clf.predict(x[:, :5])
