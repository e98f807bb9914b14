"""Element-wise activation kernels and row-wise softmax, forward and backward."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log
from libc.stdint cimport int64_t

from libc.string cimport memcpy

from fastnn._kernels.capi cimport (fnn_s_act_forward, fnn_d_act_forward,
                                   fnn_s_act_backward, fnn_d_act_backward,
                                   fnn_s_softmax_rows, fnn_d_softmax_rows)



cdef inline void _act_forward_row(int act, double param, floating *x, const floating *bias,
                                  int64_t n) noexcept nogil:
    if floating is float:
        fnn_s_act_forward(act, param, x, bias, n)
    else:
        fnn_d_act_forward(act, param, x, bias, n)


cdef inline void _act_backward_row(int act, double param, const floating *g,
                                   const floating *s, floating *out, int64_t n) noexcept nogil:
    if floating is float:
        fnn_s_act_backward(act, param, g, s, out, n)
    else:
        fnn_d_act_backward(act, param, g, s, out, n)


def activation_forward(const floating[:, ::1] x, int act, double param,
                       floating[:, ::1] out, int n_threads):
    """out := act(x), row by row (out may be x)."""
    cdef Py_ssize_t i, n_rows = x.shape[0], n_cols = x.shape[1]
    if n_rows == 0 or n_cols == 0:
        return
    if &out[0, 0] != &x[0, 0]:
        out[...] = x
    for i in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        _act_forward_row(act, param, &out[i, 0], NULL, n_cols)


def activation_backward(int act, double param, const floating[:, ::1] grad,
                        const floating[:, ::1] saved, floating[:, ::1] out, int n_threads):
    """out := grad * act'(saved), saved being z or y as fnn_act_backward_needs_z says."""
    cdef Py_ssize_t i, n_rows = grad.shape[0], n_cols = grad.shape[1]
    if n_rows == 0 or n_cols == 0:
        return
    for i in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        _act_backward_row(act, param, &grad[i, 0], &saved[i, 0], &out[i, 0], n_cols)


def softmax_forward(const floating[:, ::1] x, floating[:, ::1] out, bint log_out,
                    int n_threads):
    """out := softmax(x) (or log_softmax) along the last axis; stable for any logit. The
    per-ISA kernel of src_c/ (vectorised exp), row by row, on a copy of x in out."""
    cdef Py_ssize_t i, n_rows = x.shape[0], n_cols = x.shape[1]
    if n_cols == 0:
        return
    for i in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        if &out[i, 0] != &x[i, 0]:
            memcpy(&out[i, 0], &x[i, 0], n_cols * sizeof(floating))
        if floating is float:
            fnn_s_softmax_rows(&out[i, 0], 1, n_cols, n_cols, log_out)
        else:
            fnn_d_softmax_rows(&out[i, 0], 1, n_cols, n_cols, log_out)


cdef void _softmax_backward_row(const floating *g, const floating *y, floating *out,
                                Py_ssize_t n, bint log_out) noexcept nogil:
    cdef Py_ssize_t j
    cdef double dot = 0.0
    if log_out:
        # y = log p: dz = g - p * sum(g)
        for j in range(n):
            dot += g[j]
        for j in range(n):
            out[j] = <floating>(g[j] - exp(y[j]) * dot)
    else:
        # dz = y * (g - sum(g * y))
        for j in range(n):
            dot += g[j] * y[j]
        for j in range(n):
            out[j] = <floating>(y[j] * (g[j] - dot))


def softmax_backward(const floating[:, ::1] grad, const floating[:, ::1] y,
                     floating[:, ::1] out, bint log_out, int n_threads):
    """out := J_softmax(y)^T grad, row by row, from the forward output y."""
    cdef Py_ssize_t i, n_rows = grad.shape[0], n_cols = grad.shape[1]
    if n_cols == 0:
        return
    for i in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        _softmax_backward_row(&grad[i, 0], &y[i, 0], &out[i, 0], n_cols, log_out)
