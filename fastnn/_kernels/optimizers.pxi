"""Optimizer updates, in place, with Keras' formulas: each rule's element-wise arithmetic
on a chunk, and the per-parameter calls on it (param_group.pxi runs the same chunk
functions over all of a model's parameters at once).

Scalars that depend only on the step (bias corrections, schedules) are computed once per
step in Python (fastnn/optimizers.py) and passed in. `wd_lr` is the decoupled weight
decay times the learning rate: param -= param * wd_lr, applied first, as Keras does.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport sqrt, sqrtf, fabs, pow
from libc.stdint cimport int64_t
from libc.stdlib cimport abort, calloc, free, malloc

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


cdef inline floating *_at(floating *a, int64_t lo) noexcept nogil:
    """a + lo, or NULL for an absent slot."""
    return a + lo if a != NULL else NULL


# Each rule's element-wise arithmetic on one chunk, shared by the per-parameter calls
# below and by ParamGroup, so that both give the same bits.

cdef inline void _sgd_chunk(floating *p, const floating *g, floating *velocity, int64_t n,
                            double lr, double momentum, bint nesterov,
                            double wd_lr) noexcept nogil:
    cdef int64_t i
    cdef double v
    cdef unsigned mode = fnn_flush_subnormals_begin()   # decaying slots: src_c/fpmode.h
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        if velocity != NULL:
            v = momentum * velocity[i] - lr * g[i]
            velocity[i] = <floating>v
            if nesterov:
                p[i] = <floating>(p[i] + momentum * v - lr * g[i])
            else:
                p[i] = <floating>(p[i] + v)
        else:
            p[i] = <floating>(p[i] - lr * g[i])
    fnn_flush_subnormals_end(mode)


cdef inline void _adam_chunk(floating *p, const floating *g, floating *m, floating *v,
                             floating *v_max, int64_t n, double alpha, double beta_1,
                             double beta_2, double epsilon, double wd_lr) noexcept nogil:
    # arithmetic in the parameters' own precision: float32 math vectorises twice as wide
    cdef floating mi, vi, a = alpha, c1 = 1.0 - beta_1, c2 = 1.0 - beta_2, eps = epsilon
    cdef floating wd = wd_lr
    cdef int64_t i
    cdef unsigned mode
    if v_max == NULL:
        if floating is float:
            fnn_s_adam(p, g, m, v, n, a, c1, c2, eps, wd)
        else:
            fnn_d_adam(p, g, m, v, n, a, c1, c2, eps, wd)
        return
    mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = p[i] - p[i] * wd
        mi = m[i] + (g[i] - m[i]) * c1
        vi = v[i] + (g[i] * g[i] - v[i]) * c2
        m[i] = mi
        v[i] = vi
        if v_max[i] > vi:
            vi = v_max[i]
        v_max[i] = vi
        p[i] = p[i] - a * mi / (_sqrt(vi) + eps)
    fnn_flush_subnormals_end(mode)


cdef inline void _rmsprop_chunk(floating *p, const floating *g, floating *velocity,
                                floating *average_grad, floating *momentum_buf, int64_t n,
                                double lr, double rho, double momentum, double epsilon,
                                double wd_lr) noexcept nogil:
    cdef floating vi, ai, denom, inc, r = rho, c = 1.0 - rho, lr_ = lr, mom = momentum
    cdef floating eps = epsilon, wd = wd_lr
    cdef int64_t i
    cdef unsigned mode
    if average_grad == NULL and momentum_buf == NULL:
        if floating is float:
            fnn_s_rmsprop(p, g, velocity, n, lr_, r, eps, wd)
        else:
            fnn_d_rmsprop(p, g, velocity, n, lr_, r, eps, wd)
        return
    mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = p[i] - p[i] * wd
        vi = r * velocity[i] + c * g[i] * g[i]
        velocity[i] = vi
        denom = vi
        if average_grad != NULL:
            ai = r * average_grad[i] + c * g[i]
            average_grad[i] = ai
            denom = vi - ai * ai
        inc = lr_ * g[i] / _sqrt(denom + eps)
        if momentum_buf != NULL:
            inc = mom * momentum_buf[i] + inc
            momentum_buf[i] = inc
        p[i] = p[i] - inc
    fnn_flush_subnormals_end(mode)


cdef inline void _adagrad_chunk(floating *p, const floating *g, floating *accumulator,
                                int64_t n, double lr, double epsilon,
                                double wd_lr) noexcept nogil:
    cdef int64_t i
    cdef double acc
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        acc = accumulator[i] + g[i] * g[i]
        accumulator[i] = <floating>acc
        p[i] = <floating>(p[i] - lr * g[i] / sqrt(acc + epsilon))


cdef inline void _adamax_chunk(floating *p, const floating *g, floating *m, floating *u,
                               int64_t n, double alpha, double beta_1, double beta_2,
                               double epsilon, double wd_lr) noexcept nogil:
    cdef int64_t i
    cdef double mi, ui
    cdef unsigned mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
        ui = beta_2 * u[i]
        if fabs(g[i]) > ui:
            ui = fabs(g[i])
        m[i] = <floating>mi
        u[i] = <floating>ui
        p[i] = <floating>(p[i] - alpha * mi / (ui + epsilon))
    fnn_flush_subnormals_end(mode)


cdef inline void _nadam_chunk(floating *p, const floating *g, floating *m, floating *v,
                              int64_t n, double lr, double beta_1, double beta_2,
                              double epsilon, double c_m, double c_g, double c_v,
                              double wd_lr) noexcept nogil:
    cdef int64_t i
    cdef double mi, vi
    cdef unsigned mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
        vi = v[i] + (g[i] * g[i] - v[i]) * (1.0 - beta_2)
        m[i] = <floating>mi
        v[i] = <floating>vi
        p[i] = <floating>(p[i] - lr * (c_m * mi + c_g * g[i]) / (sqrt(c_v * vi) + epsilon))
    fnn_flush_subnormals_end(mode)


cdef inline void _adadelta_chunk(floating *p, const floating *g, floating *acc_grad,
                                 floating *acc_delta, int64_t n, double lr, double rho,
                                 double epsilon, double wd_lr) noexcept nogil:
    """Keras' Adadelta: E[g^2] := rho E[g^2] + (1 - rho) g^2; d := -sqrt(E[d^2] + eps) g /
    sqrt(E[g^2] + eps); E[d^2] := rho E[d^2] + (1 - rho) d^2; p += lr d."""
    cdef int64_t i
    cdef double ag, delta
    cdef unsigned mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        ag = rho * acc_grad[i] + (1.0 - rho) * g[i] * g[i]
        acc_grad[i] = <floating>ag
        delta = -(sqrt(acc_delta[i] + epsilon) * g[i] / sqrt(ag + epsilon))
        acc_delta[i] = <floating>(rho * acc_delta[i] + (1.0 - rho) * delta * delta)
        p[i] = <floating>(p[i] + lr * delta)
    fnn_flush_subnormals_end(mode)


cdef inline void _lion_chunk(floating *p, const floating *g, floating *m, int64_t n,
                             double lr, double beta_1, double beta_2,
                             double wd_lr) noexcept nogil:
    """Keras' Lion: p -= lr sign(b1 m + (1 - b1) g); m := b2 m + (1 - b2) g."""
    cdef int64_t i
    cdef double c
    cdef unsigned mode = fnn_flush_subnormals_begin()
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        c = m[i] * beta_1 + g[i] * (1.0 - beta_1)
        if c > 0:
            p[i] = <floating>(p[i] - lr)
        elif c < 0:
            p[i] = <floating>(p[i] + lr)
        elif c != c:
            p[i] = <floating>(p[i] + c)      # sign(NaN) is NaN
        m[i] = <floating>(m[i] * beta_2 + g[i] * (1.0 - beta_2))
    fnn_flush_subnormals_end(mode)


cdef inline void _ftrl_chunk(floating *p, const floating *g, floating *accumulator,
                             floating *linear, int64_t n, double lr, double lr_power,
                             double l1, double l2, double l2_shrinkage,
                             double wd_lr) noexcept nogil:
    """Keras' FTRL-proximal step; l2 is l2_regularization_strength + beta / (2 lr)."""
    cdef int64_t i
    cdef double acc, new_acc, lin, quad, clipped, g_shrunk, pw_new
    for i in range(n):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        g_shrunk = g[i] + 2.0 * l2_shrinkage * p[i]
        acc = accumulator[i]
        new_acc = acc + g[i] * g[i]
        pw_new = pow(new_acc, -lr_power)
        lin = linear[i] + (g_shrunk - (pw_new - pow(acc, -lr_power)) / lr * p[i])
        quad = pw_new / lr + 2.0 * l2
        clipped = lin if lin < l1 else l1
        if clipped < -l1:
            clipped = -l1
        linear[i] = <floating>lin
        accumulator[i] = <floating>new_acc
        p[i] = <floating>((clipped - lin) / quad)


cdef inline floating *_opt(floating[::1] a) noexcept:
    """The data of an optional slot (None: NULL)."""
    return &a[0] if a is not None else NULL


def sgd(floating[::1] p, const floating[::1] g, floating[::1] velocity, double lr,
        double momentum, bint nesterov, double wd_lr, int n_threads):
    """v := momentum v - lr g;  p += v  (or p += momentum v - lr g with Nesterov)."""
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    if n == 0:
        return
    cdef floating *pv = _opt(velocity)
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _sgd_chunk(&p[lo], &g[lo], _at(pv, lo), min(CHUNK, n - lo), lr, momentum,
                   nesterov, wd_lr)


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
         floating[::1] v_max, double alpha, double beta_1, double beta_2, double epsilon,
         double wd_lr, int n_threads):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); p -= alpha m / (sqrt(v) + eps).

    alpha = lr sqrt(1 - b2^t) / (1 - b1^t); v_max (AMSGrad) may be None.
    """
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    if n == 0:
        return
    cdef floating *pmax = _opt(v_max)
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _adam_chunk(&p[lo], &g[lo], &m[lo], &v[lo], _at(pmax, lo), min(CHUNK, n - lo),
                    alpha, beta_1, beta_2, epsilon, wd_lr)


def rmsprop(floating[::1] p, const floating[::1] g, floating[::1] velocity,
            floating[::1] average_grad, floating[::1] momentum_buf, double lr, double rho,
            double momentum, double epsilon, double wd_lr, int n_threads):
    """v := rho v + (1 - rho) g^2;  p -= lr g / sqrt(v [- mean_g^2] + eps) (with momentum)."""
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    if n == 0:
        return
    cdef floating *pa = _opt(average_grad)
    cdef floating *pm = _opt(momentum_buf)
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _rmsprop_chunk(&p[lo], &g[lo], &velocity[lo], _at(pa, lo), _at(pm, lo),
                       min(CHUNK, n - lo), lr, rho, momentum, epsilon, wd_lr)


def adagrad(floating[::1] p, const floating[::1] g, floating[::1] accumulator, double lr,
            double epsilon, double wd_lr, int n_threads):
    """acc += g^2;  p -= lr g / sqrt(acc + eps)."""
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _adagrad_chunk(&p[lo], &g[lo], &accumulator[lo], min(CHUNK, n - lo), lr, epsilon,
                       wd_lr)


def adamax(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] u,
           double alpha, double beta_1, double beta_2, double epsilon, double wd_lr,
           int n_threads):
    """m += (g - m)(1 - b1); u := max(b2 u, |g|); p -= alpha m / (u + eps), with
    alpha = lr / (1 - b1^t)."""
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _adamax_chunk(&p[lo], &g[lo], &m[lo], &u[lo], min(CHUNK, n - lo), alpha, beta_1,
                      beta_2, epsilon, wd_lr)


def nadam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
          double lr, double beta_1, double beta_2, double epsilon, double c_m, double c_g,
          double c_v, double wd_lr, int n_threads):
    """Adam with Nesterov momentum: p -= lr (c_m m + c_g g) / (sqrt(c_v v) + eps)."""
    cdef int64_t c, lo, n = p.shape[0], n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
        lo = c * CHUNK
        _nadam_chunk(&p[lo], &g[lo], &m[lo], &v[lo], min(CHUNK, n - lo), lr, beta_1, beta_2,
                     epsilon, c_m, c_g, c_v, wd_lr)


# ParamGroup's update rules (GROUP_*), clipping modes (CLIP_*), the width of an update
# row and each rule's number of slots, generated from the table in fastnn/_codes.py
# (OPTIMIZER_RULES, CLIP_MODES), as fastnn/_optimizer.py's group_code reads them.
from fastnn._kernels.fnn_codes cimport (
    GROUP_ADAM, GROUP_RMSPROP, GROUP_SGD, GROUP_SGD_MOMENTUM, GROUP_SGD_NESTEROV,
    GROUP_ADAM_AMSGRAD, GROUP_RMSPROP_CENTERED, GROUP_RMSPROP_MOMENTUM,
    GROUP_RMSPROP_CENTERED_MOMENTUM, GROUP_ADAGRAD, GROUP_ADAMAX, GROUP_NADAM,
    GROUP_ADADELTA, GROUP_LION, GROUP_FTRL,
    GROUP_N_RULES, GROUP_UPDATE_WIDTH, CLIP_NONE, CLIP_VALUE, CLIP_NORM, CLIP_GLOBAL_NORM,
    group_rule_slots)


cdef inline void _update_chunk(floating *p, const floating *g, floating *s0, floating *s1,
                               floating *s2, int64_t n, const Scalars *s) noexcept nogil:
    """ParamGroup.update's rule on one chunk: the per-parameter kernels' arithmetic."""
    cdef int rule = s.rule
    if rule == GROUP_ADAM or rule == GROUP_ADAM_AMSGRAD:
        _adam_chunk(p, g, s0, s1, s2 if rule == GROUP_ADAM_AMSGRAD else NULL, n, s.lr,
                    s.decay_1, s.decay_2, s.epsilon, s.wd_lr)
    elif rule == GROUP_RMSPROP:
        _rmsprop_chunk(p, g, s0, NULL, NULL, n, s.lr, s.decay_1, s.decay_2, s.epsilon,
                       s.wd_lr)
    elif rule == GROUP_RMSPROP_CENTERED:
        _rmsprop_chunk(p, g, s0, s1, NULL, n, s.lr, s.decay_1, s.decay_2, s.epsilon,
                       s.wd_lr)
    elif rule == GROUP_RMSPROP_MOMENTUM:
        _rmsprop_chunk(p, g, s0, NULL, s1, n, s.lr, s.decay_1, s.decay_2, s.epsilon,
                       s.wd_lr)
    elif rule == GROUP_RMSPROP_CENTERED_MOMENTUM:
        _rmsprop_chunk(p, g, s0, s1, s2, n, s.lr, s.decay_1, s.decay_2, s.epsilon, s.wd_lr)
    elif rule == GROUP_SGD:
        _sgd_chunk(p, g, NULL, n, s.lr, s.decay_1, False, s.wd_lr)
    elif rule == GROUP_SGD_MOMENTUM or rule == GROUP_SGD_NESTEROV:
        _sgd_chunk(p, g, s0, n, s.lr, s.decay_1, rule == GROUP_SGD_NESTEROV, s.wd_lr)
    elif rule == GROUP_ADAGRAD:
        _adagrad_chunk(p, g, s0, n, s.lr, s.epsilon, s.wd_lr)
    elif rule == GROUP_ADAMAX:
        _adamax_chunk(p, g, s0, s1, n, s.lr, s.decay_1, s.decay_2, s.epsilon, s.wd_lr)
    elif rule == GROUP_NADAM:
        _nadam_chunk(p, g, s0, s1, n, s.lr, s.decay_1, s.decay_2, s.epsilon, s.c_m, s.c_g,
                     s.c_v, s.wd_lr)
    elif rule == GROUP_ADADELTA:
        _adadelta_chunk(p, g, s0, s1, n, s.lr, s.decay_1, s.epsilon, s.wd_lr)
    elif rule == GROUP_LION:
        _lion_chunk(p, g, s0, n, s.lr, s.decay_1, s.decay_2, s.wd_lr)
    elif rule == GROUP_FTRL:
        _ftrl_chunk(p, g, s0, s1, n, s.lr, s.decay_1, s.decay_2, s.epsilon, s.c_m, s.wd_lr)
