"""fastnn.sklearn on real data (the bundled UCI digits) inside scikit-learn's tools:
GridSearchCV, cross_val_score, Pipeline; and scikit-learn's own MLPClassifier, trained
alike, as the outside oracle of the accuracy reached."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastnn.sklearn needs scikit-learn "
                                      "(pip install fastnn[sklearn])")
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import MLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    """(x_train, y_train), (x_test, y_test): 1,438 / 359 8x8 digits, pixels in [0, 1]."""
    (x_train, y_train), (x_test, y_test) = fastnn.datasets.load_digits()
    flat = lambda x: x.reshape(len(x), -1).astype(np.float64) / 255.0
    return (flat(x_train), y_train), (flat(x_test), y_test)


def test_grid_search_over_hidden_layer_sizes(digits):
    (x, y), (x_test, y_test) = digits
    search = GridSearchCV(MLPClassifier(epochs=60, random_state=0),
                          {"hidden_layer_sizes": [(4,), (64,)]}, cv=3)
    search.fit(x, y)
    scores = search.cv_results_["mean_test_score"]
    # 4 hidden units are too few for 10 classes of 64 pixels; 64 are plenty
    assert search.best_params_ == {"hidden_layer_sizes": (64,)}
    assert scores[1] > 0.9 and scores[0] < scores[1] - 0.05
    assert search.score(x_test, y_test) > 0.9
    assert search.best_estimator_.model_.layers[0].units == 64


def test_accuracy_matches_sklearn_mlp(digits):
    # the same network, optimizer, batches, penalty and number of epochs as
    # scikit-learn's MLPClassifier (Adam, lr 1e-3, batch min(200, n), alpha 1e-4): the
    # test accuracies agree within a few points, over three seeds each
    (x, y), (x_test, y_test) = digits
    ours, theirs = [], []
    for seed in range(3):
        ours.append(MLPClassifier((64,), epochs=100, random_state=seed)
                    .fit(x, y).score(x_test, y_test))
        with pytest.warns(Warning):   # ConvergenceWarning: max_iter reached
            theirs.append(SklearnMLP((64,), max_iter=100, random_state=seed)
                          .fit(x, y).score(x_test, y_test))
    assert min(theirs) > 0.94
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.03, (ours, theirs)


def test_cross_val_score_of_a_pipeline_with_a_scaler(digits):
    (x, y), _ = digits
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((32,), epochs=40,
                                                             random_state=0))
    scores = cross_val_score(pipeline, x, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.9
    # the folds train separate clones: the pipeline given stays unfitted
    assert not hasattr(pipeline[-1], "model_")


def test_predict_proba_is_the_model_output_in_classes_order(digits):
    (x, y), (x_test, _) = digits
    labels = np.array(list("abcdefghij"))[y]     # string labels
    clf = MLPClassifier((32,), epochs=30, random_state=0).fit(x, labels)
    proba = clf.predict_proba(x_test)
    assert proba.shape == (len(x_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(proba, clf.model_.predict(x_test, verbose=0), rtol=1e-6)
    assert list(clf.classes_) == list("abcdefghij")
    assert (clf.predict(x_test) == clf.classes_[proba.argmax(axis=1)]).all()
