"""Permutation importance (Breiman, 2001)."""
import numpy

from fastnn.explain._common import _check_positive, _inputs


class PermutationImportance:
    """The result of `permutation_importance`.

    Attributes:
        importances_mean: the mean drop in score per feature, (n_features,).
        importances_std: its standard deviation over the repeats.
        importances: every drop, (n_features, n_repeats).
        baseline_score: the score on the unshuffled data.
        metric: the name of the score.
    """

    def __init__(self, importances, baseline_score, metric):
        self.importances = importances
        self.importances_mean = importances.mean(axis=1)
        self.importances_std = importances.std(axis=1)
        self.baseline_score = baseline_score
        self.metric = metric

    def __repr__(self):
        top = int(numpy.argmax(self.importances_mean))
        return (f"<PermutationImportance metric={self.metric!r} baseline={self.baseline_score:.4f} "
                f"n_features={len(self.importances_mean)} top_feature={top}>")


def _accuracy(y_true, y_pred):
    y_pred = y_pred.reshape(len(y_pred), -1)
    pred = (y_pred[:, 0] > 0.5) if y_pred.shape[1] == 1 else y_pred.argmax(axis=1)
    y_true = numpy.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        y_true = y_true.argmax(axis=1)
    return float(numpy.mean(pred.astype(numpy.int64) == y_true.reshape(-1).astype(numpy.int64)))


def _neg_mse(y_true, y_pred):
    pred = numpy.asarray(y_pred, numpy.float64).reshape(len(y_pred), -1)
    return -float(numpy.mean((pred - numpy.asarray(y_true, numpy.float64).reshape(pred.shape))
                             ** 2))


def _metric(model, metric):
    if callable(metric):
        return metric, getattr(metric, "__name__", "score")
    if metric is None:
        act = getattr(model.layers[-1], "activation", None)
        metric = "accuracy" if getattr(act, "name", None) in ("softmax", "sigmoid") else "neg_mse"
    table = {"accuracy": _accuracy, "neg_mse": _neg_mse}
    if metric not in table:
        raise ValueError(f"`metric` must be a callable score(y_true, y_pred) (higher is "
                         f"better) or one of {sorted(table)}; got {metric!r}")
    return table[metric], metric


def permutation_importance(model, x, y, metric=None, n_repeats=5, seed=None):
    """Permutation importance (Breiman, 2001): the drop in score when one feature's column
    is shuffled, breaking its link with the target.

    Args:
        model: a built fastnn model.
        x: inputs, (n_samples, *input_shape); each input element is one feature.
        y: the targets (labels, one-hot rows or values).
        metric: a callable `score(y_true, y_pred)` where higher is better, 'accuracy' or
            'neg_mse'; default accuracy for a softmax or sigmoid output, else 'neg_mse'.
        n_repeats: shuffles per feature.
        seed: seed of the shuffles (`numpy.random.default_rng`).

    Returns:
        A `PermutationImportance` with `importances_mean`, `importances_std`,
        `importances` (n_features, n_repeats) and `baseline_score`.

    Example:
        >>> r = fastnn.explain.permutation_importance(model, x_val, y_val, seed=0)
        >>> r.importances_mean.argsort()[::-1][:3]     # the three most important features
    """
    x, _ = _inputs(model, x)
    y = numpy.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"`x` and `y` must have the same number of samples; got {len(x)} "
                         f"and {len(y)}")
    n_repeats = _check_positive(n_repeats, "n_repeats")
    score, name = _metric(model, metric)
    rng = numpy.random.default_rng(seed)
    flat = x.reshape(len(x), -1)
    base = score(y, model.predict(x, verbose=0))
    drops = numpy.empty((flat.shape[1], n_repeats))
    shuffled = flat.copy()
    for j in range(flat.shape[1]):
        for r in range(n_repeats):
            shuffled[:, j] = flat[rng.permutation(len(x)), j]
            drops[j, r] = base - score(y, model.predict(shuffled.reshape(x.shape), verbose=0))
        shuffled[:, j] = flat[:, j]
    return PermutationImportance(drops, base, name)
