"""Reductions and gathers with a fixed summation order (the same bits at any thread count)."""
from cython cimport floating
from cython.parallel cimport prange

# Columns per parallel chunk of bias_grad: each chunk sums its columns over every row.
cdef Py_ssize_t COL_CHUNK = 64


def bias_grad(const floating[:, ::1] dz, floating[::1] out, int n_threads):
    """out := sum over rows of dz."""
    cdef Py_ssize_t n_rows = dz.shape[0], n_cols = dz.shape[1]
    cdef Py_ssize_t c, i, j, lo, hi, n_chunks = (n_cols + COL_CHUNK - 1) // COL_CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * COL_CHUNK
        hi = min(lo + COL_CHUNK, n_cols)
        for j in range(lo, hi):
            out[j] = 0
        for i in range(n_rows):
            for j in range(lo, hi):
                out[j] += dz[i, j]


def take_rows(const floating[:, ::1] x, const long long[::1] indices, floating[:, ::1] out,
              int n_threads):
    """out[i] := x[indices[i]] (indices trusted to be in range)."""
    cdef Py_ssize_t i, j, n = indices.shape[0], n_cols = x.shape[1]
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        for j in range(n_cols):
            out[i, j] = x[indices[i], j]
