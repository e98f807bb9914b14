"""Cross-entropy against integer class labels (CCE or SOFTMAX_CCE), value and gradient
in one pass per row, as losses.pxi computes it against one-hot rows."""


cdef double _row_sparse(int kind, const floating *p, int64_t label, floating *g, Py_ssize_t n,
                        double scale) noexcept nogil:
    """Cross-entropy against an integer label, from probabilities or logits."""
    cdef Py_ssize_t j
    cdef double s = 0.0, lse, q
    if kind == SOFTMAX_CCE:
        lse = _log_sum_exp(p, g, n, &s)
        return _sparse_softmax_cce_finish(p, label, g, n, lse, s, scale)
    for j in range(n):
        s += p[j]
    q = p[label] / s
    if g != NULL:
        for j in range(n):
            g[j] = <floating>(scale / s if EPS < q < 1.0 - EPS else 0.0)
        if EPS < q < 1.0 - EPS:
            # scale / s - scale / (s q) in one rounding: from the float-rounded first
            # term, the difference would lose its bits as q nears 1
            g[label] = <floating>(scale * (p[label] - s) / (s * p[label]))
    return -log(min(max(q, EPS), 1.0 - EPS))


cdef double _loss_sparse(int kind, const floating *pred, const int64_t *labels,
                         const floating *sample_weight, floating *grad, double *row_loss,
                         Py_ssize_t n_rows, Py_ssize_t n_cols, int n_threads) noexcept nogil:
    """Mean cross-entropy (kind CCE or SOFTMAX_CCE) of `pred` against integer labels;
    grad := its gradient unless NULL; sample_weight may be NULL (all ones)."""
    cdef Py_ssize_t i
    cdef double w, total = 0.0
    if n_rows == 0:
        return 0.0
    if kind == SOFTMAX_CCE and grad != NULL:
        _softmax_cce(pred, labels, NULL, sample_weight, grad, row_loss, n_rows, n_cols,
                     n_threads)
    elif n_threads == 1:
        for i in range(n_rows):
            w = sample_weight[i] if sample_weight != NULL else 1.0
            row_loss[i] = w * _row_sparse(kind, pred + i * n_cols, labels[i],
                                          grad + i * n_cols if grad != NULL else NULL,
                                          n_cols, w / n_rows)
    else:
        for i in prange(n_rows, schedule="static", num_threads=n_threads):
            w = sample_weight[i] if sample_weight != NULL else 1.0
            row_loss[i] = w * _row_sparse(kind, pred + i * n_cols, labels[i],
                                          grad + i * n_cols if grad != NULL else NULL,
                                          n_cols, w / n_rows)
    for i in range(n_rows):
        total += row_loss[i]
    return total / n_rows


def loss_grad_sparse(int kind, const floating[:, ::1] pred, const int64_t[::1] labels,
                     const floating[::1] sample_weight, floating[:, ::1] grad,
                     double[::1] row_loss, int n_threads):
    """Mean cross-entropy against integer labels (kind CCE or SOFTMAX_CCE)."""
    cdef double loss
    if pred.shape[0] == 0:
        return 0.0
    with nogil:
        loss = _loss_sparse(kind, &pred[0, 0], &labels[0],
                            &sample_weight[0] if sample_weight is not None else NULL,
                            &grad[0, 0] if grad is not None else NULL, &row_loss[0],
                            pred.shape[0], pred.shape[1], n_threads)
    return loss
