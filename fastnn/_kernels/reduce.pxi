"""Reductions and gathers with a fixed summation order (the same bits at any thread count)."""
from cython cimport floating
from cython.parallel cimport prange

from libc.stdint cimport int64_t

from fastnn._kernels.capi cimport fnn_s_col_sums, fnn_d_col_sums, fnn_take_rows


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
