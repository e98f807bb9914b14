"""Keras 3's focal cross-entropies (Lin et al., 2018), one row at a time, and the check of
a loss's parameter vector.

Each loss kernel reads its parameters from one float64 vector, `params`:

    HUBER                          (delta,)
    FOCAL_BCE, SIGMOID_FOCAL_BCE   (gamma, alpha, apply_class_balancing as 0 or 1)
    FOCAL_CCE, SOFTMAX_FOCAL_CCE   (gamma, alpha_0, ..., alpha_{n-1}), one alpha per
                                   class (_loss_params spreads a single alpha)
    the others                     () (anything given is ignored)

The focal terms are Keras' to its last clip: the probabilities are clipped to
[eps, 1 - eps] for the logarithms, the focal factor (1 - p_t)^gamma reads them unclipped
(binary) or clipped (categorical), and no gradient passes through a clipped value. The
SIGMOID_ and SOFTMAX_ kinds take logits: the probabilities are their sigmoid or softmax,
formed in double, and the gradient is with respect to the logits.
"""
from libc.math cimport pow

from fastnn._kernels.fnn_codes cimport (
    FNN_LOSS_FOCAL_BCE as FOCAL_BCE, FNN_LOSS_SIGMOID_FOCAL_BCE as SIGMOID_FOCAL_BCE,
    FNN_LOSS_FOCAL_CCE as FOCAL_CCE, FNN_LOSS_SOFTMAX_FOCAL_CCE as SOFTMAX_FOCAL_CCE)


cdef object _loss_params(int kind, param, Py_ssize_t n_cols):
    """`param` (one float, or a sequence of floats) as the contiguous float64 vector the
    kernel of loss `kind` reads, its length checked for the losses that read it."""
    params = np.ascontiguousarray(np.asarray(param, dtype=np.float64).reshape(-1))
    cdef Py_ssize_t n = params.shape[0]
    if kind == HUBER and n != 1:
        raise ValueError(f"`param` must be Huber's (delta,); got {param!r}")
    if (kind == FOCAL_BCE or kind == SIGMOID_FOCAL_BCE) and n != 3:
        raise ValueError(f"`param` must be (gamma, alpha, apply_class_balancing) for the "
                         f"binary focal cross-entropy; got {param!r}")
    if (kind == FOCAL_CCE or kind == SOFTMAX_FOCAL_CCE) and n != 2 and n != n_cols + 1:
        raise ValueError(f"`param` must be (gamma, alpha) or (gamma, one alpha per class: "
                         f"{n_cols} of them) for the categorical focal cross-entropy; got "
                         f"{n - 1} alphas")
    if (kind == FOCAL_CCE or kind == SOFTMAX_FOCAL_CCE) and n == 2:
        params = np.concatenate([params[:1], np.full(n_cols, params[1])])
    if n == 0:
        params = np.zeros(1)   # a pointer to read, for the kernels that read nothing
    return params


cdef inline double _pow_grad(double u, double gamma) noexcept nogil:
    """d u^gamma / d u; 0 for gamma = 0 (as JAX's pow)."""
    return gamma * pow(u, gamma - 1.0) if gamma != 0.0 else 0.0


cdef double _row_focal_bce(bint logits, const double *params, const floating *p,
                           const floating *y, floating *g, Py_ssize_t n,
                           double scale) noexcept nogil:
    """mean_j w_j (1 - p_t)^gamma bce_j with p_t = y q + (1 - y)(1 - q), q = p or
    sigmoid(p) (`logits`), w_j = y alpha + (1 - y)(1 - alpha) under class balancing
    (else 1); g (may be NULL) := its gradient times `scale`."""
    cdef double gamma = params[0], alpha = params[1]
    cdef bint balance = params[2] != 0.0
    cdef Py_ssize_t j
    cdef double total = 0.0, t, q, q1, c, c1, bce, u, f, w, d, e, lo
    cdef bint free
    for j in range(n):
        t = y[j]
        if logits:
            e = exp(-fabs(<double>p[j]))
            lo = e / (1.0 + e)                    # sigmoid(-|z|), without cancellation
            if p[j] >= 0:
                q, q1 = 1.0 - lo, lo
            else:
                q, q1 = lo, 1.0 - lo
        else:
            q = p[j]
            q1 = 1.0 - q
        free = EPS < q < 1.0 - EPS
        c = min(max(q, EPS), 1.0 - EPS)
        c1 = q1 if free else 1.0 - c              # 1 - clip(q), as Keras forms it
        bce = -(t * log(c) + (1.0 - t) * log(c1))
        u = t * q1 + (1.0 - t) * q                # 1 - p_t
        f = pow(u, gamma)
        w = t * alpha + (1.0 - t) * (1.0 - alpha) if balance else 1.0
        total += w * f * bce
        if g != NULL:
            if logits:
                # d/dz = (d/dq) q (1 - q); (q - y) from the logit as SIGMOID_BCE forms it
                d = _pow_grad(u, gamma) * (1.0 - 2.0 * t) * bce * q * q1
                if free:
                    d += f * (((1.0 - t) - lo if p[j] >= 0 else lo - t))
            else:
                d = _pow_grad(u, gamma) * (1.0 - 2.0 * t) * bce
                if free:
                    d += f * (q - t) / (q * q1)
            g[j] = <floating>(w * d * scale / n)
    return total / n


cdef double _row_focal_cce(bint logits, const double *params, const floating *p,
                           const floating *y, floating *g, Py_ssize_t n,
                           double scale) noexcept nogil:
    """sum_j alpha_j (1 - c_j)^gamma (-y_j log c_j) with c = clip(o), o = p / sum(p), or
    softmax(p) (`logits`), alpha_j = params[1 + j]; g (may be NULL) := its gradient times
    `scale`, through the normalisation or the softmax."""
    cdef double s = 0.0, lse = 0.0, total = 0.0, acc = 0.0
    cdef double o, h
    cdef Py_ssize_t j
    if logits:
        lse = _log_sum_exp(p, <floating *>NULL, n, &s)
    else:
        for j in range(n):
            s += p[j]
    for j in range(n):       # pass 1: the loss, and acc = sum_j h_j o_j for the gradient
        total += _focal_cce_term(logits, params, p[j], y[j], lse, s, j, &h, &o)
        acc += h * o
    if g != NULL:
        for j in range(n):   # pass 2: d/dp_k = (h_k - acc) / s, d/dz_k = o_k (h_k - acc)
            _focal_cce_term(logits, params, p[j], y[j], lse, s, j, &h, &o)
            g[j] = <floating>(scale * (o * (h - acc) if logits else (h - acc) / s))
    return total


cdef inline double _focal_cce_term(bint logits, const double *params, double p, double t,
                                   double lse, double s, Py_ssize_t j, double *h,
                                   double *o) noexcept nogil:
    """Class j's term a (1 - c)^gamma (-t log c); *o := its probability o and *h := d term
    / d o (0 where o is clipped)."""
    cdef double gamma = params[0], a = params[1 + j], c, m
    o[0] = exp(p - lse) if logits else p / s
    c = min(max(o[0], EPS), 1.0 - EPS)
    h[0] = 0.0
    if t == 0:
        return 0.0
    m = pow(1.0 - c, gamma)
    if EPS < o[0] < 1.0 - EPS:
        h[0] = a * t * (_pow_grad(1.0 - c, gamma) * log(c) - m / c)
    return -a * m * t * log(c)

