"""Optimizer updates, in place, one call per parameter, with Keras' formulas.

Scalars that depend only on the step (bias corrections, schedules) are computed once per
step in Python (fastnn/optimizers.py) and passed in. `wd_lr` is the decoupled weight
decay times the learning rate: param -= param * wd_lr, applied first, as Keras does.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, fabs


def sgd(floating[::1] p, const floating[::1] g, floating[::1] velocity, double lr,
        double momentum, bint nesterov, double wd_lr, int n_threads):
    """v := momentum v - lr g;  p += v  (or p += momentum v - lr g with Nesterov)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double v
    cdef bint has_v = velocity is not None
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
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


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
         floating[::1] v_max, double alpha, double beta_1, double beta_2, double epsilon,
         double wd_lr, int n_threads):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); p -= alpha m / (sqrt(v) + eps).

    alpha = lr sqrt(1 - b2^t) / (1 - b1^t); v_max (AMSGrad) may be None.
    """
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double mi, vi
    cdef bint ams = v_max is not None
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
        vi = v[i] + (g[i] * g[i] - v[i]) * (1.0 - beta_2)
        m[i] = <floating>mi
        v[i] = <floating>vi
        if ams:
            if v_max[i] > vi:
                vi = v_max[i]
            v_max[i] = <floating>vi
        p[i] = <floating>(p[i] - alpha * mi / (sqrt(vi) + epsilon))


def rmsprop(floating[::1] p, const floating[::1] g, floating[::1] velocity,
            floating[::1] average_grad, floating[::1] momentum_buf, double lr, double rho,
            double momentum, double epsilon, double wd_lr, int n_threads):
    """v := rho v + (1 - rho) g^2;  p -= lr g / sqrt(v [- mean_g^2] + eps) (with momentum)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double vi, ai, denom, inc
    cdef bint centered = average_grad is not None, has_mom = momentum_buf is not None
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        vi = rho * velocity[i] + (1.0 - rho) * g[i] * g[i]
        velocity[i] = <floating>vi
        denom = vi
        if centered:
            ai = rho * average_grad[i] + (1.0 - rho) * g[i]
            average_grad[i] = <floating>ai
            denom = vi - ai * ai
        inc = lr * g[i] / sqrt(denom + epsilon)
        if has_mom:
            inc = momentum * momentum_buf[i] + inc
            momentum_buf[i] = <floating>inc
        p[i] = <floating>(p[i] - inc)


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
    """m += (g - m)(1 - b1); u := max(b2 u, |g|); p -= alpha m / (u + eps), alpha = lr / (1 - b1^t)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double mi, ui
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
        ui = beta_2 * u[i]
        if fabs(g[i]) > ui:
            ui = fabs(g[i])
        m[i] = <floating>mi
        u[i] = <floating>ui
        p[i] = <floating>(p[i] - alpha * mi / (ui + epsilon))


def nadam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
          double lr, double beta_1, double beta_2, double epsilon, double c_m, double c_g,
          double c_v, double wd_lr, int n_threads):
    """Adam with Nesterov momentum: p -= lr (c_m m + c_g g) / (sqrt(c_v v) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double mi, vi
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        p[i] = <floating>(p[i] - p[i] * wd_lr)
        mi = m[i] + (g[i] - m[i]) * (1.0 - beta_1)
        vi = v[i] + (g[i] * g[i] - v[i]) * (1.0 - beta_2)
        m[i] = <floating>mi
        v[i] = <floating>vi
        p[i] = <floating>(p[i] - lr * (c_m * mi + c_g * g[i]) / (sqrt(c_v * vi) + epsilon))
