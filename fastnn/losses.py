"""Losses, by Keras name and class, each computing its value and gradient in one call.

Keras reduces a loss by averaging over the last axis (summing, for the cross-entropies)
and then over the batch. Softmax + (sparse) categorical cross-entropy and sigmoid +
binary cross-entropy are fused when the model's last layer has that activation, so the
gradient with respect to the logits is simply p - y, stable for any logit.
"""
import numpy

from fastnn import _validation
from fastnn._registry import Configurable, Registry
from fastnn.backend import get_backend
from fastnn.backend.reference import (BCE, CCE, HINGE, HUBER, KLD, MAE, MSE, SIGMOID_BCE,
                                      SOFTMAX_CCE)

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge",
           "KLDivergence", "get"]


class Loss(Configurable):
    """Base class: a named loss with a kernel code and Keras' reduction."""

    kind = None
    sparse = False

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {name!r}")
        self.name = name or _SNAKE[type(self).__name__]

    def kernel(self, last_activation):
        """(kernel code, whether it is fused with `last_activation`)."""
        return self.kind, False

    def prepare_target(self, y, n_outputs, dtype):
        """The target as the kernel expects it; `y` is already a finite numeric array."""
        y = numpy.asarray(y, dtype=dtype)
        if y.ndim == 1 and n_outputs == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(f"`y` must have shape (n_samples, {n_outputs}) to match the "
                             f"model's output for loss {self.name!r}; got shape {y.shape}")
        return numpy.ascontiguousarray(y)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The mean loss of `y_pred` against `y_true`, as a float."""
        backend = get_backend()
        y_pred, y_true, w = _validation.loss_arguments(y_true, y_pred, sample_weight)
        dtype = y_pred.dtype if y_pred.dtype in (numpy.float32, numpy.float64) else "float64"
        pred = backend.asarray(numpy.ascontiguousarray(y_pred, dtype=dtype))
        target = backend.asarray(self.prepare_target(y_true, pred.shape[1], dtype))
        if w is not None:
            w = backend.asarray(numpy.ascontiguousarray(w, dtype=dtype))
        kind, _ = self.kernel(None)
        return backend.loss_grad(kind, self._param(), pred, target, w)

    def _param(self):
        return 0.0

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {"name": self.name}


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over the last axis."""
    kind = MSE


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis."""
    kind = MAE


class Huber(Loss):
    """Quadratic for errors up to `delta`, linear beyond."""
    kind = HUBER

    def __init__(self, delta=1.0, name=None):
        super().__init__(name or "huber_loss")
        self.delta = _validation.real(delta, "delta", 0, min_open=True)

    def _param(self):
        return self.delta

    def get_config(self):
        return {"delta": self.delta, "name": self.name}


class Hinge(Loss):
    """mean(max(1 - y_true * y_pred, 0)); 0/1 labels are mapped to -1/1 as in Keras."""
    kind = HINGE

    def prepare_target(self, y, n_outputs, dtype):
        y = super().prepare_target(y, n_outputs, dtype)
        if numpy.isin(y, (0.0, 1.0)).all():
            y = 2.0 * y - 1.0
        return y.astype(dtype)


class KLDivergence(Loss):
    """sum(y_true * log(y_true / y_pred)) over the last axis."""
    kind = KLD


class _Crossentropy(Loss):
    fused_activation = None
    logits_kind = None

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def kernel(self, last_activation):
        if self.from_logits:
            return self.logits_kind, False
        if last_activation is not None and last_activation.name == self.fused_activation:
            return self.logits_kind, True
        return self.kind, False

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name}


class BinaryCrossentropy(_Crossentropy):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis."""
    kind = BCE
    logits_kind = SIGMOID_BCE
    fused_activation = "sigmoid"

    def prepare_target(self, y, n_outputs, dtype):
        y = super().prepare_target(y, n_outputs, dtype)
        if ((y < 0) | (y > 1)).any():
            raise ValueError(f"`y` must hold values in [0, 1] for binary_crossentropy; got "
                             f"values in [{y.min()}, {y.max()}]")
        return y


class CategoricalCrossentropy(_Crossentropy):
    """-sum(y log p) over the last axis, y one-hot (or soft) labels."""
    kind = CCE
    logits_kind = SOFTMAX_CCE
    fused_activation = "softmax"


class SparseCategoricalCrossentropy(_Crossentropy):
    """Categorical cross-entropy against integer class labels."""
    kind = CCE
    logits_kind = SOFTMAX_CCE
    fused_activation = "softmax"
    sparse = True

    def prepare_target(self, y, n_outputs, dtype):
        y = numpy.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"`y` must be integer class labels of shape (n_samples,) for "
                             f"sparse_categorical_crossentropy; got shape {y.shape}")
        if y.size and (numpy.any(y != numpy.round(y)) or y.min() < 0 or y.max() >= n_outputs):
            raise ValueError(f"`y` must hold integer class labels in [0, {n_outputs - 1}] "
                             f"(the model has {n_outputs} outputs); got values in "
                             f"[{y.min()}, {y.max()}]")
        return numpy.ascontiguousarray(y, dtype=numpy.int64)


_SNAKE = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
          "Huber": "huber_loss", "Hinge": "hinge", "KLDivergence": "kl_divergence",
          "BinaryCrossentropy": "binary_crossentropy",
          "CategoricalCrossentropy": "categorical_crossentropy",
          "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy"}

_NAMES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber, "hinge": Hinge,
    "kld": KLDivergence, "kl_divergence": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
REGISTRY = Registry("loss", "loss", _NAMES, base=Loss)


def get(identifier):
    """The loss named `identifier` (a Keras name), or `identifier` if it is a Loss."""
    loss = REGISTRY.get(identifier)
    if isinstance(identifier, str) and identifier.lower() in ("mse", "mae"):
        loss.name = identifier.lower()
    return loss


def serialize(loss):
    """{'class_name': ..., 'config': ...} of a loss."""
    return REGISTRY.serialize(loss)
