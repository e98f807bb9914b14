"""A user's own loss: a fastnn.losses.Loss subclass with `call` and `gradient` in NumPy
(see Loss's docstring), or a plain function ``fn(y_true, y_pred)`` with a `gradient`
attribute. Both run on the layer-by-layer path; the compiled training step only knows
the built-in loss kernels."""
import numpy


def is_custom(loss):
    """Whether `loss` is a Loss without a kernel code, i.e. a user's own loss."""
    return loss is not None and getattr(loss, "kind", None) is None and hasattr(loss, "call")


def value_and_grad(loss, backend, pred, target, sample_weight=None, grad=None,
                   row_loss=None):
    """What ``backend.loss_grad`` computes, for the user's loss `loss`: the mean batch
    loss sum_i w_i l_i / n (a float), with l = loss.call(y_true, y_pred); grad :=
    w_i / n * loss.gradient(y_true, y_pred)[i] row by row, and row_loss := w_i l_i,
    where given. `call` and `gradient` receive float64 NumPy arrays."""
    p = numpy.asarray(backend.to_numpy(pred), dtype=numpy.float64)
    t = numpy.asarray(backend.to_numpy(target))
    t = t.astype(numpy.float64) if t.dtype.kind == "f" else t
    n = p.shape[0]
    w = (numpy.ones(n) if sample_weight is None
         else numpy.asarray(backend.to_numpy(sample_weight), dtype=numpy.float64))
    rows = _checked(loss.call(t, p), (n,), loss, "call", "(n_samples,)")
    if grad is not None:
        if type(loss).gradient is _no_gradient:
            raise NotImplementedError(
                f"loss {loss.name!r} needs a `gradient(self, y_true, y_pred)` method for "
                f"training: fastnn has no automatic differentiation, so a custom Loss must "
                f"return d call(y_true, y_pred)[i] / d y_pred[i], shaped as y_pred")
        d = _checked(loss.gradient(t, p), p.shape, loss, "gradient", "y_pred's")
        grad[...] = backend.asarray((d * (w / n)[:, None]).astype(grad.dtype))
    if row_loss is not None:
        row_loss[...] = backend.asarray(rows * w)
    return float((rows * w).sum() / n) if n else 0.0


def _checked(value, shape, loss, method, what):
    value = numpy.asarray(value, dtype=numpy.float64)
    if value.shape != shape:
        if method == "call" and value.shape == shape + (1,):
            return value[:, 0]
        raise ValueError(f"loss {loss.name!r}: `{method}` must return an array of shape "
                         f"{what} {shape}; got shape {value.shape}")
    return value


def _no_gradient(self, y_true, y_pred):
    """d call(y_true, y_pred)[i] / d y_pred[i] for each sample i, shaped as `y_pred`: a
    custom loss defines it to train (fastnn has no automatic differentiation)."""
    raise NotImplementedError(f"loss {self.name!r} defines no `gradient` method")


def _no_call(self, y_true, y_pred):
    """The per-sample losses, shape (n_samples,): a custom loss defines it."""
    raise NotImplementedError(f"loss {self.name!r} defines no `call` method")


def from_function(fn, base):
    """The `base` (fastnn.losses.Loss) subclass instance of a plain function
    ``fn(y_true, y_pred)`` (per-sample values) that has a `gradient` attribute
    ``fn.gradient(y_true, y_pred)``; without it, a TypeError saying that training needs
    the gradient."""
    gradient = getattr(fn, "gradient", None)
    if not callable(gradient):
        raise TypeError(
            f"`loss` {getattr(fn, '__name__', fn)!r} is a plain function: fastnn has no "
            f"automatic differentiation, so training needs its gradient. Give the function "
            f"a `gradient(y_true, y_pred)` attribute (d fn(y_true, y_pred)[i] / d "
            f"y_pred[i], shaped as y_pred), or subclass fastnn.losses.Loss with `call` and "
            f"`gradient` methods")

    class FunctionLoss(base):
        def call(self, y_true, y_pred):
            return fn(y_true, y_pred)

        def gradient(self, y_true, y_pred):
            return gradient(y_true, y_pred)

    return FunctionLoss(name=getattr(fn, "__name__", None) or "custom_loss")
