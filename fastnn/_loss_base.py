"""The base of fastnn.losses' classes: Loss (the kernel code, Keras' reductions, a
user's own loss) and the cross-entropies' `from_logits` and `label_smoothing`."""
import numpy

from fastnn import _custom_loss, _validation
from fastnn._registry import Configurable
from fastnn.backend import get_backend

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


_SNAKE = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
          "Huber": "huber_loss", "Hinge": "hinge", "KLDivergence": "kl_divergence",
          "BinaryCrossentropy": "binary_crossentropy",
          "CategoricalCrossentropy": "categorical_crossentropy",
          "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
          "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
          "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
          "LogCosh": "log_cosh", "Poisson": "poisson", "CosineSimilarity": "cosine_similarity",
          "BinaryFocalCrossentropy": "binary_focal_crossentropy",
          "CategoricalFocalCrossentropy": "categorical_focal_crossentropy"}


def _binary(y, name):
    """`y`, refused unless its values lie in [0, 1] (the binary cross-entropies)."""
    if ((y < 0) | (y > 1)).any():
        raise ValueError(f"`y` must hold values in [0, 1] for {name}; got values in "
                         f"[{y.min()}, {y.max()}]")
    return y
