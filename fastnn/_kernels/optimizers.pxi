"""Optimizer updates, in place, with Keras' formulas: one call per parameter, or one
call for all of a model's parameters (ParamGroup: Adam and RMSprop).

Scalars that depend only on the step (bias corrections, schedules) are computed once per
step in Python (fastnn/optimizers.py) and passed in. `wd_lr` is the decoupled weight
decay times the learning rate: param -= param * wd_lr, applied first, as Keras does.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport sqrt, sqrtf, fabs
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

import numpy as np
cimport numpy as cnp

from fastnn._kernels.capi cimport (fnn_s_adam, fnn_d_adam, fnn_s_rmsprop, fnn_d_rmsprop,
                                   fnn_flush_subnormals_begin, fnn_flush_subnormals_end,
                                   fnn_gemm_row_strip, fnn_omp_team_size)




cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


def sgd(floating[::1] p, const floating[::1] g, floating[::1] velocity, double lr,
        double momentum, bint nesterov, double wd_lr, int n_threads):
    """v := momentum v - lr g;  p += v  (or p += momentum v - lr g with Nesterov)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double v
    cdef bint has_v = velocity is not None
    cdef unsigned mode = 0
    with nogil, parallel(num_threads=n_threads):
        mode = fnn_flush_subnormals_begin()   # decaying slots: src_c/fpmode.h
        for i in prange(n, schedule="static"):
            p[i] = <floating>(p[i] - p[i] * wd_lr)
            if has_v:
                v = momentum * velocity[i] - lr * g[i]
                velocity[i] = <floating>v
                if nesterov:
                    p[i] = <floating>(p[i] + momentum * v - lr * g[i])
                else:
                    p[i] = <floating>(p[i] + v)
            else:
                p[i] = <floating>(p[i] - lr * g[i])
        fnn_flush_subnormals_end(mode)


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
         floating[::1] v_max, double alpha, double beta_1, double beta_2, double epsilon,
         double wd_lr, int n_threads):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); p -= alpha m / (sqrt(v) + eps).

    alpha = lr sqrt(1 - b2^t) / (1 - b1^t); v_max (AMSGrad) may be None.
    """
    cdef Py_ssize_t i, n = p.shape[0]
    # arithmetic in the parameters' own precision: float32 math vectorises twice as wide
    cdef floating mi, vi, a = alpha, c1 = 1.0 - beta_1, c2 = 1.0 - beta_2, eps = epsilon
    cdef floating wd = wd_lr
    cdef bint ams = v_max is not None
    cdef int64_t c, lo, n_chunks = (n + CHUNK - 1) // CHUNK
    if not ams and n > 0:
        for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
            lo = c * CHUNK
            if floating is float:
                fnn_s_adam(&p[lo], &g[lo], &m[lo], &v[lo], min(CHUNK, n - lo), a, c1, c2,
                           eps, wd)
            else:
                fnn_d_adam(&p[lo], &g[lo], &m[lo], &v[lo], min(CHUNK, n - lo), a, c1, c2,
                           eps, wd)
        return
    cdef unsigned mode = 0
    with nogil, parallel(num_threads=n_threads):
        mode = fnn_flush_subnormals_begin()
        for i in prange(n, schedule="static"):
            p[i] = p[i] - p[i] * wd
            mi = m[i] + (g[i] - m[i]) * c1
            vi = v[i] + (g[i] * g[i] - v[i]) * c2
            m[i] = mi
            v[i] = vi
            if ams:
                if v_max[i] > vi:
                    vi = v_max[i]
                v_max[i] = vi
            p[i] = p[i] - a * mi / (_sqrt(vi) + eps)
        fnn_flush_subnormals_end(mode)


def rmsprop(floating[::1] p, const floating[::1] g, floating[::1] velocity,
            floating[::1] average_grad, floating[::1] momentum_buf, double lr, double rho,
            double momentum, double epsilon, double wd_lr, int n_threads):
    """v := rho v + (1 - rho) g^2;  p -= lr g / sqrt(v [- mean_g^2] + eps) (with momentum)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating vi, ai, denom, inc, r = rho, c = 1.0 - rho, lr_ = lr, mom = momentum
    cdef floating eps = epsilon, wd = wd_lr
    cdef bint centered = average_grad is not None, has_mom = momentum_buf is not None
    cdef int64_t c_, lo, n_chunks = (n + CHUNK - 1) // CHUNK
    if not centered and not has_mom and n > 0:
        for c_ in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
            lo = c_ * CHUNK
            if floating is float:
                fnn_s_rmsprop(&p[lo], &g[lo], &velocity[lo], min(CHUNK, n - lo), lr_, r,
                              eps, wd)
            else:
                fnn_d_rmsprop(&p[lo], &g[lo], &velocity[lo], min(CHUNK, n - lo), lr_, r,
                              eps, wd)
        return
    cdef unsigned mode = 0
    with nogil, parallel(num_threads=n_threads):
        mode = fnn_flush_subnormals_begin()
        for i in prange(n, schedule="static"):
            p[i] = p[i] - p[i] * wd
            vi = r * velocity[i] + c * g[i] * g[i]
            velocity[i] = vi
            denom = vi
            if centered:
                ai = r * average_grad[i] + c * g[i]
                average_grad[i] = ai
                denom = vi - ai * ai
            inc = lr_ * g[i] / _sqrt(denom + eps)
            if has_mom:
                inc = mom * momentum_buf[i] + inc
                momentum_buf[i] = inc
            p[i] = p[i] - inc
        fnn_flush_subnormals_end(mode)


def adagrad(floating[::1] p, const floating[::1] g, floating[::1] accumulator, double lr,
            double epsilon, double wd_lr, int n_threads):
    """acc += g^2;  p -= lr g / sqrt(acc + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double acc
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        acc = accumulator[i] + g[i] * g[i]
        accumulator[i] = <floating>acc
        p[i] = <floating>(p[i] - lr * g[i] / sqrt(acc + epsilon))


def adamax(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] u,
           double alpha, double beta_1, double beta_2, double epsilon, double wd_lr,
           int n_threads):
    """m += (g - m)(1 - b1); u := max(b2 u, |g|); p -= alpha m / (u + eps), with
    alpha = lr / (1 - b1^t)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double mi, ui
    cdef unsigned mode = 0
    with nogil, parallel(num_threads=n_threads):
        mode = fnn_flush_subnormals_begin()
        for i in prange(n, schedule="static"):
            p[i] = <floating>(p[i] - p[i] * wd_lr)
            mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
            ui = beta_2 * u[i]
            if fabs(g[i]) > ui:
                ui = fabs(g[i])
            m[i] = <floating>mi
            u[i] = <floating>ui
            p[i] = <floating>(p[i] - alpha * mi / (ui + epsilon))
        fnn_flush_subnormals_end(mode)


def nadam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
          double lr, double beta_1, double beta_2, double epsilon, double c_m, double c_g,
          double c_v, double wd_lr, int n_threads):
    """Adam with Nesterov momentum: p -= lr (c_m m + c_g g) / (sqrt(c_v v) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double mi, vi
    cdef unsigned mode = 0
    with nogil, parallel(num_threads=n_threads):
        mode = fnn_flush_subnormals_begin()
        for i in prange(n, schedule="static"):
            p[i] = <floating>(p[i] - p[i] * wd_lr)
            mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
            vi = v[i] + (g[i] * g[i] - v[i]) * (1.0 - beta_2)
            m[i] = <floating>mi
            v[i] = <floating>vi
            p[i] = <floating>(p[i] - lr * (c_m * mi + c_g * g[i]) / (sqrt(c_v * vi) + epsilon))
        fnn_flush_subnormals_end(mode)


# ---------------------------------------------------------------- all parameters at once

# ParamGroup.update's rules
cpdef enum:
    GROUP_ADAM = 0
    GROUP_RMSPROP = 1


cdef inline char *_data(arr):
    return <char *>cnp.PyArray_DATA(<cnp.ndarray>arr)


cdef struct Chunk:
    void *p
    const void *g
    void *s0
    void *s1
    int64_t n


cdef class ParamGroup:
    """Every parameter of a model with its gradient and two optimizer slots, updated in
    one call.

    Each thread takes a strip of every parameter's rows, cut as the GEMM cuts the rows
    of the gradient x^T dZ (fnn_gemm_row_strip), and updates it in pieces of CHUNK
    elements. So each core updates the rows whose gradient it computed, a training
    step's forward product reads the same rows on the same core (fnn_sgemm_k_halves),
    and no line of the weights moves between cores.

    Args:
        params, grads, slots0, slots1: lists of C-contiguous arrays of one dtype, the
            i-th of each list the same shape (slots1 may be None: RMSprop has one slot).
    """
    cdef Chunk *whole        # one entry per parameter
    cdef int64_t *rows       # each parameter's first dimension (at least 1)
    cdef int64_t n_params, size
    cdef bint dbl
    cdef list _keep

    def __cinit__(self, list params, list grads, list slots0, list slots1=None):
        arrays = [params, grads, slots0] + ([slots1] if slots1 is not None else [])
        self._keep = [a for group in arrays for a in group]
        dtype = params[0].dtype if params else np.dtype(np.float32)
        for a in self._keep:
            if a.dtype != dtype or not a.flags.c_contiguous:
                raise ValueError("ParamGroup arrays must be C-contiguous, of one dtype")
        for group in arrays[1:]:
            if len(group) != len(params) or any(a.size != p.size for a, p in zip(group, params)):
                raise ValueError("each ParamGroup gradient and slot must match its "
                                 "parameter's size")
        self.dbl = dtype == np.float64
        self.n_params = len(params)
        self.whole = <Chunk *>calloc(max(self.n_params, 1), sizeof(Chunk))
        self.rows = <int64_t *>calloc(max(self.n_params, 1), sizeof(int64_t))
        if self.whole == NULL or self.rows == NULL:
            raise MemoryError()
        self.size = 0
        for i, p in enumerate(params):
            self.size += p.size
            self.rows[i] = max(p.shape[0], 1) if p.ndim > 0 else 1
            _set_chunk(&self.whole[i], p, grads[i], slots0[i],
                       slots1[i] if slots1 is not None else None, p.size)

    def __dealloc__(self):
        free(self.whole)
        free(self.rows)

    def update(self, int rule, double lr, double decay_1, double decay_2, double epsilon,
               double wd_lr, int n_threads):
        """One update of every parameter by `rule`:
        GROUP_ADAM     Keras Adam (no AMSGrad), slots0 = m, slots1 = v; `lr` is the
                       bias-corrected step alpha, decay_1 = beta_1, decay_2 = beta_2;
        GROUP_RMSPROP  Keras RMSprop (not centered, no momentum), slots0 = v;
                       decay_1 = rho, decay_2 unused."""
        if rule not in (GROUP_ADAM, GROUP_RMSPROP):
            raise ValueError(f"`rule` must be GROUP_ADAM or GROUP_RMSPROP; got {rule}")
        with nogil:
            self._update(rule, lr, decay_1, decay_2, epsilon, wd_lr, n_threads)

    cdef void _update(self, int rule, double lr, double decay_1, double decay_2,
                      double epsilon, double wd_lr, int n_threads) noexcept nogil:
        if self.size < PARALLEL_MIN or n_threads == 1:   # no parallel region at all
            self._update_strips(0, 1, rule, lr, decay_1, decay_2, epsilon, wd_lr)
            return
        with parallel(num_threads=n_threads):
            self._update_strips(threadid(), fnn_omp_team_size(), rule, lr, decay_1, decay_2,
                                epsilon, wd_lr)

    cdef void _update_strips(self, int t, int team, int rule, double lr, double decay_1,
                             double decay_2, double epsilon, double wd_lr) noexcept nogil:
        """Thread t's row strip of every parameter, in CHUNK pieces."""
        cdef int64_t i, per, r0, r1, cols, lo, hi
        cdef Chunk piece
        cdef Chunk *w
        cdef int64_t item = 8 if self.dbl else 4
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
                piece.g = <const char *>w.g + lo * item
                piece.s0 = <char *>w.s0 + lo * item
                piece.s1 = <char *>w.s1 + lo * item if w.s1 != NULL else NULL
                _update_chunk(&piece, self.dbl, rule, lr, decay_1, decay_2, epsilon, wd_lr)
                lo += piece.n


cdef int _set_chunk(Chunk *k, p, g, s0, s1, int64_t n) except -1:
    """k := the n elements of parameter p, its gradient and slots."""
    k.n = n
    k.p = _data(p)
    k.g = _data(g)
    k.s0 = _data(s0)
    k.s1 = _data(s1) if s1 is not None else NULL
    return 0


cdef void _update_chunk(Chunk *k, bint dbl, int rule, double lr, double decay_1,
                        double decay_2, double epsilon, double wd_lr) noexcept nogil:
    """ParamGroup.update's rule on one chunk."""
    cdef double c1 = 1.0 - decay_1, c2 = 1.0 - decay_2
    if rule == GROUP_ADAM and dbl:
        fnn_d_adam(<double *>k.p, <const double *>k.g, <double *>k.s0, <double *>k.s1, k.n,
                   lr, c1, c2, epsilon, wd_lr)
    elif rule == GROUP_ADAM:
        fnn_s_adam(<float *>k.p, <const float *>k.g, <float *>k.s0, <float *>k.s1, k.n,
                   <float>lr, <float>c1, <float>c2, <float>epsilon, <float>wd_lr)
    elif dbl:
        fnn_d_rmsprop(<double *>k.p, <const double *>k.g, <double *>k.s0, k.n, lr, decay_1,
                      epsilon, wd_lr)
    else:
        fnn_s_rmsprop(<float *>k.p, <const float *>k.g, <float *>k.s0, k.n, <float>lr,
                      <float>decay_1, <float>epsilon, <float>wd_lr)
