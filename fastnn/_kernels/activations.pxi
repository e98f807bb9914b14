"""Element-wise activation kernels and row-wise softmax, forward and backward."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log
from libc.stdint cimport int64_t

from libc.string cimport memcpy

from fastnn._kernels.capi cimport (fnn_s_act_forward, fnn_d_act_forward,
                                   fnn_s_act_backward, fnn_d_act_backward,
                                   fnn_s_softmax_rows, fnn_d_softmax_rows,
                                   fnn_act_backward_needs_z)
from fastnn._kernels cimport fnn_codes


def built_codes():
    """The codes this module was compiled with (the enums of the generated fnn_codes.h
    and fnn_codes.pxd), and for each activation code whether the C kernels take act'
    from z: {"activations": {name: code}, "losses": {NAME: code}, "optimizer_rules":
    {NAME: code}, "clip_modes": {NAME: code}, "rule_slots": {NAME: int}, "needs_z":
    {code: bool}, "n_act": int, "n_loss": int, "n_rules": int, "group_update_width": int}.
    tests/test_codes.py compares them with fastnn/_codes.py.
    """
    cdef int act, needs_z
    codes = fnn_codes.built_codes()
    codes["needs_z"] = {}
    for act in codes["activations"].values():
        with nogil:
            needs_z = fnn_act_backward_needs_z(act)
        codes["needs_z"][act] = bool(needs_z)
    return codes



# Each element-wise pass below runs as one call where it stays on one thread (a parallel
# region costs more than a small pass), else in CHUNK-sized chunks spread over threads;
# the kernels are element-independent, so both give the same bits. The StackPlan
# (step.pxi) calls them on its buffers, the functions below on arrays.

cdef void _act_forward_part(bint dbl, int act, double param, void *x, int64_t lo,
                            int64_t n) noexcept nogil:
    if dbl:
        fnn_d_act_forward(act, param, <double *>x + lo, NULL, n)
    else:
        fnn_s_act_forward(act, param, <float *>x + lo, NULL, n)


cdef void _act_forward(bint dbl, int act, double param, void *x, int64_t n,
                       int nt) noexcept nogil:
    """x := act(x) over n elements."""
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _act_forward_part(dbl, act, param, x, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _act_forward_part(dbl, act, param, x, c * CHUNK, min(CHUNK, n - c * CHUNK))


cdef void _act_backward_part(bint dbl, int act, double param, const void *g, const void *s,
                             void *out, int64_t lo, int64_t n) noexcept nogil:
    if dbl:
        fnn_d_act_backward(act, param, <const double *>g + lo, <const double *>s + lo,
                           <double *>out + lo, n)
    else:
        fnn_s_act_backward(act, param, <const float *>g + lo, <const float *>s + lo,
                           <float *>out + lo, n)


cdef void _act_backward(bint dbl, int act, double param, const void *g, const void *s,
                        void *out, int64_t n, int nt) noexcept nogil:
    """out := g * act'(s) over n elements (out may be g)."""
    cdef int64_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if _threads(n, nt) == 1:
        _act_backward_part(dbl, act, param, g, s, out, 0, n)
        return
    for c in prange(n_chunks, schedule="static", num_threads=nt):
        _act_backward_part(dbl, act, param, g, s, out, c * CHUNK, min(CHUNK, n - c * CHUNK))


def activation_forward(const floating[:, ::1] x, int act, double param,
                       floating[:, ::1] out, int n_threads):
    """out := act(x) (out may be x)."""
    cdef int64_t n = x.shape[0] * x.shape[1]
    if n == 0:
        return
    if &out[0, 0] != &x[0, 0]:
        out[...] = x
    with nogil:
        _act_forward(floating is double, act, param, &out[0, 0], n, n_threads)


def activation_backward(int act, double param, const floating[:, ::1] grad,
                        const floating[:, ::1] saved, floating[:, ::1] out, int n_threads):
    """out := grad * act'(saved), saved being z or y as fnn_act_backward_needs_z says."""
    cdef int64_t n = grad.shape[0] * grad.shape[1]
    if n == 0:
        return
    with nogil:
        _act_backward(floating is double, act, param, &grad[0, 0], &saved[0, 0], &out[0, 0],
                      n, n_threads)


def softmax_forward(const floating[:, ::1] x, floating[:, ::1] out, bint log_out,
                    int n_threads):
    """out := softmax(x) (or log_softmax) along the last axis; stable for any logit. The
    per-ISA kernel of src_c/ (vectorised exp) on a copy of x in out, one call per
    thread's share of the rows."""
    cdef Py_ssize_t n_rows = x.shape[0], n_cols = x.shape[1]
    cdef Py_ssize_t t, lo, hi, per
    cdef int nt = n_threads if n_rows > 1 else 1
    if n_cols == 0 or n_rows == 0:
        return
    per = (n_rows + nt - 1) // nt
    for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
        lo = t * per
        hi = min(n_rows, lo + per)
        if lo < hi:
            if &out[0, 0] != &x[0, 0]:
                memcpy(&out[lo, 0], &x[lo, 0], (hi - lo) * n_cols * sizeof(floating))
            if floating is float:
                fnn_s_softmax_rows(&out[lo, 0], hi - lo, n_cols, n_cols, log_out)
            else:
                fnn_d_softmax_rows(&out[lo, 0], hi - lo, n_cols, n_cols, log_out)


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
