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


# The passes in one call below PARALLEL_MIN elements, else in chunks over threads, as in
# activations.pxi: the mask depends on the element's index, not on the chunk, so both
# give the same bits.

cdef void _dropout_forward_part(bint dbl, const void *x, void *y, uint8_t *mask, int64_t lo,
                                int64_t n, int64_t first, uint64_t seed, uint32_t layer,
                                uint32_t step, uint32_t threshold, double scale) noexcept nogil:
    if dbl:
        fnn_d_dropout_forward(<const double *>x + lo, <double *>y + lo, mask + lo, first + lo,
                              n, seed, layer, step, threshold, scale)
    else:
        fnn_s_dropout_forward(<const float *>x + lo, <float *>y + lo, mask + lo, first + lo,
                              n, seed, layer, step, threshold, scale)


cdef void _dropout_forward(bint dbl, const void *x, void *y, uint8_t *mask, int64_t n,
                           double rate, uint64_t seed, uint32_t layer, uint32_t step,
                           int nt, int64_t first=0) noexcept nogil:
    """mask := keep(seed, layer, step, first + i); y := x * mask / (1 - rate), over n
    elements i: `first` places them in a larger batch (the rows of one process's shard
    of a data-parallel step draw the mask of those rows of the whole batch)."""
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    cdef uint32_t threshold = _threshold(rate)
    cdef double scale = 1.0 / (1.0 - rate)
    if _threads(n, nt) == 1:
        _dropout_forward_part(dbl, x, y, mask, 0, n, first, seed, layer, step, threshold,
                              scale)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _dropout_forward_part(dbl, x, y, mask, c * CHUNK, min(CHUNK, n - c * CHUNK), first,
                              seed, layer, step, threshold, scale)


cdef void _dropout_backward_part(bint dbl, const void *g, const uint8_t *mask,
                                 const void *saved, int act, double param, double scale,
                                 void *out, int64_t lo, int64_t n) noexcept nogil:
    if dbl:
        fnn_d_dropout_backward(<const double *>g + lo, mask + lo,
                               <const double *>saved + lo if saved != NULL else NULL,
                               act, param, scale, <double *>out + lo, n)
    else:
        fnn_s_dropout_backward(<const float *>g + lo, mask + lo,
                               <const float *>saved + lo if saved != NULL else NULL,
                               act, param, scale, <float *>out + lo, n)


cdef void _dropout_backward(bint dbl, const void *g, const uint8_t *mask, double rate,
                            const void *saved, int act, double param, void *out, int64_t n,
                            int nt) noexcept nogil:
    """out := g * mask / (1 - rate), times act'(saved) when act >= 0, over n elements."""
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    cdef double scale = 1.0 / (1.0 - rate)
    if _threads(n, nt) == 1:
        _dropout_backward_part(dbl, g, mask, saved, act, param, scale, out, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _dropout_backward_part(dbl, g, mask, saved, act, param, scale, out, c * CHUNK,
                               min(CHUNK, n - c * CHUNK))


def dropout_forward(const floating[:, ::1] x, double rate, uint64_t seed, uint32_t layer,
                    uint32_t step, floating[:, ::1] out, uint8_t[:, ::1] mask, int n_threads,
                    int64_t first=0):
    """mask := keep(seed, layer, step, first + i);  out := x * mask / (1 - rate)."""
    if first < 0:
        raise ValueError(f"`first` must be >= 0; got {first}")
    cdef int64_t n = x.shape[0] * x.shape[1]
    if n == 0:
        return
    with nogil:
        _dropout_forward(floating is double, &x[0, 0], &out[0, 0], &mask[0, 0], n, rate,
                         seed, layer, step, n_threads, first)


def dropout_backward(const floating[:, ::1] grad, const uint8_t[:, ::1] mask, double rate,
                     floating[:, ::1] out, int n_threads, int act=-1, double param=0.0,
                     const floating[:, ::1] saved=None):
    """out := grad * mask / (1 - rate), times act'(saved) when act >= 0."""
    cdef int64_t n = grad.shape[0] * grad.shape[1]
    cdef const void *sp = NULL
    if n == 0:
        return
    if act >= 0:
        sp = &saved[0, 0]
    with nogil:
        _dropout_backward(floating is double, &grad[0, 0], &mask[0, 0], rate, sp, act, param,
                          &out[0, 0], n, n_threads)


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
