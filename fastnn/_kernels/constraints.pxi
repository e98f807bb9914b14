# Weight constraints (fastnn/constraints.py) applied in a compiled training step, right
# after the update of the parameters (step_train.pxi), as Keras applies them.
#
# Each computes what the constraint's NumPy code computes, with the same bits: the squares,
# their sums taken as NumPy's `.sum(axis)` takes them (step_norm_rows.pxi: per column row
# after row, per row or over everything pairwise), then the norms and factors in the
# weights' dtype with the constraint's values rounded to it, as NumPy rounds Python
# scalars. The sums run in an order fixed by the shapes alone and the element-wise passes
# are element-independent, so any thread count gives the same bits.
from libc.stdlib cimport calloc, free

cdef enum:
    MAX_NORM = 0
    NON_NEG = 1
    UNIT_NORM = 2
    MIN_MAX_NORM = 3
    # which squares are summed into one norm
    SUM_COLS = 0       # a column of a (rows, cols) weight: axis 0
    SUM_ROWS = 1       # a row: axis 1
    SUM_ALL = 2        # every element

CONSTRAINT_KINDS = {"max_norm": MAX_NORM, "non_neg": NON_NEG, "unit_norm": UNIT_NORM,
                    "min_max_norm": MIN_MAX_NORM}
CONSTRAINT_SUMS = {"cols": SUM_COLS, "rows": SUM_ROWS, "all": SUM_ALL}


cdef struct Bound:
    void *p            # the weight, (rows, cols) C-contiguous
    void *sq           # scratch: its squares
    void *norms        # scratch: one value per norm (cols, rows or 1)
    int64_t rows, cols
    int kind, sums
    double min_value, max_value, rate, epsilon


cdef class Constraints:
    """Constraints of some of a model's weights, applied in one GIL-free call.

    Args:
        weights: C-contiguous arrays of one dtype (float32 or float64), each seen as
            (rows, cols): a 2-D weight as it is, a 1-D one as one row.
        specs: one (kind, sums, min_value, max_value, rate, epsilon) per weight: a
            CONSTRAINT_KINDS code, a CONSTRAINT_SUMS code (which elements share a norm),
            the constraint's values (MaxNorm: max_value; MinMaxNorm: all three) and
            the epsilon added to a norm it divides by.
    """
    cdef Bound *items
    cdef int n
    cdef bint dbl
    cdef list _keep

    def __cinit__(self, list weights, list specs):
        if len(weights) != len(specs):
            raise ValueError("`specs` must hold one constraint per weight")
        self.items = <Bound *>calloc(max(len(weights), 1), sizeof(Bound))
        if self.items == NULL:
            raise MemoryError()
        self.n = len(weights)
        dtype = weights[0].dtype if weights else np.dtype(np.float32)
        self.dbl = dtype == np.float64
        self._keep = []
        cdef Bound *b
        for i, (w, spec) in enumerate(zip(weights, specs)):
            if (w.dtype != dtype or dtype not in (np.float32, np.float64)
                    or w.ndim not in (1, 2) or not w.flags.c_contiguous):
                raise ValueError("constrained weights must be 1-D or 2-D C-contiguous "
                                 "arrays of one dtype, float32 or float64")
            kind, sums, low, high, rate, eps = spec
            if kind not in CONSTRAINT_KINDS.values() or sums not in CONSTRAINT_SUMS.values():
                raise ValueError(f"unknown constraint spec {spec!r}")
            b = &self.items[i]
            b.rows, b.cols = (w.shape[0], w.shape[1]) if w.ndim == 2 else (1, w.shape[0])
            b.kind, b.sums = kind, sums
            b.min_value, b.max_value, b.rate, b.epsilon = low, high, rate, eps
            count = b.cols if sums == SUM_COLS else b.rows if sums == SUM_ROWS else 1
            b.p = _keep_data(w, self._keep)
            b.sq = _keep_data(np.empty(w.size, dtype), self._keep)
            b.norms = _keep_data(np.empty(max(count, 1), dtype), self._keep)

    def __dealloc__(self):
        free(self.items)

    def apply(self, int n_threads):
        """Project every weight with its constraint, in place."""
        with nogil:
            self._apply(n_threads)

    cdef void _apply(self, int nt) noexcept nogil:
        cdef int i
        for i in range(self.n):
            if self.dbl:
                _constrain(<double *>self.items[i].p, &self.items[i], nt)
            else:
                _constrain(<float *>self.items[i].p, &self.items[i], nt)


cdef void _constrain(floating *p, Bound *b, int nt) noexcept nogil:
    """Weight b := its constraint's projection (fastnn/constraints.py)."""
    cdef int64_t j, n = b.rows * b.cols
    cdef floating *sq = <floating *>b.sq
    cdef floating *norms = <floating *>b.norms
    cdef int64_t count = b.cols if b.sums == SUM_COLS else b.rows if b.sums == SUM_ROWS else 1
    nt = _threads(n, nt)
    if b.kind == NON_NEG:                      # maximum(w, 0)
        _weight_pass(p, b, NULL, 0, nt)
        return
    _weight_pass(p, b, NULL, 1, nt)            # sq := w * w
    if b.sums == SUM_COLS:                     # (w * w).sum(axis=0)
        _col_sums(<const floating *>sq, b.rows, b.cols, norms, nt)
    elif b.sums == SUM_ROWS:                   # (w * w).sum(axis=1)
        _weight_pass(p, b, NULL, 2, nt)
    else:
        norms[0] = _numpy_sum(<const floating *>sq, n, 1)
    for j in range(count):
        norms[j] = _factor(norms[j], b)
    _weight_pass(p, b, norms, 4 if b.kind == UNIT_NORM else 3, nt)


cdef inline floating _clip_one(floating x, floating low, floating high) noexcept nogil:
    """NumPy's clip of one value: NaN stays NaN."""
    if x != x:
        return x
    x = x if x > low else low
    return x if x < high else high


cdef inline floating _factor(floating sum_sq, Bound *b) noexcept nogil:
    """From a sum of squares, what the weights of its norm are multiplied by (MaxNorm,
    MinMaxNorm: desired / (epsilon + norm)) or divided by (UnitNorm: epsilon + norm)."""
    cdef floating norm, desired
    cdef floating eps = <floating>b.epsilon
    norm = _sqrt(sum_sq)            # optimizers.pxi
    if b.kind == UNIT_NORM:
        return eps + norm
    if b.kind == MAX_NORM:
        desired = _clip_one(norm, <floating>0.0, <floating>b.max_value)
    else:
        desired = _clip_one(norm, <floating>b.min_value, <floating>b.max_value)
        desired = <floating>b.rate * desired + <floating>(1.0 - b.rate) * norm
    return desired / (eps + norm)


cdef void _weight_pass(floating *p, Bound *b, const floating *f, int op,
                       int nt) noexcept nogil:
    """Pass `op` over the rows of weight b: 0 maximum(w, 0); 1 sq := w * w; 2 each
    row's sum of squares; 3 w * f (f per column, per row or one); 4 w / f. In one call
    on one thread, else in blocks of rows spread over threads."""
    cdef int64_t c, per = max(1, CHUNK // max(b.cols, 1))
    cdef int64_t n_blocks = (b.rows + per - 1) // per
    if nt == 1 or n_blocks == 1:
        _weight_rows(p, b, f, op, 0, b.rows)
        return
    for c in prange(n_blocks, schedule="static", num_threads=nt):
        _weight_rows(p, b, f, op, c * per, min(b.rows, c * per + per))


cdef void _weight_rows(floating *p, Bound *b, const floating *f, int op, int64_t lo,
                       int64_t hi) noexcept nogil:
    cdef int64_t i, j, n = b.cols
    cdef floating *w
    cdef floating *sq
    cdef floating x, zero = 0.0, g
    for i in range(lo, hi):
        w, sq = p + i * n, <floating *>b.sq + i * n
        if op == 0:          # NumPy's maximum: NaN stays, -0.0 becomes 0
            for j in range(n):
                x = w[j]
                w[j] = x if (x > zero or x != x) else zero
        elif op == 1:
            for j in range(n):
                sq[j] = w[j] * w[j]
        elif op == 2:
            (<floating *>b.norms)[i] = _numpy_sum(<const floating *>sq, n, 1)
        elif b.sums == SUM_COLS:
            if op == 3:
                for j in range(n):
                    w[j] = w[j] * f[j]
            else:
                for j in range(n):
                    w[j] = w[j] / f[j]
        else:
            g = f[i] if b.sums == SUM_ROWS else f[0]
            if op == 3:
                for j in range(n):
                    w[j] = w[j] * g
            else:
                for j in range(n):
                    w[j] = w[j] / g
