# The layers a StackPlan (step.pxi) runs beside Dense and Dropout: BatchNormalization,
# an activation layer after any layer, Rescaling, LayerNormalization and PReLU.
#
# Each computes what its NumPy code in fastnn/layers/ computes on the cpu backend, with
# the same bits: the same float operations in the same order, each sum taken as NumPy's
# `.sum` takes it (sums_numpy.pxi). The sums run in an order fixed by the shapes alone and
# the element-wise passes are element-independent, so any thread count gives the same
# bits.
from libc.math cimport sqrt
from libc.string cimport memcpy

cdef extern from "<math.h>" nogil:
    float sqrtf(float x)

STEP_KINDS = {"dense": DENSE, "dropout": DROPOUT, "batch_norm": BATCH_NORM,
              "activation": ACTIVATION, "rescale": RESCALE, "layer_norm": LAYER_NORM,
              "prelu": PRELU, "normalize": NORMALIZE, "gaussian_noise": GAUSSIAN_NOISE,
              "gaussian_dropout": GAUSSIAN_DROPOUT, "alpha_dropout": ALPHA_DROPOUT}


cdef void *_keep_data(arr, list keep) except? NULL:
    """The data of a C-contiguous array kept alive in `keep`, or NULL for None."""
    if arr is None:
        return NULL
    if not arr.flags.c_contiguous:
        raise ValueError("plan buffers must be C-contiguous")
    keep.append(arr)
    return cnp.PyArray_DATA(<cnp.ndarray>arr)


cdef int _layer_buffers(Layer *L, dict spec, int64_t rows, list keep) except -1:
    """Fill the fields of a layer of step_norm.pxi from its spec (see plan_specs in
    fastnn/backend/compiled_executor.py) and make its scratch buffers."""
    if L.kind >= NORMALIZE:
        return _more_buffers(L, spec, rows, keep)         # step_more.pxi
    dtype = spec["y"].dtype
    n = L.n_out
    L.w, L.b = _keep_data(spec.get("gamma"), keep), _keep_data(spec.get("beta"), keep)
    L.gw = _keep_data(spec.get("ggamma"), keep)
    L.gb = _keep_data(spec.get("gbeta"), keep)
    L.trainable = L.gw != NULL or L.gb != NULL
    L.act, L.param = spec.get("act", 0), spec.get("param", 0.0)
    L.softmax, L.needs_z = spec.get("softmax", 0), spec.get("needs_z", False)
    L.momentum, L.epsilon = spec.get("momentum", 0.0), spec.get("epsilon", 0.0)
    L.training = spec.get("training", False)
    L.z = _keep_data(spec.get("z"), keep)
    L.own_z = L.z != NULL
    if L.kind == PRELU:
        L.tmp = _keep_data(np.empty((rows, n), dtype), keep)
    if L.kind == BATCH_NORM or L.kind == LAYER_NORM:
        stats = n if L.kind == BATCH_NORM else rows
        L.moving_mean = _keep_data(spec.get("moving_mean"), keep)
        L.moving_var = _keep_data(spec.get("moving_variance"), keep)
        L.mean = _keep_data(np.empty(stats, dtype), keep)
        L.inv = _keep_data(np.empty(stats, dtype), keep)
        L.xhat = _keep_data(np.empty((rows, n), dtype), keep)
        L.tmp = _keep_data(np.empty((rows, n), dtype), keep)
        L.sums = _keep_data(np.empty(2 * max(n, rows), dtype), keep)
    return 0


cdef int _layer_forward(bint dbl, Layer *L, int64_t rows, const void *inp,
                        const uint32_t *steps, int j, int64_t first_row,
                        int nt) noexcept nogil:
    """L.y := layer L of step_norm.pxi (or step_more.pxi) applied to the rows at inp;
    returns the Philox steps it took from steps[j] (a noise layer's: 1), else 0."""
    cdef int64_t n = rows * L.n_out
    if L.kind >= NORMALIZE:
        return _more_forward(dbl, L, rows, inp, steps, j, first_row, nt)
    if L.kind == ACTIVATION:
        if L.own_z:
            memcpy(L.z, inp, n * (8 if dbl else 4))
        else:
            L.z = <void *>inp        # act' reads the input, which stays till backward
        memcpy(L.y, inp, n * (8 if dbl else 4))
        if L.act > 0:
            _act_forward(dbl, L.act, L.param, L.y, n, nt)
        elif L.act < 0 and dbl:
            fnn_d_softmax_rows(<double *>L.y, rows, L.n_out, L.n_out, L.softmax == 2)
        elif L.act < 0:
            fnn_s_softmax_rows(<float *>L.y, rows, L.n_out, L.n_out, L.softmax == 2)
        return 0
    if L.kind == PRELU:
        L.z = <void *>inp            # read by the backward pass
    if dbl:
        _norm_forward(<const double *>inp, L, rows, nt)
    else:
        _norm_forward(<const float *>inp, L, rows, nt)
    return 0


cdef void _layer_backward(bint dbl, Layer *L, Layer *P, int64_t rows, const void *g,
                          bint is_dz, bint need_dx, int nt) noexcept nogil:
    """Layer L's parameter gradients and, with need_dx, L.dx := d loss / d input from
    g = d loss / d output (d loss / d logits when is_dz), times the act' of the Dense
    layer P before it (None: L is first) where P leaves its act' to the next layer."""
    cdef int64_t n = rows * L.n_out
    if L.kind == ACTIVATION:
        if not need_dx:
            return
        if is_dz or L.act == 0:
            memcpy(L.dx, g, n * (8 if dbl else 4))
        else:
            _act_backward(dbl, L.act, L.param, g, L.z if L.needs_z else L.y, L.dx, n, nt)
    elif L.kind >= NORMALIZE:
        if need_dx:
            _more_backward(dbl, L, rows, g, nt)
    elif dbl:
        _norm_backward(<const double *>g, L, rows, need_dx, nt)
    else:
        _norm_backward(<const float *>g, L, rows, need_dx, nt)
    if need_dx and P != NULL and _fusable(P) and P.act != 0:
        _act_backward(dbl, P.act, P.param, L.dx, _saved(P), L.dx, n, nt)


cdef void _norm_forward(const floating *x, Layer *L, int64_t rows, int nt) noexcept nogil:
    """BatchNormalization (fastnn/layers/normalization.py), LayerNormalization or
    Rescaling (preprocessing.py) forward, as their NumPy code computes it."""
    cdef int64_t j, n = L.n_out
    cdef floating *mean = <floating *>L.mean
    cdef floating *inv = <floating *>L.inv
    cdef floating *mm = <floating *>L.moving_mean
    cdef floating *mv = <floating *>L.moving_var
    cdef floating m = <floating>L.momentum, keep = <floating>(1.0 - L.momentum)
    cdef floating eps = <floating>L.epsilon, count = <floating>rows
    nt = _threads(rows * n, nt)
    if L.kind == RESCALE or L.kind == PRELU:
        _rows_pass(RESCALE_FWD if L.kind == RESCALE else PRELU_FWD, x, L, rows, nt)
        return
    if L.kind == LAYER_NORM:
        _ln_forward(x, L, rows, nt)
        return
    if L.training:
        # mean = x.mean(0); var = ((x - mean) ** 2).mean(0); the moving averages
        _col_sums(x, rows, n, mean, nt)
        for j in range(n):
            mean[j] = mean[j] / count
        _rows_pass(CENTRE_SQUARE, x, L, rows, nt)
        _col_sums(<floating *>L.tmp, rows, n, inv, nt)
        for j in range(n):
            inv[j] = inv[j] / count
            mm[j] = mm[j] * m + mean[j] * keep
            mv[j] = mv[j] * m + inv[j] * keep
    else:
        for j in range(n):
            mean[j], inv[j] = mm[j], mv[j]
    for j in range(n):
        inv[j] = _inv_sqrt(inv[j], eps)
    _rows_pass(NORMALISE, x, L, rows, nt)


cdef void _norm_backward(const floating *g, Layer *L, int64_t rows, bint need_dx,
                         int nt) noexcept nogil:
    """BatchNormalization's (or LayerNormalization's, Rescaling's) gradients of gamma and
    beta, and with need_dx its input gradient, as their NumPy code computes them."""
    cdef int64_t j, n = L.n_out
    cdef floating *gm = <floating *>L.sums
    cdef floating *gxm = gm + n
    cdef floating count = <floating>rows
    nt = _threads(rows * n, nt)
    if L.kind == RESCALE:
        if need_dx:
            _rows_pass(RESCALE_BWD, g, L, rows, nt)
        return
    if L.gw != NULL:      # (grad * xhat).sum(0), or PReLU's (grad * min(x, 0)).sum(0)
        _rows_pass(TIMES_XHAT if L.kind != PRELU else PRELU_TIMES_MIN, g, L, rows, nt)
        _col_sums(<floating *>L.tmp, rows, n, <floating *>L.gw, nt)
    if L.gb != NULL:      # grad.sum(0)
        _col_sums(g, rows, n, <floating *>L.gb, nt)
    if not need_dx:
        return
    if L.kind == PRELU:
        _rows_pass(PRELU_DX, g, L, rows, nt)
        return
    if L.kind == LAYER_NORM:
        _ln_backward(g, L, rows, nt)
        return
    _rows_pass(TIMES_GAMMA, g, L, rows, nt)          # dx := g = grad * gamma
    if not L.training:
        _rows_pass(TIMES_INV, g, L, rows, nt)        # g * inv
        return
    # inv * (g - g.sum(0) / n - xhat * (g * xhat).sum(0) / n)
    _col_sums(<const floating *>L.dx, rows, n, gm, nt)
    _rows_pass(DX_TIMES_XHAT, g, L, rows, nt)
    _col_sums(<floating *>L.tmp, rows, n, gxm, nt)
    for j in range(n):
        gm[j] = gm[j] / count
        gxm[j] = gxm[j] / count
    _rows_pass(BN_DX, g, L, rows, nt)


cdef inline floating _inv_sqrt(floating v, floating eps) noexcept nogil:
    """1 / sqrt(v + eps), rounded as NumPy rounds it in the dtype."""
    cdef floating one = 1.0
    if floating is float:
        return one / sqrtf(v + eps)
    else:
        return one / sqrt(v + eps)
