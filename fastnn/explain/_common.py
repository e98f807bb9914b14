"""The checks and helpers every explanation method shares: inputs and targets as the
model takes them, gradients and outputs in chunks of bounded size."""
import numpy

from fastnn import _validation

# Rows per gradient call when many perturbed copies of the inputs are batched together.
_MAX_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- validation
def _check_model(model):
    if not hasattr(model, "input_gradient") or not hasattr(model, "layers"):
        raise TypeError(f"`model` must be a fastnn Sequential model; got {model!r}")
    if not getattr(model, "built", False):
        raise ValueError("`model` must be built (give the first layer input_shape= or fit it) "
                         "before it can be explained")


def _inputs(model, x, name="x"):
    """(x as a batch of the model's dtype, whether a single sample was given)."""
    _check_model(model)
    sample_shape = tuple(model.input_shape[1:])
    arr = numpy.asarray(x)
    single = arr.ndim == len(sample_shape) and tuple(arr.shape) == sample_shape
    if single:
        arr = arr[None]
    return model._prepare_x(arr, name), single


def _n_outputs(model):
    return int(numpy.prod(model.output_shape[1:]))


def _targets(model, x, target):
    """One output index per sample: `target` (an int or one per sample), or by default the
    predicted class (the output itself for a single-output model)."""
    n_out = _n_outputs(model)
    if target is None:
        if n_out == 1:
            return numpy.zeros(len(x), dtype=numpy.int64)
        return model.predict(x, verbose=0).reshape(len(x), -1).argmax(axis=1)
    t = numpy.asarray(target)
    if t.ndim == 0:
        t = numpy.full(len(x), t)
    if t.shape != (len(x),) or not (numpy.issubdtype(t.dtype, numpy.integer)):
        raise ValueError(f"`target` must be an int or {len(x)} ints (one per sample) in "
                         f"[0, {n_out}); got {target!r}")
    if t.min() < 0 or t.max() >= n_out:
        raise ValueError(f"`target` must be in [0, {n_out}) for a model with {n_out} "
                         f"outputs; got {int(t.min() if t.min() < 0 else t.max())}")
    return t.astype(numpy.int64)


def _check_positive(value, name):
    return _validation.positive_int(value, name)


def _baseline(baseline, x, name="baseline"):
    """`baseline` broadcast to x's shape (a scalar, one sample, or one per sample)."""
    b = numpy.asarray(0.0 if baseline is None else baseline, dtype=x.dtype)
    try:
        return numpy.ascontiguousarray(numpy.broadcast_to(b, x.shape))
    except ValueError:
        raise ValueError(f"`{name}` must be a number or an array broadcastable to x's shape "
                         f"{x.shape}; got shape {b.shape}") from None


def _finish(result, single):
    return result[0] if single else result


# --------------------------------------------------------------------------- gradients
def _one_hot(model, targets, dtype):
    g = numpy.zeros((len(targets), _n_outputs(model)), dtype=dtype)
    g[numpy.arange(len(targets)), targets] = 1.0
    return g.reshape((len(targets),) + tuple(model.output_shape[1:]))


def _gradients(model, x, targets):
    """d output[target_i] / d x_i for each row, in chunks of bounded size."""
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    out = numpy.empty_like(x)
    for start in range(0, len(x), rows):
        sl = slice(start, start + rows)
        out[sl] = model.input_gradient(x[sl], _one_hot(model, targets[sl], x.dtype))
    return out


def _outputs(model, x, targets):
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    pieces = [model.predict(x[s:s + rows], verbose=0).reshape(len(x[s:s + rows]), -1)
              for s in range(0, len(x), rows)]
    return numpy.concatenate(pieces)[numpy.arange(len(x)), targets]
