"""Reductions, counts and gathers with a fixed summation order (the same bits at any thread count)."""
from cython cimport floating
from cython.parallel cimport prange

from libc.stdint cimport int64_t

from fastnn._kernels.capi cimport (fnn_s_col_sums, fnn_d_col_sums, fnn_take_rows,
                                   fnn_s_count_nonfinite, fnn_d_count_nonfinite)


# Columns per parallel chunk of bias_grad: each chunk sums its columns over every row.
cdef Py_ssize_t COL_CHUNK = 64


def bias_grad(const floating[:, ::1] dz, floating[::1] out, int n_threads):
    """out := sum over rows of dz."""
    cdef Py_ssize_t n_rows = dz.shape[0], n_cols = dz.shape[1]
    cdef Py_ssize_t c, lo, n_chunks = (n_cols + COL_CHUNK - 1) // COL_CHUNK
    if n_cols == 0:
        return
    if n_rows == 0:
        out[:] = 0
        return
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * COL_CHUNK
        if floating is float:
            fnn_s_col_sums(&dz[0, 0] + lo, n_rows, min(COL_CHUNK, n_cols - lo), n_cols,
                           &out[lo])
        else:
            fnn_d_col_sums(&dz[0, 0] + lo, n_rows, min(COL_CHUNK, n_cols - lo), n_cols,
                           &out[lo])


def take_rows(const floating[:, ::1] x, const int64_t[::1] indices, floating[:, ::1] out,
              int n_threads):
    """out[i] := x[indices[i]] (indices trusted to be in range), each thread copying a
    contiguous block of rows while prefetching the rows it copies next."""
    if indices.shape[0] == 0 or x.shape[1] == 0:
        return
    with nogil:
        _gather_rows(&x[0, 0], x.shape[1] * sizeof(floating), &indices[0], indices.shape[0],
                     &out[0, 0], n_threads)


cdef void _gather_rows(const void *src, int64_t row_bytes, const int64_t *indices, int64_t n,
                       void *dst, int n_threads) noexcept nogil:
    """Rows `indices` of src into dst, in contiguous blocks of rows, one per thread: the
    rows of a shuffled batch come from DRAM, and each core keeps only so many misses in
    flight, so a second thread nearly doubles the rate."""
    cdef int64_t t, lo, per
    n_threads = max(1, min(n_threads, n))
    if n_threads == 1:
        fnn_take_rows(src, row_bytes, indices, n, dst)
        return
    per = (n + n_threads - 1) // n_threads
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        lo = t * per
        if lo < n:
            fnn_take_rows(<const char *>src, row_bytes, indices + lo, min(per, n - lo),
                          <char *>dst + lo * row_bytes)


cdef int64_t _count_part(bint dbl, const void *x, int64_t lo, int64_t n) noexcept nogil:
    if dbl:
        return fnn_d_count_nonfinite(<const double *>x + lo, n)
    return fnn_s_count_nonfinite(<const float *>x + lo, n)


cdef int64_t _count_nonfinite(bint dbl, const void *x, int64_t n, int nt=1) noexcept nogil:
    """How many of the n values at x are NaN or infinite, in CHUNK-sized pieces over `nt`
    threads above PARALLEL_MIN values (a count: the same at any thread count). On one
    thread it was a tenth of a bfloat16 predict's time, and did not shrink with two."""
    cdef int64_t c, total = 0, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        return _count_part(dbl, x, 0, n)
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        total += _count_part(dbl, x, c * CHUNK, min(CHUNK, n - c * CHUNK))
    return total


def count_nonfinite(x, int n_threads):
    """How many values of the float32 or float64 array `x` (C-contiguous, any shape) are
    NaN or infinite, over `n_threads` threads: fit's check of its inputs, at memory
    speed (NumPy's sum, which the check used before, ran on one thread at a third of
    it)."""
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64) \
            or not x.flags.c_contiguous:
        raise TypeError("`x` must be a C-contiguous float32 or float64 array")
    cdef bint dbl = x.dtype == np.float64
    cdef const void *px = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef int64_t n = x.size, bad
    if n == 0:
        return 0
    with nogil:
        bad = _count_nonfinite(dbl, px, n, max(1, n_threads))
    return bad
