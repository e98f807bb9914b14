"""Array operations on the active backend."""
import numpy

from fastnn import _validation
from fastnn.backend import get_backend

__all__ = ["matmul"]


_GEMM_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def matmul(a, b, transpose_a=False, transpose_b=False, out=None):
    """op(a) @ op(b) on the active backend's GEMM, with NumPy's matmul rules for shapes.

    op transposes the last two axes when asked; transposes are read in place, never
    copied. As in `numpy.matmul` (and Keras' `ops.matmul`), arrays of more than two
    dimensions are stacks of matrices whose leading (batch) axes broadcast against each
    other, one matrix product per batch element; a 1-D `a` is a row vector and a 1-D `b`
    a column vector, that axis then dropped from the result (a vector is its own
    transpose). Inputs are real numbers; float32 and float64 are used as they are and
    others become float64 (float32 with float32: float32). `out`, if given, must be
    C-contiguous of the result's shape and dtype.

    Args:
        a, b: arrays of at least one dimension.
        transpose_a, transpose_b: use a's / b's last two axes swapped.
        out: optional output array.

    Returns:
        The product, `out` if given.

    Raises:
        ValueError: on a 0-D input, inner dimensions that differ, batch axes that do not
            broadcast, or an `out` of the wrong shape, dtype or layout.
        TypeError: on an input that does not hold real numbers.

    Example:
        >>> import numpy, fastnn
        >>> fastnn.ops.matmul(numpy.ones((2, 3)), numpy.ones((2, 3)), transpose_b=True)
        array([[3., 3.],
               [3., 3.]])
        >>> fastnn.ops.matmul(numpy.ones((4, 2, 3)), numpy.ones(3)).shape
        (4, 2)
    """
    backend = get_backend()
    xp = backend.xp
    a, b = xp.asarray(a), xp.asarray(b)
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim == 0:
            raise ValueError(f"`{name}` must be an array of at least one dimension; got a "
                             f"scalar")
        if arr.dtype.kind not in "fiu":   # (issubdtype costs a microsecond per call)
            raise TypeError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
    dtype = a.dtype
    if dtype != b.dtype or dtype not in _GEMM_DTYPES:
        dtype = numpy.result_type(a.dtype, b.dtype, numpy.float32)
        if dtype not in _GEMM_DTYPES:
            dtype = numpy.dtype(numpy.float64)
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    row, column = a.ndim == 1, b.ndim == 1
    if row:
        a, transpose_a = a.reshape(1, -1), False
    if column:
        b, transpose_b = b.reshape(-1, 1), False
    m, k = a.shape[-2:][::-1] if transpose_a else a.shape[-2:]
    k2, n = b.shape[-2:][::-1] if transpose_b else b.shape[-2:]
    if k != k2:
        raise ValueError(f"`a` and `b` must have matching inner dimensions; got op(a) of "
                         f"shape {(m, k)} and op(b) of shape {(k2, n)}")
    try:
        batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"the batch axes of `a` and `b` must broadcast; got {a.shape[:-2]} "
                         f"and {b.shape[:-2]}") from None
    shape = batch + (() if row else (m,)) + (() if column else (n,))
    if out is not None:
        if tuple(out.shape) != shape or out.dtype != dtype:
            raise ValueError(f"`out` must have shape {shape} and dtype {dtype}; got shape "
                             f"{tuple(out.shape)} and dtype {out.dtype}")
        if not out.flags.c_contiguous:
            raise ValueError("`out` must be C-contiguous")
        if not out.flags.writeable:
            raise ValueError("`out` must be writable")
        if xp.may_share_memory(out, a) or xp.may_share_memory(out, b):
            # the GEMM would overwrite inputs it has still to read: compute aside, copy
            out[...] = matmul(a, b, transpose_a, transpose_b)
            return out
    _check_size(shape, dtype)
    if not batch and not row and not column:
        return backend.matmul(a, b, out=out, transpose_a=transpose_a,
                              transpose_b=transpose_b)
    result = xp.empty(shape, dtype) if out is None else out
    c = result.reshape(batch + (m, n))      # a view: result is C-contiguous
    a = xp.broadcast_to(a, batch + a.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    for index in numpy.ndindex(*batch):     # one GEMM per matrix of the stack
        backend.matmul(a[index], b[index], out=c[index], transpose_a=transpose_a,
                       transpose_b=transpose_b)
    return result


def _check_size(shape, dtype):
    """A ValueError, before anything is allocated, for a result beyond the memory."""
    size = 1
    for s in shape:
        size *= s
    _validation.allocation(size, dtype.itemsize, "a` and `b", f"a result of shape {shape}")
