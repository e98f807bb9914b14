# The passes of the layers of step_norm.pxi: sums taken as NumPy's `.sum` takes them
# (so that the plan has the bits of the layers' NumPy code), and element-wise passes
# over blocks of rows, on one thread or spread over threads with the same bits.
from cython.parallel cimport prange

cdef enum:
    CENTRE_SQUARE = 0  # BatchNormalization: xhat := x - mean, tmp := xhat * xhat
    NORMALISE = 1      # xhat := (x - mean) * inv, y := xhat * gamma + beta
    TIMES_XHAT = 2     # tmp := g * xhat
    TIMES_GAMMA = 3    # dx := g * gamma
    TIMES_INV = 4      # dx := dx * inv
    DX_TIMES_XHAT = 5  # tmp := dx * xhat
    BN_DX = 6          # dx := inv * ((dx - gm) - xhat * gxm), per column
    LN_FWD = 7         # LayerNormalization's whole forward pass, row by row
    LN_DX = 8          # its input gradient from dx = g * gamma, row by row
    RESCALE_FWD = 9    # y := x * scale + offset
    RESCALE_BWD = 10   # dx := g * scale
    PRELU_FWD = 11     # y := maximum(x, 0) + alpha * minimum(x, 0)
    PRELU_TIMES_MIN = 12  # tmp := g * minimum(x, 0)
    PRELU_DX = 13      # dx := g * where(x > 0, 1, alpha)


cdef floating _pairwise(const floating *a, int64_t n, int64_t stride) noexcept nogil:
    """NumPy's pairwise sum of n values a[i * stride] (numpy/_core/src/umath/
    loops_utils.h.src), which its `.sum` takes along a reduced contiguous axis: the bits
    of `a.sum(axis)` for a row, or for the one column of a (rows, 1) array."""
    cdef floating r0, r1, r2, r3, r4, r5, r6, r7, res
    cdef int64_t i, n2
    if n < 8:
        res = 0.0
        for i in range(n):
            res = res + a[i * stride]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[stride], a[2 * stride], a[3 * stride]
        r4, r5, r6, r7 = a[4 * stride], a[5 * stride], a[6 * stride], a[7 * stride]
        i = 8
        while i < n - n % 8:
            r0 = r0 + a[i * stride]
            r1 = r1 + a[(i + 1) * stride]
            r2 = r2 + a[(i + 2) * stride]
            r3 = r3 + a[(i + 3) * stride]
            r4 = r4 + a[(i + 4) * stride]
            r5 = r5 + a[(i + 5) * stride]
            r6 = r6 + a[(i + 6) * stride]
            r7 = r7 + a[(i + 7) * stride]
            i = i + 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res = res + a[i * stride]
            i = i + 1
        return res
    n2 = n // 2
    n2 = n2 - n2 % 8
    return _pairwise(a, n2, stride) + _pairwise(a + n2 * stride, n - n2, stride)


cdef inline floating _numpy_sum(const floating *a, int64_t n, int64_t stride) noexcept nogil:
    """NumPy's reduction of n values along a contiguous axis: its identity 0 plus the
    pairwise sum (0 + -0.0 is +0.0, as there)."""
    cdef floating zero = 0.0
    return zero + _pairwise(a, n, stride)


cdef void _col_block(const floating *a, int64_t rows, int64_t n, floating *out, int64_t lo,
                     int64_t hi) noexcept nogil:
    cdef int64_t i, j
    cdef const floating *row
    for j in range(lo, hi):
        out[j] = 0.0
    for i in range(rows):
        row = a + i * n
        for j in range(lo, hi):
            out[j] = out[j] + row[j]


cdef void _col_sums(const floating *a, int64_t rows, int64_t n, floating *out,
                    int nt) noexcept nogil:
    """out[j] := a[:, j].sum() for an (rows, n) array, as NumPy's `a.sum(axis=0)` adds:
    from 0, row after row (pairwise for a single column). Column blocks spread over
    threads; each column's order is the same on any number of threads."""
    cdef int64_t c, n_blocks = (n + 63) // 64
    if n == 1:
        out[0] = _numpy_sum(a, rows, 1)
    elif nt == 1 or n_blocks == 1:
        _col_block(a, rows, n, out, 0, n)
    else:
        for c in prange(n_blocks, schedule="static", num_threads=nt):
            _col_block(a, rows, n, out, c * 64, min(n, c * 64 + 64))


cdef void _rows_pass(int op, const floating *a, Layer *L, int64_t rows,
                     int nt) noexcept nogil:
    """Pass `op` over all rows: in one call on one thread, else in blocks of rows of
    about CHUNK elements spread over threads (element- or row-independent work)."""
    cdef int64_t c, per = max(1, CHUNK // L.n_out), n_blocks = (rows + per - 1) // per
    if nt == 1 or n_blocks == 1:
        _rows_part(op, a, L, 0, rows)
        return
    for c in prange(n_blocks, schedule="static", num_threads=nt):
        _rows_part(op, a, L, c * per, min(rows, c * per + per))


cdef void _rows_part(int op, const floating *a, Layer *L, int64_t lo,
                     int64_t hi) noexcept nogil:
    """Pass `op` over rows lo .. hi (the test of `op` outside each row's loop, so that
    the loops vectorise)."""
    cdef int64_t i, j, n = L.n_out
    cdef const floating *mean = <const floating *>L.mean
    cdef const floating *inv = <const floating *>L.inv
    cdef const floating *gm = <const floating *>L.sums
    cdef const floating *gxm = gm + n
    cdef const floating *gamma = <const floating *>L.w
    cdef floating s = <floating>L.param, o = <floating>L.epsilon
    cdef const floating *x
    cdef floating *xhat
    cdef floating *tmp
    cdef floating *dx
    cdef floating *y
    for i in range(lo, hi):
        x, y = a + i * n, <floating *>L.y + i * n
        xhat, tmp = <floating *>L.xhat + i * n, <floating *>L.tmp + i * n
        dx = <floating *>L.dx + i * n
        if op == CENTRE_SQUARE:
            for j in range(n):
                xhat[j] = x[j] - mean[j]
                tmp[j] = xhat[j] * xhat[j]
        elif op == NORMALISE:
            for j in range(n):
                xhat[j] = (x[j] - mean[j]) * inv[j]
            _affine_row(xhat, gamma, <const floating *>L.b, y, n)
        elif op == TIMES_XHAT:
            for j in range(n):
                tmp[j] = x[j] * xhat[j]
        elif op == TIMES_GAMMA and gamma != NULL:
            for j in range(n):
                dx[j] = x[j] * gamma[j]
        elif op == TIMES_GAMMA:
            memcpy(dx, x, n * sizeof(floating))
        elif op == TIMES_INV:
            for j in range(n):
                dx[j] = dx[j] * inv[j]
        elif op == DX_TIMES_XHAT:
            for j in range(n):
                tmp[j] = dx[j] * xhat[j]
        elif op == BN_DX:
            for j in range(n):
                dx[j] = inv[j] * ((dx[j] - gm[j]) - xhat[j] * gxm[j])
        elif op == LN_FWD:
            _ln_row(x, L, i)
            _affine_row(xhat, gamma, <const floating *>L.b, y, n)
        elif op == LN_DX:
            _ln_dx_row(dx, L, i)
        elif op == RESCALE_FWD:
            for j in range(n):
                y[j] = x[j] * s + o
        elif op == RESCALE_BWD:
            for j in range(n):
                dx[j] = x[j] * s
        elif op >= PRELU_FWD:
            _prelu_row(op, x, <const floating *>L.z + i * n, gamma, y, tmp, dx, n)


cdef inline void _prelu_row(int op, const floating *a, const floating *x,
                            const floating *alpha, floating *y, floating *tmp, floating *dx,
                            int64_t n) noexcept nogil:
    """A row of PReLU's passes, with NumPy's maximum and minimum (which return their
    first argument on a tie or a NaN: -0.0 for x = -0.0)."""
    cdef int64_t j
    cdef floating zero = 0.0
    if op == PRELU_FWD:
        for j in range(n):
            y[j] = ((a[j] if a[j] >= zero or a[j] != a[j] else zero)
                    + alpha[j] * (a[j] if a[j] <= zero or a[j] != a[j] else zero))
    elif op == PRELU_TIMES_MIN:
        for j in range(n):
            tmp[j] = a[j] * (x[j] if x[j] <= zero or x[j] != x[j] else zero)
    else:
        for j in range(n):
            dx[j] = a[j] * (<floating>1.0 if x[j] > zero else alpha[j])


cdef inline void _affine_row(const floating *xhat, const floating *gamma,
                             const floating *beta, floating *y, int64_t n) noexcept nogil:
    """y := xhat * gamma + beta (each factor only where the layer has it)."""
    cdef int64_t j
    if gamma != NULL and beta != NULL:
        for j in range(n):
            y[j] = xhat[j] * gamma[j] + beta[j]
    elif gamma != NULL:
        for j in range(n):
            y[j] = xhat[j] * gamma[j]
    elif beta != NULL:
        for j in range(n):
            y[j] = xhat[j] + beta[j]
    else:
        memcpy(y, xhat, n * sizeof(floating))


cdef void _ln_row(const floating *x, Layer *L, int64_t i) noexcept nogil:
    """LayerNormalization of row i: mean = x.mean(-1), var = ((x - mean) ** 2).mean(-1),
    inv = 1 / sqrt(var + epsilon), xhat = (x - mean) * inv."""
    cdef int64_t j, n = L.n_out
    cdef floating count = <floating>n, eps = <floating>L.epsilon
    cdef floating *xhat = <floating *>L.xhat + i * n
    cdef floating *tmp = <floating *>L.tmp + i * n
    cdef floating mean = _numpy_sum(x, n, 1) / count, inv
    for j in range(n):
        xhat[j] = x[j] - mean
        tmp[j] = xhat[j] * xhat[j]
    inv = _inv_sqrt(_numpy_sum(tmp, n, 1) / count, eps)
    for j in range(n):
        xhat[j] = xhat[j] * inv
    (<floating *>L.mean)[i] = mean
    (<floating *>L.inv)[i] = inv


cdef void _ln_dx_row(floating *dx, Layer *L, int64_t i) noexcept nogil:
    """Row i of LayerNormalization's input gradient, in its row dx of g = grad * gamma:
    inv * (g - g.mean(-1) - xhat * (g * xhat).mean(-1))."""
    cdef int64_t j, n = L.n_out
    cdef floating count = <floating>n
    cdef floating *xhat = <floating *>L.xhat + i * n
    cdef floating *tmp = <floating *>L.tmp + i * n
    cdef floating inv = (<floating *>L.inv)[i], gm, gxm
    gm = _numpy_sum(<const floating *>dx, n, 1) / count
    for j in range(n):
        tmp[j] = dx[j] * xhat[j]
    gxm = _numpy_sum(<const floating *>tmp, n, 1) / count
    for j in range(n):
        dx[j] = inv * ((dx[j] - gm) - xhat[j] * gxm)


cdef void _ln_forward(const floating *x, Layer *L, int64_t rows, int nt) noexcept nogil:
    _rows_pass(LN_FWD, x, L, rows, nt)


cdef void _ln_backward(const floating *g, Layer *L, int64_t rows, int nt) noexcept nogil:
    _rows_pass(TIMES_GAMMA, g, L, rows, nt)
    _rows_pass(LN_DX, g, L, rows, nt)
