# The layers of a StackPlan (step.pxi) and the passes it runs over them: the Dense GEMM
# with its fused epilogue, and the element-wise activation and dropout passes.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.math cimport isfinite
from cython.parallel cimport prange

from fastnn._kernels.capi cimport (
    fnn_epilogue, fnn_sgemm, fnn_dgemm, fnn_s_act_forward, fnn_d_act_forward,
    fnn_s_act_backward, fnn_d_act_backward, fnn_s_dropout_forward, fnn_d_dropout_forward,
    fnn_s_dropout_backward, fnn_d_dropout_backward)


cdef enum:
    DENSE = 0
    DROPOUT = 1


cdef struct Layer:
    int kind
    int64_t n_in, n_out
    # Dense
    void *w
    void *b
    void *gw
    void *gb
    int act            # element-wise code, or -1 for a row-wise softmax
    int softmax        # 1 softmax, 2 log_softmax (act is -1), else 0
    double param
    int needs_z        # act' is computed from z rather than y
    int trainable
    void *z            # pre-activation (needs_z, or logits for a fused loss), or NULL
    void *dz           # d loss / d z, where no later layer applies this layer's act'
    # Dropout
    double rate
    uint64_t seed
    uint32_t layer_index
    uint8_t *mask
    # both
    void *y            # output
    void *dx           # gradient w.r.t. the input, or NULL where nothing needs it


cdef inline void _gemm(bint dbl, int ta, int tb, int64_t m, int64_t n, int64_t k,
                       const void *a, int64_t lda, const void *b, int64_t ldb, void *c,
                       const fnn_epilogue *ep, int nt) noexcept nogil:
    if dbl:
        fnn_dgemm(ta, tb, m, n, k, 1.0, <const double *>a, lda, <const double *>b, ldb,
                  0.0, <double *>c, n, ep, nt)
    else:
        fnn_sgemm(ta, tb, m, n, k, 1.0, <const float *>a, lda, <const float *>b, ldb,
                  0.0, <float *>c, n, ep, nt)


cdef inline int _threads(int64_t n, int nt) noexcept nogil:
    return nt if n >= PARALLEL_MIN else 1


# Each element-wise pass below runs as one call where it stays on one thread (a parallel
# region costs more than a small pass), else in CHUNK-sized chunks spread over threads;
# the kernels are element-independent (dropout's mask depends on the element's index, not
# on the chunk), so both give the same bits.

cdef void _act_forward_part(bint dbl, int act, double param, void *x, int64_t lo,
                            int64_t n) noexcept nogil:
    if dbl:
        fnn_d_act_forward(act, param, <double *>x + lo, NULL, n)
    else:
        fnn_s_act_forward(act, param, <float *>x + lo, NULL, n)


cdef void _act_forward(bint dbl, int act, double param, void *x, int64_t n,
                       int nt) noexcept nogil:
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _act_forward_part(dbl, act, param, x, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _act_forward_part(dbl, act, param, x, c * CHUNK, min(CHUNK, n - c * CHUNK))


cdef void _act_backward_part(bint dbl, int act, double param, const void *g, const void *s,
                             void *out, int64_t lo, int64_t n) noexcept nogil:
    if dbl:
        fnn_d_act_backward(act, param, <const double *>g + lo, <const double *>s + lo,
                           <double *>out + lo, n)
    else:
        fnn_s_act_backward(act, param, <const float *>g + lo, <const float *>s + lo,
                           <float *>out + lo, n)


cdef void _act_backward(bint dbl, int act, double param, const void *g, const void *s,
                        void *out, int64_t n, int nt) noexcept nogil:
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _act_backward_part(dbl, act, param, g, s, out, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _act_backward_part(dbl, act, param, g, s, out, c * CHUNK, min(CHUNK, n - c * CHUNK))


cdef void _dropout_forward_part(bint dbl, Layer *L, const void *x, uint32_t step,
                                int64_t lo, int64_t n) noexcept nogil:
    cdef uint32_t threshold = _threshold(L.rate)    # dropout.pxi
    cdef double scale = 1.0 / (1.0 - L.rate)
    if dbl:
        fnn_d_dropout_forward(<const double *>x + lo, <double *>L.y + lo, L.mask + lo, lo, n,
                              L.seed, L.layer_index, step, threshold, scale)
    else:
        fnn_s_dropout_forward(<const float *>x + lo, <float *>L.y + lo, L.mask + lo, lo, n,
                              L.seed, L.layer_index, step, threshold, scale)


cdef void _dropout_forward(bint dbl, Layer *L, const void *x, int64_t n, uint32_t step,
                           int nt) noexcept nogil:
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _dropout_forward_part(dbl, L, x, step, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _dropout_forward_part(dbl, L, x, step, c * CHUNK, min(CHUNK, n - c * CHUNK))


cdef void _dropout_backward_part(bint dbl, Layer *L, const void *g, const void *saved,
                                 int act, double param, int64_t lo, int64_t n) noexcept nogil:
    cdef double scale = 1.0 / (1.0 - L.rate)
    if dbl:
        fnn_d_dropout_backward(<const double *>g + lo, L.mask + lo,
                               <const double *>saved + lo if saved != NULL else NULL,
                               act, param, scale, <double *>L.dx + lo, n)
    else:
        fnn_s_dropout_backward(<const float *>g + lo, L.mask + lo,
                               <const float *>saved + lo if saved != NULL else NULL,
                               act, param, scale, <float *>L.dx + lo, n)


cdef void _dropout_backward(bint dbl, Layer *L, const void *g, const void *saved, int act,
                            double param, int64_t n, int nt) noexcept nogil:
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _dropout_backward_part(dbl, L, g, saved, act, param, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _dropout_backward_part(dbl, L, g, saved, act, param, c * CHUNK,
                               min(CHUNK, n - c * CHUNK))


cdef int64_t _count_nonfinite(bint dbl, const void *x, int64_t n) noexcept nogil:
    """How many of the n values at x are NaN or infinite."""
    cdef int64_t i, bad = 0
    if dbl:
        for i in range(n):
            bad += not isfinite((<const double *>x)[i])
    else:
        for i in range(n):
            bad += not isfinite((<const float *>x)[i])
    return bad


cdef inline void *_saved(Layer *L) noexcept nogil:
    """What act' of Dense layer L is computed from."""
    return L.z if L.needs_z else L.y


cdef inline bint _fusable(Layer *L) noexcept nogil:
    """Whether a later layer may apply L's act' while writing L's output gradient."""
    return L.kind == DENSE and L.act >= 0
