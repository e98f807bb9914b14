# The layers a StackPlan (step.pxi) runs through step_norm.pxi's dispatch beside those
# of that file: Normalization (a fixed per-feature affine map) and the noise layers,
# GaussianNoise, GaussianDropout and AlphaDropout (active in training only: an inference
# plan leaves them out, as it leaves Dropout).
#
# Each computes what its NumPy code in fastnn/layers/ computes on the cpu backend, with
# the same bits: the noise is the counter-based draw of fastnn/_philox.py (the normal
# draws of philox_normal.pxi, AlphaDropout's mask that of Dropout), a pure function of
# (seed, layer, step, element), and every pass is element-independent, so any thread
# count gives the same bits.
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

from fastnn._kernels.capi cimport fnn_dropout_keep_fast

cdef enum:
    NORM_FWD = 0         # y := (x - mean) / std, or mean + x * std inverted
    NORM_BWD = 1         # dx := g / std, or g * std inverted
    NOISE_FWD = 2        # the noise layer's forward pass, drawing its noise
    NOISE_BWD = 3        # its input gradient
    NORMALS = 256        # normal draws per piece of a noise pass (on the stack)


cdef int _more_buffers(Layer *L, dict spec, int64_t rows, list keep) except -1:
    """Fill the fields of a layer of this file from its spec (see layer_spec in
    fastnn/backend/compiled_layers.py) and make its scratch buffers."""
    dtype = spec["y"].dtype
    L.trainable = False
    L.param, L.epsilon = spec.get("param", 0.0), spec.get("epsilon", 0.0)
    L.momentum = spec.get("momentum", 0.0)
    if L.kind == NORMALIZE:
        L.moving_mean = _keep_data(spec["mean"], keep)
        L.moving_var = _keep_data(spec["variance"], keep)
        L.stat_stride = 1 if spec["mean"].size == L.n_out else 0
        L.invert = spec["invert"]
        L.mean = _keep_data(np.empty(L.n_out, dtype), keep)
        L.inv = _keep_data(np.empty(L.n_out, dtype), keep)
        return 0
    L.rate, L.seed, L.layer_index = spec.get("rate", 0.0), spec["seed"], spec["layer_index"]
    if L.kind == GAUSSIAN_DROPOUT:
        L.tmp = _keep_data(np.empty((rows, L.n_out), dtype), keep)
    elif L.kind == ALPHA_DROPOUT:
        L.mask = <uint8_t *><void *>_keep_data(np.empty((rows, L.n_out), np.uint8), keep)
    return 0


cdef bint _noise_on(Layer *L) noexcept nogil:
    """Whether noise layer L changes its input in training (a rate or stddev of 0 keeps
    it, as the layer's own code does)."""
    return (L.rate > 0) if L.kind == ALPHA_DROPOUT else (L.param > 0)


cdef int _more_forward(bint dbl, Layer *L, int64_t rows, const void *inp,
                       const uint32_t *steps, int j, int64_t first_row,
                       int nt) noexcept nogil:
    """L.y := layer L of this file applied to the rows at inp, a noise layer drawing at
    Philox step steps[j] the noise of elements from first_row * n_out on; returns the
    steps taken (1 for a noise layer, else 0)."""
    cdef int64_t n = rows * L.n_out
    if L.kind == NORMALIZE:
        if dbl:
            _norm_stats(<double *>L.mean, <double *>L.inv, L)
        else:
            _norm_stats(<float *>L.mean, <float *>L.inv, L)
        _more_pass(dbl, NORM_FWD, inp, L, n, 0, 0, nt)
        return 0
    if _noise_on(L):
        _more_pass(dbl, NOISE_FWD, inp, L, n, first_row * L.n_out, steps[j], nt)
    else:
        memcpy(L.y, inp, n * (8 if dbl else 4))
    return 1


cdef void _more_backward(bint dbl, Layer *L, int64_t rows, const void *g,
                         int nt) noexcept nogil:
    """L.dx := d loss / d input of layer L of this file from g = d loss / d output."""
    cdef int64_t n = rows * L.n_out
    if L.kind == NORMALIZE:
        _more_pass(dbl, NORM_BWD, g, L, n, 0, 0, nt)
    elif L.kind == GAUSSIAN_NOISE or not _noise_on(L):
        memcpy(L.dx, g, n * (8 if dbl else 4))
    else:
        _more_pass(dbl, NOISE_BWD, g, L, n, 0, 0, nt)


cdef void _norm_stats(floating *mean, floating *std, Layer *L) noexcept nogil:
    """mean := the layer's mean per feature; std := maximum(sqrt(variance), epsilon), as
    Normalization._std rounds it (NumPy's maximum: NaN stays)."""
    cdef int64_t j, k
    cdef floating eps = <floating>L.epsilon, s
    for j in range(L.n_out):
        k = j * L.stat_stride
        mean[j] = (<const floating *>L.moving_mean)[k]
        s = _sqrt((<const floating *>L.moving_var)[k])
        std[j] = s if (s >= eps or s != s) else eps


cdef void _more_pass(bint dbl, int op, const void *a, Layer *L, int64_t n, int64_t first,
                     uint32_t step, int nt) noexcept nogil:
    """Pass `op` over the n elements of L's batch (from a), in one call below
    PARALLEL_MIN elements, else in CHUNK pieces spread over threads."""
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _more_part(dbl, op, a, L, 0, n, first, step)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _more_part(dbl, op, a, L, c * CHUNK, min(CHUNK, n - c * CHUNK), first, step)


cdef void _more_part(bint dbl, int op, const void *a, Layer *L, int64_t lo, int64_t n,
                     int64_t first, uint32_t step) noexcept nogil:
    if dbl:
        _more_elements(op, <const double *>a, L, lo, n, first, step)
    else:
        _more_elements(op, <const float *>a, L, lo, n, first, step)


cdef void _more_elements(int op, const floating *a, Layer *L, int64_t lo, int64_t n,
                         int64_t first, uint32_t step) noexcept nogil:
    """Pass `op` over elements lo .. lo + n."""
    cdef int64_t i, k, m
    cdef floating *y = <floating *>L.y
    cdef floating *dx = <floating *>L.dx
    cdef floating *factor = <floating *>L.tmp
    cdef floating one = 1.0, kept
    cdef floating a_ = <floating>L.param, b_ = <floating>L.epsilon
    cdef floating alpha_p = <floating>L.momentum
    cdef double z[NORMALS]
    if op == NORM_FWD or op == NORM_BWD:
        _norm_elements(op, a, L, lo, n)
    elif L.kind == ALPHA_DROPOUT and op == NOISE_FWD:
        # a * (x * kept + alpha_p * (1 - kept)) + b
        fnn_dropout_keep_fast(L.seed, L.layer_index, step, _threshold(L.rate), first + lo, n,
                              L.mask + lo)
        for i in range(lo, lo + n):
            kept = <floating>L.mask[i]
            y[i] = a_ * (a[i] * kept + alpha_p * (one - kept)) + b_
    elif L.kind == ALPHA_DROPOUT:
        for i in range(lo, lo + n):
            dx[i] = a[i] * (a_ * <floating>L.mask[i])
    elif op == NOISE_BWD:
        for i in range(lo, lo + n):
            dx[i] = a[i] * factor[i]
    else:
        i = lo
        while i < lo + n:      # pieces of NORMALS draws: x + stddev z, x * (1 + stddev z)
            m = min(<int64_t>NORMALS, lo + n - i)
            _normals(L.seed, L.layer_index, step, first + i, m, z)
            if L.kind == GAUSSIAN_NOISE:
                for k in range(m):
                    y[i + k] = a[i + k] + <floating>(L.param * z[k])
            else:
                for k in range(m):
                    factor[i + k] = <floating>(1.0 + L.param * z[k])
                    y[i + k] = a[i + k] * factor[i + k]
            i += m


cdef void _norm_elements(int op, const floating *a, Layer *L, int64_t lo,
                         int64_t n) noexcept nogil:
    """Normalization's pass `op` over elements lo .. lo + n, a piece of a row at a time
    (so that the loops vectorise)."""
    cdef int64_t i = lo, j, k, m, f = L.n_out
    cdef const floating *mean = <const floating *>L.mean
    cdef const floating *std = <const floating *>L.inv
    cdef floating *out = <floating *>(L.y if op == NORM_FWD else L.dx)
    while i < lo + n:
        j = i % f                      # the feature of element i
        m = min(f - j, lo + n - i)
        if op == NORM_FWD and L.invert:
            for k in range(m):
                out[i + k] = mean[j + k] + a[i + k] * std[j + k]
        elif op == NORM_FWD:
            for k in range(m):
                out[i + k] = (a[i + k] - mean[j + k]) / std[j + k]
        elif L.invert:
            for k in range(m):
                out[i + k] = a[i + k] * std[j + k]
        else:
            for k in range(m):
                out[i + k] = a[i + k] / std[j + k]
        i += m
