# The layers of a StackPlan (step.pxi), the Dense GEMM with its fused epilogue, the rules
# that depend on the layers' shapes, and the sources of a training step; the element-wise
# passes it runs are those of activations.pxi and dropout.pxi.
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from fastnn._kernels.capi cimport (fnn_epilogue, fnn_sgemm, fnn_dgemm, fnn_sgemm_k_halves,
                                   fnn_dgemm_k_halves)


cdef enum:
    DENSE = 0
    DROPOUT = 1
    BATCH_NORM = 2     # the per-column and element-wise layers of step_norm.pxi
    ACTIVATION = 3
    RESCALE = 4
    LAYER_NORM = 5
    PRELU = 6
    NORMALIZE = 7      # Normalization and the noise layers of step_more.pxi
    GAUSSIAN_NOISE = 8
    GAUSSIAN_DROPOUT = 9
    ALPHA_DROPOUT = 10


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
    int k_halves       # training forward summed in two halves of n_in (fnn_sgemm_k_halves)
    void *z            # pre-activation (needs_z, or logits for a fused loss), or NULL
    void *dz           # d loss / d z, where no later layer applies this layer's act'
    int bf16           # products in bfloat16 (bf16.pxi): packed W, W^T and dz buffers
    int wp_kept        # each update packs W into wp (train_steps links the group to wp)
    int wp_fresh       # wp holds W as the last update left it: the forward skips its pack
    void *wp
    void *wtp
    void *dzp
    # Dropout
    double rate
    uint64_t seed
    uint32_t layer_index
    uint8_t *mask
    # BatchNormalization, LayerNormalization (w, b, gw, gb: gamma, beta and their
    # gradients, NULL where the layer has none), Activation (act, param, softmax,
    # needs_z; z: its input), Rescaling (param: the scale, epsilon: the offset), PReLU
    # (w, gw: alpha and its gradient; z: its input)
    void *mean         # per column (batch or moving) or per row (LayerNormalization)
    void *inv          # 1 / sqrt(var + epsilon), likewise
    void *xhat         # the normalised input (rows x n_out)
    void *tmp          # rows x n_out scratch: the products that are summed
    void *sums         # n_out scratch: the column sums of the backward pass
    void *moving_mean
    void *moving_var
    double momentum, epsilon
    int training       # batch statistics, their moving averages updated
    int own_z          # z is the layer's buffer (a fused loss's logits), not its input
    # Normalization (moving_mean, moving_var: its statistics, one per feature or, with
    # stat_stride 0, one for all; mean, inv: the mean and std of a pass), noise layers
    # (Dropout's fields; param: the stddev or AlphaDropout's a; epsilon: its b;
    # momentum: its alpha_p; tmp: GaussianDropout's factors)
    int64_t stat_stride
    int invert
    # every kind
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


cdef inline void _forward_gemm(bint dbl, bint k_halves, int64_t m, int64_t n, int64_t k,
                               const void *a, const void *b, void *c, const fnn_epilogue *ep,
                               int nt) noexcept nogil:
    """c := epilogue(a b), a (m, k), b (k, n), c (m, n), all contiguous; summed in two
    halves of k when k_halves (a trainable layer's forward in a training step)."""
    if not k_halves:
        _gemm(dbl, 0, 0, m, n, k, a, k, b, n, c, ep, nt)
    elif dbl:
        fnn_dgemm_k_halves(m, n, k, <const double *>a, k, <const double *>b, n,
                           <double *>c, n, ep, nt)
    else:
        fnn_sgemm_k_halves(m, n, k, <const float *>a, k, <const float *>b, n, <float *>c, n,
                           ep, nt)


cdef inline void *_saved(Layer *L) noexcept nogil:
    """What act' of Dense layer L is computed from."""
    return L.z if L.needs_z else L.y


cdef inline bint _fusable(Layer *L) noexcept nogil:
    """Whether a later layer may apply L's act' while writing L's output gradient."""
    return L.kind == DENSE and L.act >= 0


cdef struct StepSources:
    # the arrays a training step gathers its batch from, and the batch buffers
    const char *x
    const char *y
    const char *w        # sample weights, or NULL
    void *bx
    void *by
    void *bw
    int64_t width, y_bytes
    int item
    bint sparse          # integer labels


cdef int _dropout_steps(tuple dropout_steps, uint32_t *steps) except -1:
    """steps[j] := the Philox step of the j-th Dropout or noise layer (at most 64, the
    plan's array)."""
    cdef int j = 0
    if len(dropout_steps) > 64:
        raise ValueError("at most 64 Dropout and noise layers per plan")
    for s in dropout_steps:
        steps[j] = <uint32_t>(s & 0xFFFFFFFF)
        j += 1
    return 0


cdef extern from "gemm_internal.h":
    enum: FNN_GEMM_FEW_ROWS
    double FNN_GEMV_PAR_MIN_WORK
    double FNN_GEMM_PAR_MIN_WORK

# a product of at most this many rows takes the row kernel, whose sums run in another
# order: the rows of a shard of a batch are computed as the batch's only above it
GEMM_FEW_ROWS = FNN_GEMM_FEW_ROWS


cdef bint _k_halves(Layer *L, int64_t rows) noexcept:
    """Whether a trainable Dense layer's forward in a training step sums its product in
    two halves of n_in (fnn_sgemm_k_halves): where the product may use several threads,
    so that each core reads the rows of the weights its update writes. A shape-only
    rule, so the bits of training do not depend on the thread count."""
    return (L.kind == DENSE and L.trainable and L.gw != NULL and rows > FNN_GEMM_FEW_ROWS
            and <double>rows * L.n_in * L.n_out >= FNN_GEMM_PAR_MIN_WORK)


cdef bint _single_thread(Layer *layers, int n_layers, int64_t rows) noexcept:
    """Whether the forward pass of these layers on `rows` rows runs on one thread at any
    thread count: every product goes to the row kernel below its parallel threshold
    (src_c/gemm_internal.h) and every element-wise pass is below PARALLEL_MIN."""
    if rows > FNN_GEMM_FEW_ROWS:
        return False
    for i in range(n_layers):
        if rows * layers[i].n_out >= PARALLEL_MIN:
            return False
        if (layers[i].kind == DENSE and
                <double>rows * layers[i].n_in * layers[i].n_out >= FNN_GEMV_PAR_MIN_WORK):
            return False
    return True
