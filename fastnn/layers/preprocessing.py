"""Normalization and Rescaling, the preprocessing layers of ``keras.layers``."""
import numpy

from fastnn import _validation
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), epsilon) per feature, with the mean and variance
    given or learned from data by `adapt`; `invert=True` maps back.

    Args:
        axis: the axis (or tuple of axes, or None for one scalar) that keeps its own
            statistics; the others are reduced (default -1: one per feature).
        mean, variance: the statistics, given (both) or None to `adapt` them.
        invert: apply the inverse, mean + x * max(sqrt(variance), epsilon).

    Adapted statistics are non-trainable weights (`get_weights`: mean, variance), saved
    in model files.

    Example:
        >>> import numpy
        >>> from fastnn.layers import Normalization
        >>> layer = Normalization()
        >>> layer.adapt(numpy.arange(6.0).reshape(3, 2))
    """

    op_kind = "normalize"

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        self.axis = (int(axis),) if _validation.is_int(axis) else tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError("`mean` and `variance` must be given together, or neither "
                             "(then call `adapt`)")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.mean = self.variance = None

    def _keep(self, ndim):
        keep = sorted(a + ndim if a < 0 else a for a in self.axis)
        if any(not 0 <= a < ndim for a in keep):
            raise ValueError(f"`axis` {self.axis} must be axes of inputs with {ndim} "
                             f"dimensions (batch included)")
        return tuple(keep)

    def build(self, input_shape):
        from fastnn.config import floatx
        ndim = len(input_shape) + 1
        full = (None,) + tuple(input_shape)
        self._keep_axes = self._keep(ndim)
        self._reduce_axes = tuple(d for d in range(ndim) if d not in self._keep_axes)
        self._bshape = tuple(full[d] if d in self._keep_axes else 1 for d in range(ndim))
        dtype = self.dtype or floatx()
        backend = get_backend()
        stat_shape = tuple(full[d] for d in self._keep_axes)
        if self.input_mean is not None:
            self.mean = backend.asarray(numpy.broadcast_to(
                numpy.asarray(self.input_mean, dtype=dtype), stat_shape))
            self.variance = backend.asarray(numpy.broadcast_to(
                numpy.asarray(self.input_variance, dtype=dtype), stat_shape))
        else:
            self.mean = backend.zeros(stat_shape, dtype)
            self.variance = backend.asarray(numpy.ones(stat_shape, dtype))
            self._state, self._state_names = [self.mean, self.variance], ["mean", "variance"]
        self.built = True

    def adapt(self, data, batch_size=None, steps=None):
        """Set the mean and variance from `data`: an array, or an iterable of batches
        (arrays, or (x, ...) tuples whose first element is used)."""
        if self.input_mean is not None:
            raise ValueError("`adapt` needs a layer made without `mean` and `variance`")
        if hasattr(data, "__array__") or isinstance(data, (list, tuple)) and not any(
                isinstance(b, tuple) or hasattr(b, "__array__") for b in data):
            batches = [numpy.asarray(data, dtype=numpy.float64)]
        else:
            batches = (numpy.asarray(b[0] if isinstance(b, tuple) else b,
                                     dtype=numpy.float64) for b in data)
        count, mean, var = 0, None, None
        for i, b in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if b.ndim == 1:
                b = b[:, None]
            if not self.built:
                self.build(b.shape[1:])
            axes = self._reduce_axes
            n = b.size // max(1, int(numpy.prod([b.shape[d] for d in self._keep_axes])))
            b_mean = b.mean(axis=axes)
            b_var = b.var(axis=axes)
            if mean is None:
                count, mean, var = n, b_mean, b_var
                continue
            total = count + n
            delta = b_mean - mean
            new_mean = mean + delta * (n / total)
            var = (var * count + b_var * n + delta ** 2 * (count * n / total)) / total
            count, mean = total, new_mean
        if mean is None:
            raise ValueError("`data` must hold at least one batch to adapt to")
        self.mean[...] = get_backend().asarray(mean.reshape(self.mean.shape))
        self.variance[...] = get_backend().asarray(var.reshape(self.variance.shape))

    def _std(self):
        from fastnn.config import epsilon
        xp = get_backend().xp
        return xp.maximum(xp.sqrt(self.variance), epsilon()).reshape(self._bshape)

    def forward(self, x, training, workspace):
        mean = self.mean.reshape(self._bshape)
        out = mean + x * self._std() if self.invert else (x - mean) / self._std()
        return out.astype(x.dtype, copy=False)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        if not need_input_grad:
            return None
        out = grad * self._std() if self.invert else grad / self._std()
        return out.astype(grad.dtype, copy=False)

    def get_config(self):
        def plain(v):
            return None if v is None else numpy.asarray(v, dtype=numpy.float64).tolist()
        return super().get_config() | {
            "axis": self.axis[0] if len(self.axis) == 1 else list(self.axis) or None,
            "mean": plain(self.input_mean), "variance": plain(self.input_variance),
            "invert": self.invert}


class Rescaling(Layer):
    """x * scale + offset.

    Example:
        >>> from fastnn.layers import Rescaling
        >>> layer = Rescaling(1 / 255)
    """

    op_kind = "rescale"

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _validation.real(scale, "scale")
        self.offset = _validation.real(offset, "offset")

    def forward(self, x, training, workspace):
        return (x * self.scale + self.offset).astype(x.dtype, copy=False)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        return (grad * self.scale).astype(grad.dtype, copy=False) if need_input_grad else None

    def get_config(self):
        return super().get_config() | {"scale": self.scale, "offset": self.offset}
