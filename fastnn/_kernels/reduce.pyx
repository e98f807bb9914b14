"""Reductions and gathers with a fixed summation order (the same bits at any thread count)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from fastnn._kernels.capi cimport fnn_s_col_sums, fnn_d_col_sums

include "isa.pxi"

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


def take_rows(const floating[:, ::1] x, const long long[::1] indices, floating[:, ::1] out,
              int n_threads):
    """out[i] := x[indices[i]] (indices trusted to be in range)."""
    cdef Py_ssize_t i, n = indices.shape[0], n_cols = x.shape[1]
    cdef size_t row_bytes = n_cols * sizeof(floating)
    if n == 0 or n_cols == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        memcpy(&out[i, 0], &x[indices[i], 0], row_bytes)
