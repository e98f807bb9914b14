"""Array operations on the active backend."""
import numpy

from fastnn.backend import get_backend

__all__ = ["matmul"]


_GEMM_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def matmul(a, b, transpose_a=False, transpose_b=False, out=None):
    """op(a) @ op(b) on the active backend's GEMM, op transposing when asked.

    Transposes are read in place, never copied. Inputs are float32 or float64 (the
    result has their common type); `out`, if given, must be C-contiguous of the right
    shape and dtype.

    Args:
        a, b: 2-D arrays.
        transpose_a, transpose_b: use a.T / b.T.
        out: optional output array.

    Returns:
        The product, `out` if given.

    Example:
        >>> import numpy, fastnn
        >>> fastnn.ops.matmul(numpy.ones((2, 3)), numpy.ones((2, 3)), transpose_b=True)
        array([[3., 3.],
               [3., 3.]])
    """
    backend = get_backend()
    xp = backend.xp
    a, b = xp.asarray(a), xp.asarray(b)
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim != 2:
            raise ValueError(f"`{name}` must be a 2-D array; got shape {arr.shape}")
        if arr.dtype.kind not in "fiu":   # (issubdtype costs a microsecond per call)
            raise TypeError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
    dtype = a.dtype
    if dtype != b.dtype or dtype not in _GEMM_DTYPES:
        dtype = numpy.result_type(a.dtype, b.dtype, numpy.float32)
        if dtype not in _GEMM_DTYPES:
            dtype = numpy.dtype(numpy.float64)
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    m, k = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    k2, n = (b.shape[1], b.shape[0]) if transpose_b else b.shape
    if k != k2:
        raise ValueError(f"`a` and `b` must have matching inner dimensions; got op(a) of "
                         f"shape {(m, k)} and op(b) of shape {(k2, n)}")
    if out is not None:
        if tuple(out.shape) != (m, n) or out.dtype != dtype:
            raise ValueError(f"`out` must have shape {(m, n)} and dtype {dtype}; got shape "
                             f"{tuple(out.shape)} and dtype {out.dtype}")
        if not out.flags.c_contiguous:
            raise ValueError("`out` must be C-contiguous")
    return backend.matmul(a, b, out=out, transpose_a=transpose_a, transpose_b=transpose_b)
