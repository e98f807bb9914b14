"""fastnn.sklearn's estimators through scikit-learn's own estimator checks
(`sklearn.utils.estimator_checks.parametrize_with_checks`), with float32 models (fastnn's
default) and float64 models (scikit-learn's MLP computes in float64).

A check that cannot apply is listed in EXPECTED_FAILURES with the reason; pytest reports
it as xfail with that reason (and as XPASS, a failure, should it start passing). A few
checks skip themselves where they do not apply (`-rs` shows why): the array-API checks
without SCIPY_ARRAY_API set, and decision_function checks (these classifiers give
predict_proba).
"""
import pytest

pytest.importorskip("sklearn", reason="fastnn.sklearn needs scikit-learn "
                                      "(pip install fastnn[sklearn])")
from sklearn.utils.estimator_checks import (estimator_checks_generator,  # noqa: E402
                                             parametrize_with_checks)

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Small, quick instances: the checks' data are 10..300 samples of a few features, and
# check_classifiers_train / check_regressors_train want accuracy > 0.83 / R^2 > 0.5.
SETTINGS = dict(hidden_layer_sizes=(16,), epochs=100, learning_rate=0.01, random_state=0)
ESTIMATORS = [MLPClassifier(**SETTINGS), MLPRegressor(**SETTINGS),
              MLPClassifier(**SETTINGS, dtype="float64"),
              MLPRegressor(**SETTINGS, dtype="float64")]

_FLOAT32_ROUNDING = (
    "a float32 model: fitting with integer sample weights and fitting on the repeated "
    "samples optimise the same objective (weights are normalised as scikit-learn's "
    "sum(w * loss) / sum(w), alpha scaled alike), but the sums round differently in "
    "float32, so the outputs agree to ~1e-6 relative, not the check's rtol=1e-7; the "
    "float64 instances pass this check")

# {check name: reason}, per instance
EXPECTED_FAILURES = {
    "float32": {"check_sample_weight_equivalence_on_dense_data": _FLOAT32_ROUNDING},
    "float64": {},
}


def expected_failures(estimator):
    """The checks `estimator` cannot pass, with the reason (parametrize_with_checks'
    expected_failed_checks)."""
    return EXPECTED_FAILURES["float64" if estimator.dtype == "float64" else "float32"]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures,
                         xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_expected_failure_names_a_check_that_runs():
    # a reason for a check that no longer exists (renamed in a newer scikit-learn) would
    # be an exemption that exempts nothing
    for estimator in ESTIMATORS:
        names = {getattr(check, "func", check).__name__
                 for _, check in estimator_checks_generator(estimator)}
        assert set(expected_failures(estimator)) <= names
