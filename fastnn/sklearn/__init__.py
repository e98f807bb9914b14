"""scikit-learn estimators backed by fastnn models: `MLPClassifier` and `MLPRegressor`.

They follow scikit-learn's `MLPClassifier` / `MLPRegressor` (hidden-layer sizes, `alpha`,
`batch_size="auto"`, stopping on `tol` / `n_iter_no_change`, `partial_fit`) and scikeras'
`KerasClassifier` (a `model` function returning a compiled model), and pass scikit-learn's
estimator checks: they work with `clone`, `GridSearchCV`, `Pipeline`, `cross_val_score`
and pickle. This module needs scikit-learn (`pip install fastnn[sklearn]`); `import fastnn`
does not import it.

Example:
    >>> from fastnn.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), epochs=50, random_state=0)
    >>> clf.fit(x_train, y_train).score(x_test, y_test)         # doctest: +SKIP
"""
try:
    # validate_data and __sklearn_tags__, which the estimators use, came in 1.6
    from sklearn.utils.validation import validate_data  # noqa: F401
except ImportError as exc:
    raise ImportError("fastnn.sklearn needs scikit-learn >= 1.6: pip install "
                      "fastnn[sklearn]") from exc

from fastnn.sklearn._classifier import MLPClassifier
from fastnn.sklearn._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
