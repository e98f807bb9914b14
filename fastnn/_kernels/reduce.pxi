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
    cdef Py_ssize_t t, lo, per, n = indices.shape[0], n_cols = x.shape[1]
    cdef int64_t row_bytes = n_cols * sizeof(floating)
    if n == 0 or n_cols == 0:
        return
    n_threads = max(1, min(n_threads, n))
    per = (n + n_threads - 1) // n_threads
    for t in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        lo = t * per
        if lo < n:
            fnn_take_rows(&x[0, 0], row_bytes, &indices[lo], min(per, n - lo),
                          &out[lo, 0])
