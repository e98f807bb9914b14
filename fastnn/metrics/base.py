"""The Metric base class and the metrics that are running means of per-sample values
(accuracies, mean errors).

Metrics read predictions in NumPy; they are cheap next to a training step and keep
their running sums in float64.
"""
import re

import numpy

from fastnn import _validation
from fastnn._registry import Registry

__all__ = ["Metric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError"]


class Metric:
    """Base class: a sample-weighted mean of per-sample values."""

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {name!r}")
        cls = type(self).__name__
        self.name = name or _SNAKE.get(cls) or snake_case(cls)
        self.reset_state()

    def values(self, y_true, y_pred):
        """Per-sample metric values (1-D)."""
        raise NotImplementedError

    # whether `update_state` only adds sums over samples, so that a run of batches may
    # be added at once (read by `sums_over_samples` for the class that defines it)
    additive = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch."""
        y_pred, y_true, w = _validation.loss_arguments(y_true, y_pred, sample_weight)
        self._check_labels(y_true, y_pred)
        v = numpy.asarray(self.values(y_true, y_pred), dtype=numpy.float64)
        if w is None:
            self._total += float(v.sum())
            self._count += v.shape[0]
        else:
            self._total += float((v * w).sum())
            self._count += float(w.sum())

    def _check_labels(self, y_true, y_pred):
        """A ValueError unless `y_true` holds one value per value of `y_pred` (element-wise
        metrics; metrics of labels check them instead)."""
        if y_true.size != y_pred.size:
            raise ValueError(f"`y_true` must have shape {y_pred.shape}, as `y_pred`, for "
                             f"metric {self.name!r}; got shape {y_true.shape}")

    def result(self):
        """The mean so far (0 before any update)."""
        return self._total / self._count if self._count else 0.0

    def reset_state(self):
        """Forget every batch."""
        self._total, self._count = 0.0, 0

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`."""
        return cls(**config)

    def __repr__(self):
        value = self.result()
        shown = f"{value:.4f}" if isinstance(value, float) else numpy.array2string(
            numpy.asarray(value), precision=4)
        return f"<metric {self.name}: {shown}>"


def _as_labels(y_true):
    y = numpy.asarray(y_true)
    return y.reshape(-1) if y.ndim > 1 and y.shape[-1] == 1 else y


class Accuracy(Metric):
    """How often y_pred equals y_true exactly."""

    def values(self, y_true, y_pred):
        return (y_true.reshape(y_pred.shape) == y_pred).reshape(len(y_pred), -1).mean(axis=1)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true."""

    def __init__(self, name=None, threshold=0.5):
        self.threshold = _validation.real(threshold, "threshold")
        super().__init__(name)

    def values(self, y_true, y_pred):
        # as in Keras 3: only y_pred is thresholded; a soft label matches no prediction
        hit = (y_pred > self.threshold) == y_true.reshape(y_pred.shape)
        return hit.reshape(len(y_pred), -1).mean(axis=1)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot labels)."""

    def values(self, y_true, y_pred):
        return y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape).argmax(axis=-1)


def _check_sparse_labels(metric, y_true, y_pred, in_range=False):
    """A ValueError unless `y_true` holds one class label per row of `y_pred` (and, when
    `in_range`, labels in [0, n_outputs))."""
    labels = _as_labels(y_true)
    if labels.ndim != 1:
        raise ValueError(f"`y_true` must be integer class labels of shape ({len(y_pred)},) "
                         f"for metric {metric.name!r}; got shape {y_true.shape}")
    if in_range and (labels.min() < 0 or labels.max() >= y_pred.shape[1]
                     or (labels != numpy.round(labels)).any()):
        raise ValueError(f"`y_true` must hold integer class labels in [0, "
                         f"{y_pred.shape[1] - 1}] for metric {metric.name!r}; got values in "
                         f"[{labels.min()}, {labels.max()}]")


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label."""

    def _check_labels(self, y_true, y_pred):
        _check_sparse_labels(self, y_true, y_pred)

    def values(self, y_true, y_pred):
        return y_pred.argmax(axis=-1) == _as_labels(y_true)


class SparseTopKCategoricalAccuracy(Metric):
    """How often the integer label is among the k highest predictions."""

    def __init__(self, k=5, name=None):
        self.k = _validation.positive_int(k, "k")
        super().__init__(name)

    def _check_labels(self, y_true, y_pred):
        _check_sparse_labels(self, y_true, y_pred, in_range=True)

    def values(self, y_true, y_pred):
        labels = _as_labels(y_true).astype(numpy.int64)
        target = numpy.take_along_axis(y_pred, labels[:, None], axis=1)
        # ties count in the label's favour, as in Keras' in_top_k
        return (y_pred > target).sum(axis=1) < self.k

    def get_config(self):
        return {"name": self.name, "k": self.k}


class TopKCategoricalAccuracy(SparseTopKCategoricalAccuracy):
    """How often argmax(y_true) is among the k highest predictions."""

    def _check_labels(self, y_true, y_pred):
        Metric._check_labels(self, y_true, y_pred)

    def values(self, y_true, y_pred):
        return super().values(y_true.reshape(y_pred.shape).argmax(axis=-1), y_pred)


class MeanSquaredError(Metric):
    """mean((y_pred - y_true)^2) per sample."""

    def values(self, y_true, y_pred):
        d = y_pred - y_true.reshape(y_pred.shape)
        return (d * d).reshape(len(y_pred), -1).mean(axis=1)


class MeanAbsoluteError(Metric):
    """mean(|y_pred - y_true|) per sample."""

    def values(self, y_true, y_pred):
        d = numpy.abs(y_pred - y_true.reshape(y_pred.shape))
        return d.reshape(len(y_pred), -1).mean(axis=1)


_SNAKE = {"Accuracy": "accuracy", "BinaryAccuracy": "binary_accuracy",
          "CategoricalAccuracy": "categorical_accuracy",
          "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
          "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
          "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
          "MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error"}


def snake_case(name):
    """A class name in Keras' snake case ('TruePositives' -> 'true_positives', 'AUC' ->
    'auc'), the default name of a metric."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
