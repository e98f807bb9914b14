"""Losses, by Keras name and class, each computing its value and gradient in one call.

Keras reduces a loss by averaging over the last axis (summing, for the cross-entropies)
and then over the batch. Softmax + (sparse) categorical cross-entropy and sigmoid +
binary cross-entropy are fused when the model's last layer has that activation, so the
gradient with respect to the logits is simply p - y, stable for any logit.
"""
import numpy

from fastnn import _custom_loss, _validation
from fastnn._registry import Configurable, Registry
from fastnn.backend import get_backend
from fastnn.backend.reference import (BCE, CCE, COSINE, HINGE, HUBER, KLD, LOG_COSH, MAE,
                                      MAPE, MSE, MSLE, POISSON, SIGMOID_BCE, SOFTMAX_CCE)

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge",
           "KLDivergence", "MeanSquaredLogarithmicError", "MeanAbsolutePercentageError",
           "LogCosh", "Poisson", "CosineSimilarity", "REDUCTIONS", "get"]

# Keras 3's reductions of the weighted per-sample losses w_i l_i: "sum_over_batch_size"
# and "mean" divide their sum by the number of samples, "mean_with_sample_weight" by the
# sum of the weights (the number of samples without them), "sum" is the sum, and "none"
# (or None) keeps the per-sample values.
REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


class Loss(Configurable):
    """Base class: a named loss with a kernel code and Keras' reduction.

    A loss of your own subclasses it with ``call(self, y_true, y_pred)``, the per-sample
    losses (shape (n_samples,)), as in Keras, and, since fastnn has no automatic
    differentiation, ``gradient(self, y_true, y_pred)``: d call(...)[i] / d y_pred[i] for
    each sample i, shaped as y_pred (training without it raises an error naming it). Both
    get float64 NumPy arrays of shape (n_samples, n_outputs) and run in NumPy on the
    layer-by-layer path; sample and class weights and the reduction apply as for the
    built-in losses (training reduces by sum_over_batch_size). A plain function
    ``loss=fn`` is accepted when it has a ``fn.gradient(y_true, y_pred)`` attribute.
    """

    kind = None
    sparse = False
    call = _custom_loss._no_call
    gradient = _custom_loss._no_gradient

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {name!r}")
        if not any(reduction is r or reduction == r for r in REDUCTIONS):
            raise ValueError(f"`reduction` must be one of {REDUCTIONS}; got {reduction!r}")
        self.name = name or _SNAKE.get(type(self).__name__) or "".join(
            "_" + c.lower() if c.isupper() else c for c in type(self).__name__).lstrip("_")
        self.reduction = reduction

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
        """The loss of `y_pred` against `y_true`, reduced by `reduction`: a float, or the
        per-sample values (shape (n_samples,), weighted) for "none" or None."""
        backend = get_backend()
        y_pred, y_true, w = _validation.loss_arguments(y_true, y_pred, sample_weight)
        dtype = y_pred.dtype if y_pred.dtype in (numpy.float32, numpy.float64) else "float64"
        pred = backend.asarray(numpy.ascontiguousarray(y_pred, dtype=dtype))
        target = backend.asarray(self.prepare_target(y_true, pred.shape[1], dtype))
        if w is not None:
            w = backend.asarray(numpy.ascontiguousarray(w, dtype=dtype))
        kind, _ = self.kernel(None)
        run = (backend.loss_grad if kind is not None else lambda _kind, _param, *args, **kw:
               _custom_loss.value_and_grad(self, backend, *args, **kw))
        if self.reduction in ("sum_over_batch_size", "mean"):
            return run(kind, self._param(), pred, target, w)
        rows = backend.xp.zeros(pred.shape[0], dtype=numpy.float64)
        run(kind, self._param(), pred, target, w, row_loss=rows)
        rows = numpy.asarray(rows.get() if hasattr(rows, "get") else rows)
        if self.reduction in (None, "none"):
            return rows.astype(dtype)
        total = float(rows.sum())
        if self.reduction == "sum" or not rows.size:
            return total
        divisor = float(w.sum()) if w is not None else rows.size   # mean_with_sample_weight
        return total / divisor if divisor else 0.0

    def _param(self):
        return 0.0

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {"reduction": self.reduction, "name": self.name}


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over the last axis."""
    kind = MSE


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis."""
    kind = MAE


class Huber(Loss):
    """Quadratic for errors up to `delta`, linear beyond."""
    kind = HUBER

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or "huber_loss")
        self.delta = _validation.real(delta, "delta", 0, min_open=True)

    def _param(self):
        return self.delta

    def get_config(self):
        return {"delta": self.delta, **super().get_config()}


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

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)

    def kernel(self, last_activation):
        if self.from_logits:
            return self.logits_kind, False
        if last_activation is not None and last_activation.name == self.fused_activation:
            return self.logits_kind, True
        return self.kind, False

    def get_config(self):
        return {"from_logits": self.from_logits, **super().get_config()}


class _Smoothed(_Crossentropy):
    """A cross-entropy with Keras' `label_smoothing`: the targets become
    y (1 - label_smoothing) + label_smoothing / k, k = 2 for the binary one and the number
    of classes for the categorical one; the prepared targets are smoothed once, so every
    path (the compiled training step included) sees the smoothed ones."""
    smoothing_classes = None

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, reduction, name)
        self.label_smoothing = _validation.real(label_smoothing, "label_smoothing", 0)
        if self.label_smoothing > 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1]; got {label_smoothing!r}")
        if axis not in (-1, 1):
            raise ValueError(f"`axis` must be -1 (the last axis); got {axis!r}")

    def _smooth(self, y):
        if not self.label_smoothing:
            return y
        k = self.smoothing_classes or y.shape[1]
        ls = self.label_smoothing
        return numpy.ascontiguousarray(y * (1.0 - ls) + ls / k, dtype=y.dtype)

    def get_config(self):
        return {"label_smoothing": self.label_smoothing, "axis": -1, **super().get_config()}


class BinaryCrossentropy(_Smoothed):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis."""
    kind = BCE
    logits_kind = SIGMOID_BCE
    fused_activation = "sigmoid"
    smoothing_classes = 2

    def prepare_target(self, y, n_outputs, dtype):
        y = super().prepare_target(y, n_outputs, dtype)
        if ((y < 0) | (y > 1)).any():
            raise ValueError(f"`y` must hold values in [0, 1] for binary_crossentropy; got "
                             f"values in [{y.min()}, {y.max()}]")
        return self._smooth(y)


class CategoricalCrossentropy(_Smoothed):
    """-sum(y log p) over the last axis, y one-hot (or soft) labels."""
    kind = CCE
    logits_kind = SOFTMAX_CCE
    fused_activation = "softmax"

    def prepare_target(self, y, n_outputs, dtype):
        return self._smooth(super().prepare_target(y, n_outputs, dtype))


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


class MeanSquaredLogarithmicError(Loss):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    kind = MSLE


class MeanAbsolutePercentageError(Loss):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    kind = MAPE


class LogCosh(Loss):
    """mean(log(cosh(y_pred - y_true))) over the last axis."""
    kind = LOG_COSH


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    kind = POISSON


class CosineSimilarity(Loss):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) over the last axis (`axis` -1);
    each inverse norm is capped at 1 / eps, as Keras' normalize."""
    kind = COSINE

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        if axis not in (-1, 1):
            raise ValueError(f"`axis` must be -1 (the last axis); got {axis!r}")
        self.axis = -1

    def get_config(self):
        return {"axis": self.axis, **super().get_config()}


_SNAKE = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
          "Huber": "huber_loss", "Hinge": "hinge", "KLDivergence": "kl_divergence",
          "BinaryCrossentropy": "binary_crossentropy",
          "CategoricalCrossentropy": "categorical_crossentropy",
          "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
          "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
          "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
          "LogCosh": "log_cosh", "Poisson": "poisson", "CosineSimilarity": "cosine_similarity"}

_NAMES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber, "hinge": Hinge,
    "kld": KLDivergence, "kl_divergence": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "log_cosh": LogCosh, "logcosh": LogCosh, "poisson": Poisson,
    "cosine_similarity": CosineSimilarity,
}
REGISTRY = Registry("loss", "loss", _NAMES, base=Loss)


def get(identifier):
    """The loss named `identifier` (a Keras name), or `identifier` if it is a Loss; a
    function becomes a Loss (this module's own ones their class; see Loss for yours)."""
    if callable(identifier) and not isinstance(identifier, (str, dict, Loss, type)):
        if globals().get(getattr(identifier, "__name__", None)) is identifier:
            return get(identifier.__name__)        # fastnn.losses' own functions
        return _custom_loss.from_function(identifier, Loss)
    loss = REGISTRY.get(identifier)
    if isinstance(identifier, str) and identifier.lower() in ("mse", "mae"):
        loss.name = identifier.lower()
    return loss


def serialize(loss):
    """{'class_name': ..., 'config': ...} of a loss."""
    return REGISTRY.serialize(loss)


# Keras 3's loss functions: the per-sample losses, shape (n_samples,).
def _per_sample(cls, y_true, y_pred, **kwargs):
    return cls(reduction="none", **kwargs)(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error."""
    return _per_sample(MeanSquaredError, y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error."""
    return _per_sample(MeanAbsoluteError, y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss."""
    return _per_sample(Huber, y_true, y_pred, delta=delta)


def hinge(y_true, y_pred):
    """Per-sample hinge loss."""
    return _per_sample(Hinge, y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """Per-sample Kullback-Leibler divergence."""
    return _per_sample(KLDivergence, y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy."""
    return _per_sample(BinaryCrossentropy, y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             axis=-1):
    """Per-sample categorical cross-entropy."""
    return _per_sample(CategoricalCrossentropy, y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample categorical cross-entropy against integer labels."""
    return _per_sample(SparseCategoricalCrossentropy, y_true, y_pred,
                       from_logits=from_logits)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean squared logarithmic error."""
    return _per_sample(MeanSquaredLogarithmicError, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample mean absolute percentage error."""
    return _per_sample(MeanAbsolutePercentageError, y_true, y_pred)


def log_cosh(y_true, y_pred):
    """Per-sample mean log(cosh(error))."""
    return _per_sample(LogCosh, y_true, y_pred)


def poisson(y_true, y_pred):
    """Per-sample Poisson loss."""
    return _per_sample(Poisson, y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample negative cosine similarity."""
    return _per_sample(CosineSimilarity, y_true, y_pred, axis=axis)


__all__ += ["mean_squared_error", "mean_absolute_error", "huber", "hinge", "kl_divergence",
            "binary_crossentropy", "categorical_crossentropy",
            "sparse_categorical_crossentropy", "mean_squared_logarithmic_error",
            "mean_absolute_percentage_error", "log_cosh", "poisson", "cosine_similarity"]
