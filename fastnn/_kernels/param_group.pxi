"""ParamGroup: all of a model's parameters updated in one GIL-free call, by any of the
rules of optimizers.pxi (the same chunk functions, so the same bits as the per-parameter
calls), with each parameter's L1/L2 penalty and Keras' gradient clipping; norms and
penalties summed in fixed pieces, so any thread count gives the same bits.
"""
cdef inline char *_data(arr):
    return <char *>cnp.PyArray_DATA(<cnp.ndarray>arr)


cdef struct Chunk:
    void *p
    void *g
    void *s0
    void *s1
    void *s2
    int64_t n


cdef struct Scalars:
    # one step's values of an update row (GROUP_UPDATE_WIDTH values)
    int rule
    double lr, decay_1, decay_2, epsilon, wd_lr, c_m, c_g, c_v


cdef extern from "bf16.h" nogil:
    void fnn_bf16_pack_b_rows(int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                              int64_t r_lo, int64_t r_hi)


cdef class ParamGroup:
    """Every parameter of a model with its gradient and up to three optimizer slots,
    updated in one call, with the gradient's regularization terms and clipping.

    A step (`update`) runs, in Keras' order: each regularized parameter's gradient
    += the penalty's gradient (from the weights before the update; the penalty itself is
    returned), then the clipping, then the rule. Sums (penalties, norms) are taken over
    fixed CHUNK pieces of each parameter, stored by piece and added in piece order, so
    that they have the same bits on any number of threads.

    Each thread takes a strip of every parameter's rows, cut as the GEMM cuts the rows
    of the gradient x^T dZ (fnn_gemm_row_strip), and updates it in pieces of CHUNK
    elements. So each core updates the rows whose gradient it computed, a training
    step's forward product reads the same rows on the same core (fnn_sgemm_k_halves),
    and no line of the weights moves between cores.

    Args:
        params, grads: lists of C-contiguous arrays of one dtype, the i-th of each list
            the same size.
        slots0, slots1, slots2: lists as `params` (or None: the rule has fewer slots),
            in the order of the rule's slots (the GROUP_* codes).
        l1, l2: each parameter's regularization factors (penalty l1 sum|w| + l2 sum w^2;
            None: none).
        clip, clip_value: a CLIP_* code and its bound.
    """
    cdef Chunk *whole        # one entry per parameter
    cdef int64_t *rows       # each parameter's first dimension (at least 1)
    cdef double *l1
    cdef double *l2
    cdef double *scale       # each parameter's gradient factor of this step (0: none)
    cdef void **bf16_copy    # per parameter: a bfloat16 B~ the update keeps (NULL: none)
    cdef int64_t *piece_param   # the fixed pieces of the sums: parameter, first element
    cdef int64_t *piece_lo
    cdef double *piece_sums     # per piece: sum |w|, sum w^2, sum g^2
    cdef int64_t n_params, size, n_pieces
    cdef readonly int n_slots, clip
    cdef readonly double clip_value
    cdef bint dbl, regularized
    cdef list _keep

    def __cinit__(self, list params, list grads, list slots0=None, list slots1=None,
                  list slots2=None, l1=None, l2=None, int clip=CLIP_NONE,
                  double clip_value=0.0):
        slot_lists = [s for s in (slots0, slots1, slots2) if s is not None]
        if (slots1 is not None and slots0 is None) or (slots2 is not None and slots1 is None):
            raise ValueError("ParamGroup slots must be given in order")
        arrays = [params, grads] + slot_lists
        self._keep = [a for group in arrays for a in group]
        dtype = params[0].dtype if params else np.dtype(np.float32)
        for a in self._keep:
            if a.dtype != dtype or not a.flags.c_contiguous:
                raise ValueError("ParamGroup arrays must be C-contiguous, of one dtype")
        for group in arrays[1:]:
            if len(group) != len(params) or any(a.size != p.size for a, p in zip(group, params)):
                raise ValueError("each ParamGroup gradient and slot must match its "
                                 "parameter's size")
        if clip not in (CLIP_NONE, CLIP_VALUE, CLIP_NORM, CLIP_GLOBAL_NORM):
            raise ValueError(f"`clip` must be a CLIP_* code; got {clip}")
        if clip != CLIP_NONE and not clip_value > 0:
            raise ValueError(f"`clip_value` must be > 0; got {clip_value}")
        factors = [[0.0] * len(params) if f is None else [float(x) for x in f]
                   for f in (l1, l2)]
        if any(len(f) != len(params) for f in factors):
            raise ValueError("`l1` and `l2` must hold one factor per parameter")
        if any(not (x >= 0) for f in factors for x in f):
            raise ValueError("regularization factors must be >= 0")
        self.dbl = dtype == np.float64
        self.n_params = len(params)
        self.n_slots = len(slot_lists)
        self.clip, self.clip_value = clip, clip_value
        n = max(self.n_params, 1)
        self.whole = <Chunk *>calloc(n, sizeof(Chunk))
        self.rows = <int64_t *>calloc(n, sizeof(int64_t))
        self.l1 = <double *>calloc(n, sizeof(double))
        self.l2 = <double *>calloc(n, sizeof(double))
        self.scale = <double *>calloc(n, sizeof(double))
        self.bf16_copy = <void **>calloc(n, sizeof(void *))
        if (self.whole == NULL or self.rows == NULL or self.l1 == NULL or self.l2 == NULL
                or self.scale == NULL or self.bf16_copy == NULL):
            raise MemoryError()
        self.size = self.n_pieces = 0
        self.regularized = False
        for i, p in enumerate(params):
            self.size += p.size
            self.n_pieces += (p.size + CHUNK - 1) // CHUNK
            self.rows[i] = max(p.shape[0], 1) if p.ndim > 0 else 1
            self.l1[i], self.l2[i] = factors[0][i], factors[1][i]
            self.regularized |= self.l1[i] != 0 or self.l2[i] != 0
            held = [s[i] for s in slot_lists] + [None] * (3 - len(slot_lists))
            _set_chunk(&self.whole[i], p, grads[i], held[0], held[1], held[2])
        k = max(self.n_pieces, 1)
        self.piece_param = <int64_t *>calloc(k, sizeof(int64_t))
        self.piece_lo = <int64_t *>calloc(k, sizeof(int64_t))
        self.piece_sums = <double *>calloc(3 * k, sizeof(double))
        if self.piece_param == NULL or self.piece_lo == NULL or self.piece_sums == NULL:
            raise MemoryError()
        k = 0
        for i, p in enumerate(params):
            for lo in range(0, p.size, CHUNK):
                self.piece_param[k], self.piece_lo[k] = i, lo
                k += 1

    def __dealloc__(self):
        free(self.whole)
        free(self.rows)
        free(self.l1)
        free(self.l2)
        free(self.scale)
        free(self.bf16_copy)
        free(self.piece_param)
        free(self.piece_lo)
        free(self.piece_sums)

    cdef bint _keep_bf16(self, const void *p, void *packed) noexcept nogil:
        """From now on each update also writes the float32 parameter at `p` (a 2-D
        weight) into `packed`, as fnn_bf16_pack_b(0, ...) would, each thread the rows it
        updated while they are in its cache; False where no float32 parameter is at p."""
        cdef int64_t i
        if self.dbl:
            return False
        for i in range(self.n_params):
            if self.whole[i].p == p:
                self.bf16_copy[i] = packed
                return True
        return False

    cdef void _drop_bf16(self) noexcept nogil:
        """Updates write no bfloat16 copies (undoes every _keep_bf16)."""
        cdef int64_t i
        for i in range(self.n_params):
            self.bf16_copy[i] = NULL

    cdef int check_rule(self, int rule) except -1:
        """Raise unless `rule` is a GROUP_* code whose slots this group holds."""
        if not 0 <= rule < GROUP_N_RULES:
            raise ValueError(f"`rule` must be a GROUP_* code; got {rule}")
        cdef int needed = group_rule_slots(rule)
        if needed > self.n_slots:
            raise ValueError(f"rule {rule} needs {needed} slots; this group "
                             f"holds {self.n_slots}")
        return 0

    def update(self, *args):
        """One update of every parameter: update(*row, n_threads), with `row` an
        optimizer's group_update_args (GROUP_UPDATE_WIDTH values; the first six suffice
        for the rules that do not read c_m, c_g, c_v):

        rule     a GROUP_* code;
        lr       the step size (Adam, Adamax: the bias-corrected alpha);
        decay_1  beta_1 (Adam, Adamax, Nadam), rho (RMSprop), momentum (SGD);
        decay_2  beta_2 (Adam, Adamax, Nadam), momentum (RMSprop);
        epsilon;
        wd_lr    the decoupled weight decay times the learning rate;
        c_m, c_g, c_v   Nadam's factors of m, g and v.

        Returns the regularization penalty of the weights before the update."""
        cdef Scalars s
        if len(args) not in (7, GROUP_UPDATE_WIDTH + 1):
            raise TypeError(f"update takes {GROUP_UPDATE_WIDTH} (or 6) values and the "
                            f"thread count; got {len(args)} arguments")
        _scalars(args[:len(args) - 1], &s)
        self.check_rule(s.rule)
        cdef int n_threads = args[len(args) - 1]
        cdef double penalty
        with nogil:
            penalty = self._update(&s, n_threads)
        return penalty

    cdef double _update(self, const Scalars *s, int n_threads) noexcept nogil:
        """The update (its rule checked by check_rule); returns the penalty."""
        cdef double penalty = 0.0
        cdef bint whole = self.size < PARALLEL_MIN or n_threads == 1
        if self.regularized or self.clip == CLIP_NORM or self.clip == CLIP_GLOBAL_NORM:
            penalty = self._sums(1 if whole else n_threads)
        if whole:   # no parallel region at all
            self._update_strips(0, 1, s)
            return penalty
        with parallel(num_threads=n_threads):
            self._update_strips(threadid(), fnn_omp_team_size(), s)
        return penalty

    cdef double _sums(self, int n_threads) noexcept nogil:
        """Add the penalties' gradients, then take each piece's sums, in parallel; then
        (in piece order) the penalty and the clipping factors."""
        cdef int64_t k, i
        cdef double penalty = 0.0, norm, total = 0.0
        cdef bint norms = self.clip == CLIP_NORM or self.clip == CLIP_GLOBAL_NORM
        if n_threads == 1:
            for k in range(self.n_pieces):
                self._piece_sums(k, norms)
        else:
            for k in prange(self.n_pieces, schedule="static", num_threads=n_threads):
                self._piece_sums(k, norms)
        for i in range(self.n_params):
            self.scale[i] = 0.0
        for k in range(self.n_pieces):      # per parameter, in piece order
            i = self.piece_param[k]
            self.scale[i] += self.piece_sums[3 * k + 2]
        for k in range(self.n_pieces):
            i = self.piece_param[k]
            penalty += (self.l1[i] * self.piece_sums[3 * k]
                        + self.l2[i] * self.piece_sums[3 * k + 1])
        if self.clip == CLIP_NORM:
            for i in range(self.n_params):
                norm = sqrt(self.scale[i])
                self.scale[i] = self.clip_value / norm if norm > self.clip_value else 0.0
        elif self.clip == CLIP_GLOBAL_NORM:
            for i in range(self.n_params):
                total += self.scale[i]
            norm = sqrt(total)
            for i in range(self.n_params):
                self.scale[i] = self.clip_value / norm if norm > self.clip_value else 0.0
        return penalty

    cdef void _piece_sums(self, int64_t k, bint norms) noexcept nogil:
        cdef int64_t i = self.piece_param[k], lo = self.piece_lo[k]
        cdef Chunk *w = &self.whole[i]
        cdef int64_t n = min(CHUNK, w.n - lo)
        cdef double *out = &self.piece_sums[3 * k]
        if self.dbl:
            _regularize(<double *>w.p + lo, <double *>w.g + lo, n, self.l1[i], self.l2[i],
                        norms, out)
        else:
            _regularize(<float *>w.p + lo, <float *>w.g + lo, n, self.l1[i], self.l2[i],
                        norms, out)

    cdef void _update_strips(self, int t, int team, const Scalars *s) noexcept nogil:
        """Thread t's row strip of every parameter, in CHUNK pieces."""
        cdef int64_t i, per, r0, r1, cols, lo, hi
        cdef Chunk piece
        cdef Chunk *w
        cdef int64_t item = 8 if self.dbl else 4
        cdef void *clipped = NULL       # this thread's clipped gradient of a piece
        if self.clip != CLIP_NONE:
            clipped = malloc(CHUNK * item)
            if clipped == NULL:
                abort()
        for i in range(self.n_params):
            w = &self.whole[i]
            cols = w.n // self.rows[i]
            per = fnn_gemm_row_strip(self.dbl, self.rows[i], team)
            r0 = min(t * per, self.rows[i])
            r1 = min(r0 + per, self.rows[i])
            lo = r0 * cols
            hi = r1 * cols
            while lo < hi:
                piece.n = min(CHUNK, hi - lo)
                piece.p = <char *>w.p + lo * item
                piece.g = <char *>w.g + lo * item
                piece.s0 = <char *>w.s0 + lo * item if w.s0 != NULL else NULL
                piece.s1 = <char *>w.s1 + lo * item if w.s1 != NULL else NULL
                piece.s2 = <char *>w.s2 + lo * item if w.s2 != NULL else NULL
                if self.clip == CLIP_VALUE or self.scale[i] != 0.0:
                    if self.dbl:
                        _clip(<const double *>piece.g, <double *>clipped, piece.n,
                              self.clip == CLIP_VALUE, self.clip_value, self.scale[i])
                    else:
                        _clip(<const float *>piece.g, <float *>clipped, piece.n,
                              self.clip == CLIP_VALUE, self.clip_value, self.scale[i])
                    piece.g = clipped
                if self.dbl:
                    _update_chunk(<double *>piece.p, <double *>piece.g, <double *>piece.s0,
                                  <double *>piece.s1, <double *>piece.s2, piece.n, s)
                else:
                    _update_chunk(<float *>piece.p, <float *>piece.g, <float *>piece.s0,
                                  <float *>piece.s1, <float *>piece.s2, piece.n, s)
                lo += piece.n
            if self.bf16_copy[i] != NULL:
                fnn_bf16_pack_b_rows(self.rows[i], cols, <const float *>w.p, cols,
                                     self.bf16_copy[i], r0, r1)
        free(clipped)


cdef int _scalars(row, Scalars *s) except -1:
    """s := an update row (GROUP_UPDATE_WIDTH values, or its first six)."""
    if len(row) not in (6, GROUP_UPDATE_WIDTH):
        raise ValueError(f"an update row holds {GROUP_UPDATE_WIDTH} (or 6) values; "
                         f"got {len(row)}")
    s.rule = <int>row[0]
    s.lr, s.decay_1, s.decay_2, s.epsilon, s.wd_lr = row[1], row[2], row[3], row[4], row[5]
    s.c_m = s.c_g = s.c_v = 0.0
    if len(row) == GROUP_UPDATE_WIDTH:
        s.c_m, s.c_g, s.c_v = row[6], row[7], row[8]
    return 0


cdef int _set_chunk(Chunk *k, p, g, s0=None, s1=None, s2=None) except -1:
    """k := the elements of parameter p, its gradient and slots."""
    k.n = p.size
    k.p = _data(p)
    k.g = _data(g)
    k.s0 = _data(s0) if s0 is not None else NULL
    k.s1 = _data(s1) if s1 is not None else NULL
    k.s2 = _data(s2) if s2 is not None else NULL
    return 0


cdef inline void _regularize(floating *p, floating *g, int64_t n, double l1, double l2,
                             bint norms, double *out) noexcept nogil:
    """g += the gradient of l1 sum|p| + l2 sum p^2, as Keras' regularizers add it
    (fastnn/regularizers.py: the factors in the parameters' precision, the l1 term
    first); out := sum |p|, sum p^2 and (with `norms`) sum g^2 of the result."""
    cdef floating f1 = l1, f2 = 2.0 * l2, w, sign
    cdef double a = 0.0, b = 0.0, q = 0.0
    cdef int64_t i
    for i in range(n):
        w = p[i]
        if l1 != 0.0:
            a += fabs(w)
            sign = 1 if w > 0 else (-1 if w < 0 else (0 if w == 0 else w))   # sign(nan) = nan
            g[i] = g[i] + f1 * sign
        if l2 != 0.0:
            b += <double>w * w
            g[i] = g[i] + f2 * w
        if norms:
            q += <double>g[i] * g[i]
    out[0], out[1], out[2] = a, b, q


cdef inline void _clip(const floating *g, floating *out, int64_t n, bint by_value,
                       double bound, double scale) noexcept nogil:
    """out := g clipped to [-bound, bound] (by_value), else g * scale, in the gradient's
    precision (as Optimizer._clip and its global form compute them)."""
    cdef floating c = bound, f = scale, x
    cdef int64_t i
    if by_value:
        for i in range(n):
            x = g[i]
            out[i] = -c if x < -c else (c if x > c else x)
    else:
        for i in range(n):
            out[i] = g[i] * f
