"""Losses, by Keras name and class, each computing its value and gradient in one call.

Keras reduces a loss by averaging over the last axis (summing, for the cross-entropies)
and then over the batch. Softmax + (sparse) categorical cross-entropy and sigmoid +
binary cross-entropy are fused when the model's last layer has that activation, so the
gradient with respect to the logits is simply p - y, stable for any logit.
"""
import numpy

from fastnn import _custom_loss, _validation
from fastnn._loss_base import REDUCTIONS, Loss, _binary, _Crossentropy, _Smoothed
from fastnn._registry import Registry
from fastnn.backend.reference import (BCE, CCE, COSINE, FOCAL_BCE, FOCAL_CCE, HINGE, HUBER,
                                      KLD, LOG_COSH, MAE, MAPE, MSE, MSLE, POISSON,
                                      SIGMOID_BCE, SIGMOID_FOCAL_BCE, SOFTMAX_CCE,
                                      SOFTMAX_FOCAL_CCE)

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge",
           "KLDivergence", "MeanSquaredLogarithmicError", "MeanAbsolutePercentageError",
           "LogCosh", "Poisson", "CosineSimilarity", "BinaryFocalCrossentropy",
           "CategoricalFocalCrossentropy", "REDUCTIONS", "get"]

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


class BinaryCrossentropy(_Smoothed):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis."""
    kind = BCE
    logits_kind = SIGMOID_BCE
    fused_activation = "sigmoid"
    smoothing_classes = 2

    def prepare_target(self, y, n_outputs, dtype):
        return self._smooth(_binary(super().prepare_target(y, n_outputs, dtype), self.name))


class CategoricalCrossentropy(_Smoothed):
    """-sum(y log p) over the last axis, y one-hot (or soft) labels."""
    kind = CCE
    logits_kind = SOFTMAX_CCE
    fused_activation = "softmax"

    def prepare_target(self, y, n_outputs, dtype):
        return self._smooth(super().prepare_target(y, n_outputs, dtype))


class BinaryFocalCrossentropy(_Smoothed):
    """Keras 3's binary focal cross-entropy (Lin et al., 2018): the binary cross-entropy
    of each output times the focal factor (1 - p_t)^gamma, p_t = y p + (1 - y)(1 - p),
    and, with `apply_class_balancing`, times alpha for y = 1 and 1 - alpha for y = 0;
    averaged over the last axis. `gamma` 0 without balancing is binary_crossentropy.

    Args:
        apply_class_balancing: whether to weight the classes by alpha and 1 - alpha.
        alpha: the weight of class 1 under class balancing (default 0.25).
        gamma: the focusing parameter, >= 0 (default 2.0).
        from_logits, label_smoothing, axis, reduction, name: as BinaryCrossentropy.

    Example:
        >>> from fastnn import losses
        >>> loss = losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)
        >>> round(loss([[0, 1, 0, 0]], [[-18.6, 0.51, 2.94, -12.8]]), 3)
        0.691
    """
    kind = FOCAL_BCE
    logits_kind = SIGMOID_FOCAL_BCE
    fused_activation = "sigmoid"
    smoothing_classes = 2

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = _validation.real(alpha, "alpha")
        self.gamma = _validation.real(gamma, "gamma", 0)

    def prepare_target(self, y, n_outputs, dtype):
        return self._smooth(_binary(super().prepare_target(y, n_outputs, dtype), self.name))

    def _param(self):
        return (self.gamma, self.alpha, float(self.apply_class_balancing))

    def get_config(self):
        return {"apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma, **super().get_config()}


class CategoricalFocalCrossentropy(_Smoothed):
    """Keras 3's categorical focal cross-entropy (Lin et al., 2018):
    sum_j alpha_j (1 - p_j)^gamma (-y_j log p_j) over the last axis, p the predictions
    normalised to sum 1 (or the softmax of logits) and clipped to [eps, 1 - eps].

    Args:
        alpha: the classes' weight: one float (default 0.25), or a list of one per class.
        gamma: the focusing parameter, >= 0 (default 2.0).
        from_logits, label_smoothing, axis, reduction, name: as CategoricalCrossentropy.

    Example:
        >>> from fastnn import losses
        >>> loss = losses.CategoricalFocalCrossentropy()
        >>> round(loss([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), 4)
        0.2332
    """
    kind = FOCAL_CCE
    logits_kind = SOFTMAX_FOCAL_CCE
    fused_activation = "softmax"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)
        if isinstance(alpha, (list, tuple, numpy.ndarray)):
            alpha = [_validation.real(a, "alpha") for a in numpy.ravel(alpha)]
            if not alpha:
                raise ValueError("`alpha` must be a number or a non-empty list of them")
        self.alpha = alpha if isinstance(alpha, list) else _validation.real(alpha, "alpha")
        self.gamma = _validation.real(gamma, "gamma", 0)

    def prepare_target(self, y, n_outputs, dtype):
        if isinstance(self.alpha, list) and len(self.alpha) != n_outputs:
            raise ValueError(f"`alpha` must hold one weight per class ({n_outputs}, the "
                             f"model's outputs) for loss {self.name!r}; got "
                             f"{len(self.alpha)}")
        return self._smooth(super().prepare_target(y, n_outputs, dtype))

    def _param(self):
        alpha = self.alpha if isinstance(self.alpha, list) else [self.alpha]
        return (self.gamma, *alpha)

    def get_config(self):
        return {"alpha": self.alpha, "gamma": self.gamma, **super().get_config()}


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
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
}
# Keras 3 also takes a loss class's name as a string ("CategoricalFocalCrossentropy")
_NAMES.update({cls.__name__: cls for cls in set(_NAMES.values())})
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


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary focal cross-entropy."""
    return _per_sample(BinaryFocalCrossentropy, y_true, y_pred,
                       apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                       from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Per-sample categorical focal cross-entropy."""
    return _per_sample(CategoricalFocalCrossentropy, y_true, y_pred, alpha=alpha,
                       gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing,
                       axis=axis)


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
            "sparse_categorical_crossentropy", "binary_focal_crossentropy",
            "categorical_focal_crossentropy", "mean_squared_logarithmic_error",
            "mean_absolute_percentage_error", "log_cosh", "poisson", "cosine_similarity"]
