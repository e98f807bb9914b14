"""Dropout with masks from the Philox4x32-10 counter-based generator (src_c/philox.c)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from fastnn._kernels.capi cimport fnn_dropout_keep

# Elements per parallel chunk: a multiple of 4 so chunks start on a Philox block.
cdef int64_t CHUNK = 4096


def dropout_forward(const floating[:, ::1] x, double rate, uint64_t seed, uint32_t layer,
                    uint32_t step, floating[:, ::1] out, uint8_t[:, ::1] mask, int n_threads):
    """mask := keep(seed, layer, step, i);  out := x * mask / (1 - rate)."""
    cdef int64_t n = x.shape[0] * x.shape[1], n_chunks, c, start, stop, i
    cdef uint32_t threshold = <uint32_t>min(rate * 4294967296.0, 4294967295.0)
    cdef floating scale = <floating>(1.0 / (1.0 - rate))
    cdef const floating *xp
    cdef floating *op
    cdef uint8_t *mp
    if n == 0:
        return
    xp = &x[0, 0]
    op = &out[0, 0]
    mp = &mask[0, 0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        start = c * CHUNK
        stop = min(start + CHUNK, n)
        fnn_dropout_keep(seed, layer, step, threshold, start, stop - start, mp + start)
        for i in range(start, stop):
            op[i] = xp[i] * scale if mp[i] else 0


def dropout_backward(const floating[:, ::1] grad, const uint8_t[:, ::1] mask, double rate,
                     floating[:, ::1] out, int n_threads):
    """out := grad * mask / (1 - rate)."""
    cdef int64_t n = grad.shape[0] * grad.shape[1], i
    cdef floating scale = <floating>(1.0 / (1.0 - rate))
    cdef const floating *gp
    cdef const uint8_t *mp
    cdef floating *op
    if n == 0:
        return
    gp = &grad[0, 0]
    mp = &mask[0, 0]
    op = &out[0, 0]
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        op[i] = gp[i] * scale if mp[i] else 0
