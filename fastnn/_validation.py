"""Checks at the Python boundary, in one place, with one message template:
the argument, what was expected, what was received."""
import numbers

import numpy


class NotCompiledError(RuntimeError, ValueError):
    """A model was trained or evaluated before `compile()` (a RuntimeError, as in Keras,
    and a ValueError, as fastnn raises for every misuse at the boundary)."""


# The largest array a boundary check lets a call allocate (elements): a request beyond
# it is a mistake in the arguments, not a workload, and fails before any allocation.
MAX_ELEMENTS = 1 << 36


def is_int(value):
    """Whether `value` is an int (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, numpy.bool_))


def integer(value, name, minimum=None, maximum=None):
    """`value` (a Python or NumPy int, not a bool or a float) as an int in
    [minimum, maximum], or a TypeError / ValueError naming `name`."""
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int; got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "" if minimum is None else f">= {minimum}"
        hi = "" if maximum is None else f"<= {maximum}"
        raise ValueError(f"`{name}` must be an int {lo}{' and ' if lo and hi else ''}{hi}; "
                         f"got {value!r}")
    return value


def positive_int(value, name, maximum=None):
    """`value` as an int > 0 (and <= maximum), or a ValueError naming `name`."""
    if not is_int(value) or value <= 0 or (maximum is not None and value > maximum):
        bound = "" if maximum is None else f" <= {maximum}"
        raise ValueError(f"`{name}` must be a positive int{bound}; got {value!r}")
    return int(value)


def real(value, name, minimum=None, maximum=None, min_open=False, max_open=False):
    """`value` (a Python or NumPy real, not a bool) as a finite float in the interval
    given by minimum / maximum (open ends when min_open / max_open), or an error naming
    `name`."""
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number; got {value!r}")
    as_float = float(value)
    low_ok = minimum is None or (as_float > minimum if min_open else as_float >= minimum)
    high_ok = maximum is None or (as_float < maximum if max_open else as_float <= maximum)
    if as_float != as_float or abs(as_float) == float("inf") or not (low_ok and high_ok):
        lo = "" if minimum is None else ("(" if min_open else "[") + f"{minimum}, "
        hi = "" if maximum is None else f"{maximum}" + (")" if max_open else "]")
        where = (f" in {lo}{hi}" if lo and hi else f" {'>' if min_open else '>='} {minimum}"
                 if lo else f" {'<' if max_open else '<='} {maximum}" if hi else "")
        raise ValueError(f"`{name}` must be a finite number{where}; got {value!r}")
    return as_float


def fraction(value, name):
    """`value` as a float in [0, 1), or a ValueError naming `name`."""
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Real) \
            or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1); got {value!r}")
    return float(value)


# Philox takes a 64-bit key
MAX_SEED = 2 ** 64 - 1


def seed(value, name="seed"):
    """`value` as an int in [0, 2**64 - 1] (what the Philox generator takes)."""
    return integer(value, name, 0, MAX_SEED)


def shape(value, name="input_shape"):
    """`value` (an int or a sequence of ints) as a tuple of positive ints."""
    items = (value,) if is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"`{name}` must be a tuple of positive ints; got {value!r}") from None
    if not items or not all(is_int(s) and s > 0 for s in items):
        bad = TypeError if not all(is_int(s) for s in items) or not items else ValueError
        raise bad(f"`{name}` must be a tuple of positive ints; got {value!r}")
    items = tuple(int(s) for s in items)
    size = 1
    for s in items:
        size *= s
    if size > MAX_ELEMENTS:
        raise ValueError(f"`{name}` must describe at most {MAX_ELEMENTS} values per sample; "
                         f"got {value!r}")
    return items


# the dtype kinds of arrays that hold numbers: float, signed and unsigned int, bool
NUMERIC_KINDS = "fiub"


def numeric_array(data, name, finite=True):
    """`data` as a finite (unless not `finite`) numeric NumPy array, or a clear error."""
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
    if kind not in NUMERIC_KINDS:
        raise TypeError(f"`{name}` must hold numbers; got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one sample; got shape {arr.shape}")
    if finite and kind == "f":
        bad = count_nonfinite(arr)
        if bad:
            raise not_finite(name, bad)
    return arr


def count_nonfinite(arr, n_threads=1):
    """How many values of the float array `arr` are NaN or infinite: by the compiled
    count on `n_threads` threads for a C-contiguous float32 or float64 array (at memory
    speed: T1's 188 MB in 5.5 ms against 7.5 ms for NumPy's sum, which it replaces),
    else by NumPy."""
    if arr.dtype in _COUNTED and arr.flags.c_contiguous:
        count = _compiled_count()
        if count is not None:
            return count(arr, n_threads)
    # a sum of finite numbers is finite unless it overflows: only then look element-wise
    with numpy.errstate(over="ignore", invalid="ignore"):
        if numpy.isfinite(arr.sum()):
            return 0
    return int((~numpy.isfinite(arr)).sum())


_COUNTED = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _compiled_count():
    """fastnn._kernels.compiled.count_nonfinite, or None where the extension is absent
    (the reference backend alone)."""
    try:
        from fastnn._kernels.compiled import count_nonfinite
    except ImportError:
        return None
    return count_nonfinite


def not_finite(name, count):
    """The ValueError for an array `name` holding `count` NaN or infinite values."""
    return ValueError(f"`{name}` must be finite; got {count} NaN or infinite values")


def features(x, input_shape, dtype, name="x"):
    """`x` as a C-contiguous (n_samples, *input_shape) array of `dtype`."""
    arr = numeric_array(x, name)
    sample_shape(arr.shape, input_shape, name)
    return numpy.ascontiguousarray(arr, dtype=dtype)


def sample_shape(shape, input_shape, name="x", got="shape"):
    """A ValueError unless `shape` (an array's) is (n_samples, *input_shape), or, where
    `input_shape` is None, has a sample axis and at least one more; `got` names the array
    in the message ("shape", "a Dask array of shape")."""
    if input_shape is not None and tuple(shape[1:]) != tuple(input_shape):
        input_shape = tuple(input_shape)
        want = (f"{input_shape[0]} features" if len(input_shape) == 1
                else f"sample shape {input_shape}")
        raise ValueError(f"`{name}` must have {want} (from input_shape={input_shape}); "
                         f"got {got} {shape}")
    if len(shape) < 2:
        raise ValueError(f"`{name}` must have shape (n_samples, n_features); got {got} "
                         f"{shape}")


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


# ------------------------------------------------------------- kernel arguments
# Checks of the arrays an exported backend method hands to compiled code: cheap (a few
# attribute reads), since they run on every call of the per-layer path.
FLOAT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def kernel_array(a, name, ndim, dtype=None, shape=None, contiguous=True):
    """A TypeError / ValueError unless `a` is a NumPy array of `ndim` dimensions, of
    `dtype` (float32 or float64 when None), of `shape` (None entries are free), and
    C-contiguous when `contiguous`. Returns `a`."""
    if type(a) is not numpy.ndarray and not isinstance(a, numpy.ndarray):
        raise TypeError(f"`{name}` must be a NumPy array; got {type(a).__name__}")
    if a.ndim != ndim:
        raise ValueError(f"`{name}` must be a {ndim}-D array; got shape {a.shape}")
    if dtype is None:
        if a.dtype not in FLOAT_DTYPES:
            raise TypeError(f"`{name}` must have dtype float32 or float64; got {a.dtype}")
    elif a.dtype != dtype:
        raise TypeError(f"`{name}` must have dtype {numpy.dtype(dtype)}; got {a.dtype}")
    if shape is not None and a.shape != shape:
        if len(shape) != ndim or any(w is not None and g != w for g, w in zip(a.shape, shape)):
            want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + \
                   ("," if ndim == 1 else "") + ")"
            raise ValueError(f"`{name}` must have shape {want}; got shape {a.shape}")
    if contiguous and not a.flags.c_contiguous:
        raise ValueError(f"`{name}` must be C-contiguous; got strides {a.strides}")
    return a


def kernel_out(out, name, shape, dtype):
    """`out` checked as a writable C-contiguous array of exactly `shape` and `dtype`."""
    kernel_array(out, name, len(shape), dtype, shape)
    if not out.flags.writeable:
        raise ValueError(f"`{name}` must be writable")
    return out


def kernel_indices(indices, name, n_rows):
    """`indices` checked as a 1-D C-contiguous int64 array of values in [0, n_rows)."""
    kernel_array(indices, name, 1, numpy.int64)
    if indices.shape[0] and (indices.min() < 0 or indices.max() >= n_rows):
        raise ValueError(f"`{name}` must hold row numbers in [0, {n_rows - 1}]; got values "
                         f"in [{indices.min()}, {indices.max()}]")
    return indices


def same_shape(arrays, names, shape, dtype):
    """A ValueError unless every array (None skipped) is a C-contiguous array of `shape`
    and `dtype`: the gradient and slots of an optimizer update."""
    for a, name in zip(arrays, names):
        if a is None:
            continue
        if not isinstance(a, numpy.ndarray) or a.dtype != dtype or a.shape != shape \
                or not a.flags.c_contiguous:
            got = (f"shape {a.shape}, dtype {a.dtype}" if isinstance(a, numpy.ndarray)
                   else type(a).__name__)
            raise ValueError(f"`{name}` must be a C-contiguous {dtype} array of shape "
                             f"{shape} (the parameter's); got {got}")


def loss_arguments(y_true, y_pred, sample_weight):
    """(y_pred as a 2-D array, y_true, sample_weight as a 1-D array or None) of a loss or
    metric call, checked against one another: as many samples in each, finite numbers."""
    y_pred = numeric_array(y_pred, "y_pred", finite=False)   # a diverged model's NaN
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    if y_pred.ndim != 2 or y_pred.shape[1] == 0:
        raise ValueError(f"`y_pred` must have shape (n_samples, n_outputs), n_outputs >= 1; "
                         f"got shape {y_pred.shape}")
    n = y_pred.shape[0]
    y_true = numeric_array(y_true, "y_true")
    if y_true.shape[0] != n:
        raise ValueError(f"`y_true` must have {n} samples, as `y_pred` (shape "
                         f"{y_pred.shape}); got shape {y_true.shape}")
    if sample_weight is not None:
        w = numpy.asarray(sample_weight) if not isinstance(sample_weight, numpy.ndarray) \
            else sample_weight
        if w.ndim == 0:   # one weight for every sample, as Keras allows
            w = numpy.full(n, w)
        elif w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        sample_weight = sample_weights(w, n, numpy.float64)
    return y_pred, y_true, sample_weight


def _physical_memory():
    """This machine's memory in bytes (2**40 where the platform does not say)."""
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 40


PHYSICAL_MEMORY = _physical_memory()


def allocation(n_elements, itemsize, name, what):
    """A ValueError naming `name`, before anything is allocated, when `what` (n_elements
    values of itemsize bytes) would not fit in this machine's memory: an allocation the
    operating system grants lazily would otherwise end in the process being killed."""
    if n_elements * itemsize > PHYSICAL_MEMORY:
        raise ValueError(f"`{name}` asks for {what}: {n_elements * itemsize} bytes, more "
                         f"than this machine's memory ({PHYSICAL_MEMORY} bytes)")
