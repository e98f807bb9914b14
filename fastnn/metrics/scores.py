"""F-scores and R2 (sums over samples, combined in `result`), the cross-entropy metrics,
and MeanMetricWrapper, the running mean of a function's per-sample values: Keras 3's
definitions, in float64."""
import warnings

import numpy

from fastnn import _validation
from fastnn.metrics.base import Metric, _check_sparse_labels, _as_labels

EPSILON = 1e-7   # Keras' backend.epsilon()

__all__ = ["FBetaScore", "F1Score", "R2Score", "MeanMetricWrapper", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy"]


def _same_2d(metric, y_true, y_pred, sample_weight):
    """(y_true, y_pred as float64 arrays of y_pred's 2-D shape, weights or None)."""
    y_pred, y_true, w = _validation.loss_arguments(y_true, y_pred, sample_weight)
    if y_true.size != y_pred.size:
        raise ValueError(f"`y_true` must have shape {y_pred.shape}, as `y_pred`, for "
                         f"metric {metric.name!r} (one-hot labels, not class indices); "
                         f"got shape {y_true.shape}")
    return y_true.reshape(y_pred.shape).astype(numpy.float64), \
        y_pred.astype(numpy.float64), w


class FBetaScore(Metric):
    """(1 + beta^2) * precision * recall / (beta^2 * precision + recall), per output.

    Args:
        average: None (one score per output), 'micro' (of the counts of all outputs),
            'macro' (the mean of the outputs' scores) or 'weighted' (their mean weighted
            by the outputs' positive labels).
        beta: the weight of recall against precision (> 0).
        threshold: predictions above it are positive; None makes the highest prediction
            of each sample positive (unless it is 0).
    """

    additive = True

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score"):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: "
                             f"{{None, 'micro', 'macro', 'weighted'}}. Received: "
                             f"average={average}")
        self.average = average
        self.beta = _validation.real(beta, "beta", 0, min_open=True)
        self.threshold = None if threshold is None else _validation.real(
            threshold, "threshold", 0, 1, min_open=True)
        super().__init__(name)

    def reset_state(self):
        self._state = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's weighted true / false positives and false negatives."""
        y_true, y_pred, w = _same_2d(self, y_true, y_pred, sample_weight)
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            y_pred = ((y_pred >= top) & (numpy.abs(y_pred) > 1e-9)).astype(numpy.float64)
        else:
            y_pred = (y_pred > self.threshold).astype(numpy.float64)
        axis = None if self.average == "micro" else 0

        def weighted_sum(v):
            return (v if w is None else v * w[:, None]).sum(axis=axis)

        batch = {"tp": weighted_sum(y_pred * y_true),
                 "fp": weighted_sum(y_pred * (1 - y_true)),
                 "fn": weighted_sum((1 - y_pred) * y_true),
                 "support": weighted_sum(y_true)}
        if self._state is None:
            self._state = batch
        else:
            for k, v in batch.items():
                self._state[k] = self._state[k] + v

    def result(self):
        """The score (per output with average=None; 0 before any update)."""
        if self._state is None:
            return 0.0
        s = self._state
        precision = s["tp"] / (s["tp"] + s["fp"] + EPSILON)
        recall = s["tp"] / (s["tp"] + s["fn"] + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            return float((score * s["support"] / (s["support"].sum() + EPSILON)).sum())
        if self.average is not None:
            return float(numpy.mean(score))
        return score

    def get_config(self):
        return {"name": self.name, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score"):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """The coefficient of determination, 1 - SS_res / SS_tot, per output then
    aggregated.

    Args:
        class_aggregation: 'uniform_average' (the mean over outputs),
            'variance_weighted_average' (weighted by each output's SS_tot) or None (one
            score per output).
        num_regressors: the number of independent variables, for the adjusted R2 (0:
            not adjusted).
    """

    additive = True

    def __init__(self, class_aggregation="uniform_average", num_regressors=0,
                 name="r2_score"):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one "
                             "of (None, 'uniform_average', 'variance_weighted_average'). "
                             f"Received: class_aggregation={class_aggregation}")
        self.class_aggregation = class_aggregation
        self.num_regressors = _validation.integer(num_regressors, "num_regressors",
                                                  minimum=0)
        super().__init__(name)

    def reset_state(self):
        self._state = None
        self._num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's weighted sums of y, y^2 and squared residuals."""
        y_true, y_pred, w = _same_2d(self, y_true, y_pred, sample_weight)
        w = numpy.ones(y_true.shape) if w is None else numpy.broadcast_to(
            w.astype(numpy.float64)[:, None], y_true.shape)
        batch = {"sum": (y_true * w).sum(axis=0), "squared_sum": (y_true * y_true * w).sum(
            axis=0), "residual": ((y_true - y_pred) ** 2 * w).sum(axis=0),
            "count": w.sum(axis=0)}
        if self._state is None:
            self._state = batch
        else:
            for k, v in batch.items():
                self._state[k] = self._state[k] + v
        self._num_samples += y_true.size

    def result(self):
        """The score (per output with class_aggregation=None; 0 before any update)."""
        if self._state is None:
            return 0.0
        s = self._state
        with numpy.errstate(divide="ignore", invalid="ignore"):
            mean = s["sum"] / s["count"]
            total = s["squared_sum"] - s["sum"] * mean
            raw = 1 - s["residual"] / total
        raw = numpy.where(numpy.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = float(numpy.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            r2 = float((total * raw).sum() / total.sum())
        else:
            r2 = raw
        n, p = self._num_samples, self.num_regressors
        if p != 0:
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
        return r2

    def get_config(self):
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class MeanMetricWrapper(Metric):
    """The running mean of `fn(y_true, y_pred, **kwargs)`: per-sample values (values of
    more dimensions are averaged over all but the first; a scalar counts as one value).
    A plain function given to `compile(metrics=...)` becomes one, named after it."""

    def __init__(self, fn, name=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"`fn` must be a function; got {fn!r}")
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", None))

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's values of the function."""
        v = numpy.asarray(self._fn(y_true, y_pred, **self._fn_kwargs), dtype=numpy.float64)
        if v.ndim > 1:
            v = v.reshape(len(v), -1).mean(axis=1)
        if sample_weight is None:
            self._total += float(v.sum())
            self._count += v.size
            return
        w = numpy.broadcast_to(numpy.asarray(sample_weight, numpy.float64).reshape(-1),
                               v.shape if v.ndim else (1,))
        self._total += float((v * w).sum())
        self._count += float(w.sum())

    def get_config(self):
        return {"name": self.name, "fn": getattr(self._fn, "__name__", repr(self._fn)),
                **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = fn = config.pop("fn")
        if not callable(fn):
            fn = FUNCTIONS.get(fn)
            if fn is None:
                raise ValueError(f"MeanMetricWrapper: no metric function named {name!r} "
                                 f"is known (load the model with compile=False and compile "
                                 f"it again with the function)")
        return cls(fn, **config)


def _clip(p):
    return numpy.clip(p, EPSILON, 1.0 - EPSILON)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """mean over the last axis of -(y log p + (1 - y) log(1 - p)), per sample."""
    y_pred = numpy.asarray(y_pred, numpy.float64)
    y_true = numpy.asarray(y_true, numpy.float64).reshape(y_pred.shape)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # log sigmoid(x) = -log1p(exp(-x)), written stably for either sign
        log_p = numpy.minimum(y_pred, 0) - numpy.log1p(numpy.exp(-numpy.abs(y_pred)))
        log_q = log_p - y_pred
        return (-y_true * log_p - (1.0 - y_true) * log_q).mean(axis=-1)
    p = _clip(y_pred)
    return -(y_true * numpy.log(p) + (1.0 - y_true) * numpy.log(1.0 - p)).mean(axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             axis=-1):
    """-sum(y log p) over the classes, p normalized to sum 1 (or a softmax of logits)."""
    y_pred = numpy.asarray(y_pred, numpy.float64)
    y_true = numpy.asarray(y_true, numpy.float64).reshape(y_pred.shape)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        z = y_pred - y_pred.max(axis=axis, keepdims=True)
        log_p = z - numpy.log(numpy.exp(z).sum(axis=axis, keepdims=True))
    else:
        log_p = numpy.log(_clip(y_pred / y_pred.sum(axis=axis, keepdims=True)))
    return -(y_true * log_p).sum(axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """categorical_crossentropy of integer class labels."""
    y_pred = numpy.asarray(y_pred, numpy.float64)
    labels = _as_labels(numpy.asarray(y_true)).astype(numpy.int64)
    one_hot = numpy.zeros(y_pred.shape)
    numpy.put_along_axis(one_hot, labels[:, None], 1.0, axis=-1)
    return categorical_crossentropy(one_hot, y_pred, from_logits, axis=axis)


class BinaryCrossentropy(Metric):
    """The mean binary cross-entropy (Keras' metric: predictions clipped to
    [1e-7, 1 - 1e-7], unless `from_logits`)."""

    def __init__(self, name="binary_crossentropy", from_logits=False, label_smoothing=0):
        self.from_logits = bool(from_logits)
        self.label_smoothing = _validation.real(label_smoothing, "label_smoothing", 0, 1)
        super().__init__(name)

    def values(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    """The mean categorical cross-entropy of one-hot (or soft) labels."""

    def __init__(self, name="categorical_crossentropy", from_logits=False,
                 label_smoothing=0, axis=-1):
        if axis not in (-1, 1):
            raise ValueError(f"`axis` must be -1 (the outputs); got {axis!r}")
        self.axis = axis
        super().__init__(name, from_logits, label_smoothing)

    def values(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits,
                                        self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class SparseCategoricalCrossentropy(Metric):
    """The mean categorical cross-entropy of integer class labels; samples labelled
    `ignore_class` count as 0 (and, without sample weights, still count: Keras 3's
    metric)."""

    def __init__(self, name="sparse_categorical_crossentropy", from_logits=False,
                 ignore_class=None, axis=-1):
        if axis not in (-1, 1):
            raise ValueError(f"`axis` must be -1 (the outputs); got {axis!r}")
        self.from_logits, self.axis = bool(from_logits), axis
        self.ignore_class = None if ignore_class is None else _validation.integer(
            ignore_class, "ignore_class")
        super().__init__(name)

    def _check_labels(self, y_true, y_pred):
        _check_sparse_labels(self, y_true, y_pred)

    def values(self, y_true, y_pred):
        labels = _as_labels(y_true)
        if self.ignore_class is not None:
            labels = numpy.where(labels == self.ignore_class, 0, labels)
        values = sparse_categorical_crossentropy(labels, y_pred, self.from_logits)
        if self.ignore_class is not None:
            values = numpy.where(_as_labels(y_true) == self.ignore_class, 0.0, values)
        return values

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch; with sample weights, the samples labelled `ignore_class` are left
        out of the count too (Keras 3 masks the weights, when there are weights)."""
        if self.ignore_class is not None and sample_weight is not None:
            keep = _as_labels(numpy.asarray(y_true)) != self.ignore_class
            sample_weight = numpy.broadcast_to(
                numpy.asarray(sample_weight, numpy.float64).reshape(-1), keep.shape) * keep
        super().update_state(y_true, y_pred, sample_weight)

    additive = True

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


FUNCTIONS = {f.__name__: f for f in (binary_crossentropy, categorical_crossentropy,
                                     sparse_categorical_crossentropy)}
