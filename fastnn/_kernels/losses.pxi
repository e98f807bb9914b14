"""Loss value and gradient in one pass, per row, with Keras' reductions.

The batch loss is sum_i w_i * l_i / n_rows (Keras' "sum_over_batch_size"), where l_i is
row i's loss averaged (or summed, for cross-entropies) over its last axis. Per-row losses
are written to `row_loss` in parallel and added up serially, so the value does not depend
on the thread count. The gradient written to `grad` is d(batch loss)/d(pred).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expm1, log, log1p, fabs, fmax, sinh, sqrt, tanh
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from fastnn._kernels.capi cimport fnn_s_exp_rows, fnn_d_exp_rows

# The loss codes of the table in fastnn/_codes.py (enum fnn_loss of the generated
# fnn_codes.h), by the names fastnn.backend.reference gives them.
from fastnn._kernels.fnn_codes cimport (
    FNN_LOSS_MSE as MSE, FNN_LOSS_MAE as MAE, FNN_LOSS_HUBER as HUBER, FNN_LOSS_BCE as BCE,
    FNN_LOSS_CCE as CCE, FNN_LOSS_HINGE as HINGE, FNN_LOSS_KLD as KLD,
    FNN_LOSS_SOFTMAX_CCE as SOFTMAX_CCE, FNN_LOSS_SIGMOID_BCE as SIGMOID_BCE,
    FNN_LOSS_MSLE as MSLE, FNN_LOSS_MAPE as MAPE, FNN_LOSS_LOG_COSH as LOG_COSH,
    FNN_LOSS_POISSON as POISSON, FNN_LOSS_COSINE as COSINE)

# Keras clips probabilities to [eps, 1 - eps] before taking logs.
cdef double EPS = 1e-7

# Rows per call of the vectorised exps of the fused softmax cross-entropy.
cdef enum:
    EXP_BLOCK = 64


cdef inline double _log_cosh(double e) noexcept nogil:
    """log(cosh(e)): log1p(2 sinh(e/2)^2) near 0 (no cancellation), else without overflow."""
    cdef double a = fabs(e), s
    if a < 1.0:
        s = sinh(0.5 * a)
        return log1p(2.0 * s * s)
    return a + log1p(exp(-2.0 * a)) - 0.69314718055994530942


cdef double _row_elementwise(int kind, double param, const floating *p, const floating *y,
                             floating *g, Py_ssize_t n, double scale) noexcept nogil:
    """Losses that average an element-wise term over the row (param: Huber's delta); g
    may be NULL."""
    cdef Py_ssize_t j
    cdef double total = 0.0, e, q, t, d, s
    for j in range(n):
        e = p[j] - y[j]
        if kind == MSE:
            total += e * e
            d = 2.0 * e
        elif kind == MAE:
            total += fabs(e)
            d = 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)
        elif kind == HUBER:
            if fabs(e) <= param:
                total += 0.5 * e * e
                d = e
            else:
                total += param * fabs(e) - 0.5 * param * param
                d = param if e > 0 else -param
        elif kind == BCE:
            q = p[j]
            d = (q - y[j]) / (q * (1.0 - q)) if EPS < q < 1.0 - EPS else 0.0
            q = min(max(q, EPS), 1.0 - EPS)
            total -= y[j] * log(q) + (1.0 - y[j]) * log(1.0 - q)
        elif kind == HINGE:
            t = 1.0 - y[j] * p[j]
            total += t if t > 0 else 0.0
            d = -y[j] if t > 0 else 0.0
        elif kind == SIGMOID_BCE:
            q = p[j]
            t = exp(-fabs(q))   # exp(-q) for q >= 0, exp(q) below: one exp for both terms
            total += fmax(q, 0.0) - q * y[j] + log1p(t)
            # sigmoid(q) - y, as (1 - y) - sigmoid(-q) for q >= 0, so that 1 - sigmoid(q)
            # is not formed by cancellation: (1 - y) sigmoid(q) - y sigmoid(-q), as Keras
            s = t / (1.0 + t)   # sigmoid(-|q|)
            d = (1.0 - y[j]) - s if q >= 0 else s - y[j]
        elif kind == MSLE:
            q = fmax(<double>p[j], EPS) + 1.0
            t = log(q) - log(fmax(<double>y[j], EPS) + 1.0)
            total += t * t
            d = 2.0 * t / q if p[j] > EPS else 0.0
        elif kind == MAPE:
            q = fmax(fabs(<double>y[j]), EPS)
            total += 100.0 * fabs(e) / q
            d = (100.0 if e > 0 else (-100.0 if e < 0 else 0.0)) / q
        elif kind == LOG_COSH:
            total += _log_cosh(e)
            d = tanh(e)
        elif kind == POISSON:
            q = p[j] + EPS
            total += p[j] - y[j] * log(q)
            d = (e + EPS) / q   # 1 - y / q without its cancellation as q nears y
        else:
            d = 0.0
        if g != NULL:
            g[j] = <floating>(d * scale / n)
    return total / n


cdef double _row_cce(const floating *p, const floating *y, floating *g, Py_ssize_t n,
                     double scale) noexcept nogil:
    """-sum y log q with q = clip(p / sum(p)); the gradient goes through the normalisation."""
    cdef Py_ssize_t j
    cdef double s = 0.0, q, total = 0.0, yu = 0.0
    for j in range(n):
        s += p[j]
    for j in range(n):
        q = p[j] / s
        if EPS < q < 1.0 - EPS:
            yu += y[j]
        total -= y[j] * log(min(max(q, EPS), 1.0 - EPS))
    if g != NULL:
        for j in range(n):
            q = p[j] / s
            g[j] = <floating>(scale / s * (yu - (y[j] / q if EPS < q < 1.0 - EPS else 0.0)))
    return total


cdef double _row_kld(const floating *p, const floating *y, floating *g, Py_ssize_t n,
                     double scale) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0.0, q, t
    for j in range(n):
        t = min(max(<double>y[j], EPS), 1.0)
        q = min(max(<double>p[j], EPS), 1.0)
        total += t * log(t / q)
        if g != NULL:
            g[j] = <floating>(-scale * t / q if EPS < p[j] < 1.0 else 0.0)
    return total


cdef double _row_cosine(const floating *p, const floating *y, floating *g, Py_ssize_t n,
                        double scale) noexcept nogil:
    """-(y / |y|) . (p / |p|), each inverse norm capped at 1 / EPS (no gradient through a
    capped one), as Keras' normalize."""
    cdef Py_ssize_t j
    cdef double sp = 0.0, sy = 0.0, dot = 0.0, ip, iy, f
    for j in range(n):
        sp += <double>p[j] * p[j]
        sy += <double>y[j] * y[j]
        dot += <double>p[j] * y[j]
    ip = 1.0 / sqrt(fmax(sp, EPS * EPS))
    iy = 1.0 / sqrt(fmax(sy, EPS * EPS))
    dot *= iy
    if g != NULL:
        f = dot * ip * ip if sp > EPS * EPS else 0.0
        for j in range(n):
            g[j] = <floating>(-scale * ip * (y[j] * iy - f * p[j]))
    return -dot * ip


cdef double _log_sum_exp(const floating *z, floating *g, Py_ssize_t n,
                         double *sum_exp) noexcept nogil:
    """log(sum(exp(z))), stable for any z. With g, g[j] := exp(z[j] - max z), kept for the
    gradient so that each element is exponentiated once; *sum_exp := their sum."""
    cdef Py_ssize_t j
    cdef double m = z[0], s = 0.0, e
    for j in range(1, n):
        if z[j] > m:
            m = z[j]
    for j in range(n):
        e = exp(z[j] - m)
        s += e
        if g != NULL:
            g[j] = <floating>e
    sum_exp[0] = s
    return m + log(s)


cdef inline double _softmax_cce_finish(const floating *z, const floating *y, floating *g,
                                       Py_ssize_t n, double lse, double s,
                                       double scale) noexcept nogil:
    """Cross-entropy of softmax(z) against the row y, given lse = log(sum(exp(z))) and
    s = sum(exp(z - max z)); g (may be NULL) holds exp(z - max z) and becomes the
    gradient times `scale`."""
    cdef Py_ssize_t j
    cdef double f, total = 0.0, ysum = 0.0
    for j in range(n):
        total += y[j] * (lse - z[j])
        ysum += y[j]
    if g != NULL:
        f = scale * ysum / s
        for j in range(n):
            if y[j] != 0:
                # p_j from the logit in double, not from the stored exp (rounded to
                # `floating`): ysum p_j - y_j cancels as p_j nears 1
                g[j] = <floating>(scale * (ysum * exp(z[j] - lse) - y[j]))
            else:
                g[j] = <floating>(f * g[j])
    return total


cdef inline double _sparse_softmax_cce_finish(const floating *z, int64_t label, floating *g,
                                              Py_ssize_t n, double lse, double s,
                                              double scale) noexcept nogil:
    """_softmax_cce_finish against an integer label."""
    cdef Py_ssize_t j
    cdef double f
    if g != NULL:
        f = scale / s
        for j in range(n):
            g[j] = <floating>(f * g[j])
        # p - 1 as expm1(z - lse): from the stored p (rounded to `floating`) it would
        # cancel as p nears 1
        g[label] = <floating>(scale * expm1(z[label] - lse))
    return lse - z[label]


cdef double _row_softmax_cce(const floating *z, const floating *y, floating *g, Py_ssize_t n,
                             double scale) noexcept nogil:
    """Cross-entropy of softmax(z) against y, from the logits: stable for any z."""
    cdef double s, lse = _log_sum_exp(z, g, n, &s)
    return _softmax_cce_finish(z, y, g, n, lse, s, scale)


cdef void _softmax_cce_rows(const floating *pred, const int64_t *labels,
                            const floating *target, const floating *sample_weight,
                            floating *grad, double *row_loss, Py_ssize_t r0, Py_ssize_t r1,
                            Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """Rows [r0, r1) of the softmax cross-entropy from the logits `pred`, against integer
    `labels` (or, if NULL, the rows of `target`): row_loss[i] := w_i * l_i and the rows of
    `grad` (not NULL) := the gradient. The exps go EXP_BLOCK rows at a time through the
    per-ISA exp_rows, as vector code (libm's exp one element at a time was ~10 ns an
    element). Each row is finished as the row-by-row path finishes it, so float64 gets
    its bits."""
    cdef floating top[EXP_BLOCK]
    cdef double total[EXP_BLOCK]
    cdef Py_ssize_t b0, nb, i, r
    cdef floating *g
    cdef double w, lse
    b0 = r0
    while b0 < r1:
        nb = min(<Py_ssize_t>EXP_BLOCK, r1 - b0)
        memcpy(grad + b0 * n_cols, pred + b0 * n_cols, nb * n_cols * sizeof(floating))
        if floating is float:
            fnn_s_exp_rows(grad + b0 * n_cols, nb, n_cols, n_cols, top, total)
        else:
            fnn_d_exp_rows(grad + b0 * n_cols, nb, n_cols, n_cols, top, total)
        for i in range(nb):
            r = b0 + i
            w = sample_weight[r] if sample_weight != NULL else 1.0
            g = grad + r * n_cols
            lse = top[i] + log(total[i])
            if labels != NULL:
                row_loss[r] = w * _sparse_softmax_cce_finish(pred + r * n_cols, labels[r], g,
                                                             n_cols, lse, total[i],
                                                             w / n_rows)
            else:
                row_loss[r] = w * _softmax_cce_finish(pred + r * n_cols, target + r * n_cols,
                                                      g, n_cols, lse, total[i], w / n_rows)
        b0 += nb


cdef void _softmax_cce(const floating *pred, const int64_t *labels, const floating *target,
                       const floating *sample_weight, floating *grad, double *row_loss,
                       Py_ssize_t n_rows, Py_ssize_t n_cols, int n_threads) noexcept nogil:
    """_softmax_cce_rows over all the rows, in one share per thread."""
    cdef Py_ssize_t t, per = (n_rows + n_threads - 1) // n_threads
    if n_threads == 1:
        _softmax_cce_rows(pred, labels, target, sample_weight, grad, row_loss, 0, n_rows,
                          n_rows, n_cols)
        return
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        if t * per < n_rows:
            _softmax_cce_rows(pred, labels, target, sample_weight, grad, row_loss, t * per,
                              min(n_rows, t * per + per), n_rows, n_cols)


include "losses_focal.pxi"


cdef inline double _dense_row(int kind, const double *params, const floating *p,
                              const floating *y, floating *g, Py_ssize_t n, double w,
                              double scale) noexcept nogil:
    """Row loss times its weight w; g (may be NULL) := its gradient times `scale`."""
    if kind == FOCAL_BCE or kind == SIGMOID_FOCAL_BCE:
        return w * _row_focal_bce(kind == SIGMOID_FOCAL_BCE, params, p, y, g, n, scale)
    if kind == FOCAL_CCE or kind == SOFTMAX_FOCAL_CCE:
        return w * _row_focal_cce(kind == SOFTMAX_FOCAL_CCE, params, p, y, g, n, scale)
    if kind == CCE:
        return w * _row_cce(p, y, g, n, scale)
    if kind == SOFTMAX_CCE:
        return w * _row_softmax_cce(p, y, g, n, scale)
    if kind == KLD:
        return w * _row_kld(p, y, g, n, scale)
    if kind == COSINE:
        return w * _row_cosine(p, y, g, n, scale)
    return w * _row_elementwise(kind, params[0], p, y, g, n, scale)


cdef double _loss_dense(int kind, const double *params, const floating *pred,
                        const floating *target, const floating *sample_weight, floating *grad,
                        double *row_loss, Py_ssize_t n_rows, Py_ssize_t n_cols,
                        int n_threads) noexcept nogil:
    """Mean batch loss of `pred` against `target`, both (n_rows, n_cols) C-contiguous;
    grad := its gradient unless NULL; sample_weight may be NULL (all ones); `params` as
    _loss_params makes them (losses_focal.pxi)."""
    cdef Py_ssize_t i
    cdef double w, total = 0.0
    if n_rows == 0:
        return 0.0
    if kind == SOFTMAX_CCE and grad != NULL:
        _softmax_cce(pred, NULL, target, sample_weight, grad, row_loss, n_rows, n_cols,
                     n_threads)
    elif n_threads == 1:   # no parallel region: it costs more than a small batch's loss
        for i in range(n_rows):
            w = sample_weight[i] if sample_weight != NULL else 1.0
            row_loss[i] = _dense_row(kind, params, pred + i * n_cols, target + i * n_cols,
                                     grad + i * n_cols if grad != NULL else NULL, n_cols,
                                     w, w / n_rows)
    else:
        for i in prange(n_rows, schedule="static", num_threads=n_threads):
            w = sample_weight[i] if sample_weight != NULL else 1.0
            row_loss[i] = _dense_row(kind, params, pred + i * n_cols, target + i * n_cols,
                                     grad + i * n_cols if grad != NULL else NULL, n_cols,
                                     w, w / n_rows)
    for i in range(n_rows):
        total += row_loss[i]
    return total / n_rows


def loss_grad(int kind, param, const floating[:, ::1] pred,
              const floating[:, ::1] target, const floating[::1] sample_weight,
              floating[:, ::1] grad, double[::1] row_loss, int n_threads):
    """Mean batch loss of `pred` against `target`; grad := its gradient (if not None);
    `param`: the loss's parameters, one float or a sequence (losses_focal.pxi)."""
    cdef double loss
    cdef const double[::1] params = _loss_params(kind, param, pred.shape[1])
    if pred.shape[0] == 0:
        return 0.0
    with nogil:
        loss = _loss_dense(kind, &params[0], &pred[0, 0], &target[0, 0],
                           &sample_weight[0] if sample_weight is not None else NULL,
                           &grad[0, 0] if grad is not None else NULL, &row_loss[0],
                           pred.shape[0], pred.shape[1], n_threads)
    return loss


include "losses_sparse.pxi"


cdef double _loss_untyped(int kind, const double *params, bint dbl, bint sparse,
                          const void *pred, const void *y, const void *w, void *grad,
                          double *row_loss, Py_ssize_t n_rows, Py_ssize_t n_cols,
                          int nt) noexcept nogil:
    """_loss_sparse (`sparse`: y holds int64 labels) or _loss_dense on the buffers of
    float64 (`dbl`) or float32 values that the training step holds."""
    if sparse and dbl:
        return _loss_sparse(kind, <const double *>pred, <const int64_t *>y,
                            <const double *>w, <double *>grad, row_loss, n_rows, n_cols, nt)
    if sparse:
        return _loss_sparse(kind, <const float *>pred, <const int64_t *>y,
                            <const float *>w, <float *>grad, row_loss, n_rows, n_cols, nt)
    if dbl:
        return _loss_dense(kind, params, <const double *>pred, <const double *>y,
                           <const double *>w, <double *>grad, row_loss, n_rows, n_cols, nt)
    return _loss_dense(kind, params, <const float *>pred, <const float *>y,
                       <const float *>w, <float *>grad, row_loss, n_rows, n_cols, nt)
