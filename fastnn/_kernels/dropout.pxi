"""Dropout with masks from the Philox4x32-10 counter-based generator (src_c/philox*.h)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from fastnn._kernels.capi cimport (fnn_dropout_keep, fnn_dropout_keep_fast,
                                   fnn_s_dropout_forward, fnn_d_dropout_forward,
                                   fnn_s_dropout_backward, fnn_d_dropout_backward)




cdef inline uint32_t _threshold(double rate) noexcept nogil:
    """The Philox output below which an element is dropped."""
    return <uint32_t>min(rate * 4294967296.0, 4294967295.0)


def dropout_forward(const floating[:, ::1] x, double rate, uint64_t seed, uint32_t layer,
                    uint32_t step, floating[:, ::1] out, uint8_t[:, ::1] mask, int n_threads):
    """mask := keep(seed, layer, step, i);  out := x * mask / (1 - rate)."""
    cdef int64_t n = x.shape[0] * x.shape[1], n_chunks, c, start
    cdef uint32_t threshold = _threshold(rate)
    cdef double scale = 1.0 / (1.0 - rate)
    if n == 0:
        return
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        start = c * CHUNK
        if floating is float:
            fnn_s_dropout_forward(&x[0, 0] + start, &out[0, 0] + start, &mask[0, 0] + start,
                                  start, min(CHUNK, n - start), seed, layer, step,
                                  threshold, scale)
        else:
            fnn_d_dropout_forward(&x[0, 0] + start, &out[0, 0] + start, &mask[0, 0] + start,
                                  start, min(CHUNK, n - start), seed, layer, step,
                                  threshold, scale)


def dropout_backward(const floating[:, ::1] grad, const uint8_t[:, ::1] mask, double rate,
                     floating[:, ::1] out, int n_threads, int act=-1, double param=0.0,
                     const floating[:, ::1] saved=None):
    """out := grad * mask / (1 - rate), times act'(saved) when act >= 0."""
    cdef int64_t n = grad.shape[0] * grad.shape[1], n_chunks, c, start
    cdef double scale = 1.0 / (1.0 - rate)
    cdef const floating *sp = NULL
    if n == 0:
        return
    if act >= 0:
        sp = &saved[0, 0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        start = c * CHUNK
        if floating is float:
            fnn_s_dropout_backward(&grad[0, 0] + start, &mask[0, 0] + start,
                                   sp + start if sp != NULL else NULL, act, param, scale,
                                   &out[0, 0] + start, min(CHUNK, n - start))
        else:
            fnn_d_dropout_backward(&grad[0, 0] + start, &mask[0, 0] + start,
                                   sp + start if sp != NULL else NULL, act, param, scale,
                                   &out[0, 0] + start, min(CHUNK, n - start))


def keep_mask(uint64_t seed, uint32_t layer, uint32_t step, double rate, int64_t start,
              uint8_t[::1] out, bint vectorised=True):
    """out := the keep-mask of elements start .. start + len(out) (for tests: the vector
    code against the one-block-at-a-time code)."""
    cdef uint32_t threshold = _threshold(rate)
    cdef int64_t n = out.shape[0]
    if n == 0:
        return
    with nogil:
        if vectorised:
            fnn_dropout_keep_fast(seed, layer, step, threshold, start, n, &out[0])
        else:
            fnn_dropout_keep(seed, layer, step, threshold, start, n, &out[0])
