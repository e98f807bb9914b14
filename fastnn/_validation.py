"""Checks at the Python boundary, in one place, with one message template:
the argument, what was expected, what was received."""
import numbers

import numpy


class NotCompiledError(RuntimeError, ValueError):
    """A model was trained or evaluated before `compile()` (a RuntimeError, as in Keras,
    and a ValueError, as fastnn raises for every misuse at the boundary)."""


def positive_int(value, name):
    """`value` as an int > 0, or a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int; got {value!r}")
    return int(value)


def fraction(value, name):
    """`value` as a float in [0, 1), or a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1); got {value!r}")
    return float(value)


def numeric_array(data, name):
    """`data` as a finite numeric NumPy array, or a clear error."""
    if data is None:
        raise ValueError(f"`{name}` must be an array of numbers; got None")
    try:
        arr = numpy.asarray(data)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"`{name}` must be a rectangular array of numbers; got ragged "
                         f"data ({exc})") from None
    kind = arr.dtype.kind  # dtype.kind is much cheaper than issubdtype on the predict path
    if kind == "O":
        raise ValueError(f"`{name}` must be a rectangular array of numbers; got ragged or "
                         f"mixed data (dtype object)")
    if kind == "c":
        raise TypeError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
    if kind not in "fiub":
        raise TypeError(f"`{name}` must hold numbers; got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one sample; got shape {arr.shape}")
    # a sum of finite numbers is finite unless it overflows: only then look element-wise
    if kind == "f" and not numpy.isfinite(arr.sum()) and not numpy.isfinite(arr).all():
        raise not_finite(name, int((~numpy.isfinite(arr)).sum()))
    return arr


def not_finite(name, count):
    """The ValueError for an array `name` holding `count` NaN or infinite values."""
    return ValueError(f"`{name}` must be finite; got {count} NaN or infinite values")


def features(x, input_shape, dtype, name="x"):
    """`x` as a C-contiguous (n_samples, *input_shape) array of `dtype`."""
    arr = numeric_array(x, name)
    if input_shape is not None and tuple(arr.shape[1:]) != tuple(input_shape):
        n_feat = input_shape[0] if len(input_shape) == 1 else input_shape
        what = f"{n_feat} features" if len(input_shape) == 1 else f"sample shape {input_shape}"
        raise ValueError(f"`{name}` must have {what} (from input_shape={tuple(input_shape)}); "
                         f"got shape {arr.shape}")
    if arr.ndim < 2:
        raise ValueError(f"`{name}` must have shape (n_samples, n_features); got shape "
                         f"{arr.shape}")
    return numpy.ascontiguousarray(arr, dtype=dtype)


def same_length(x, y, x_name="x", y_name="y"):
    """A ValueError unless x and y have as many samples."""
    if len(x) != len(y):
        raise ValueError(f"`{x_name}` and `{y_name}` must have the same number of samples; "
                         f"got {len(x)} and {len(y)}")


def sample_weights(weights, n_samples, dtype, name="sample_weight"):
    """`weights` as a 1-D array of n_samples non-negative values (or None)."""
    if weights is None:
        return None
    w = numeric_array(weights, name)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"`{name}` must have shape ({n_samples},); got shape {w.shape}")
    if (w < 0).any():
        raise ValueError(f"`{name}` must be non-negative; got a minimum of {w.min()}")
    return numpy.ascontiguousarray(w, dtype=dtype)
