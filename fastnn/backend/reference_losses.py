"""The NumPy (or CuPy) reference kernels of the regression-style losses msle, mape,
log_cosh, poisson and cosine_similarity, for fastnn.backend.reference's `loss_grad`.

Each takes (xp, pred, target, param), float64 2-D, and returns (the per-row losses, the
gradient of each row's loss with respect to its predictions), as Keras 3 computes them.
"""
import numpy

# Keras' epsilon, the clip of probabilities and the floor of denominators
EPSILON = 1e-7


def _loss_msle(xp, p, t, param):
    a = xp.maximum(p, EPSILON) + 1.0
    e = xp.log(a) - xp.log(xp.maximum(t, EPSILON) + 1.0)
    return (e * e).mean(axis=1), xp.where(p > EPSILON, 2.0 * e / a, 0.0) / p.shape[1]


def _loss_mape(xp, p, t, param):
    den = xp.maximum(xp.abs(t), EPSILON)
    rows = 100.0 * (xp.abs(t - p) / den).mean(axis=1)
    return rows, 100.0 * xp.sign(p - t) / den / p.shape[1]


def _log_cosh(xp, e):
    """log(cosh(e)), without cancellation near 0 (log1p(2 sinh(e/2)^2)) or overflow."""
    a = xp.abs(e)
    small = xp.minimum(a, 1.0)
    near = xp.log1p(2.0 * xp.sinh(0.5 * small) ** 2)
    return xp.where(a < 1.0, near, a + xp.log1p(xp.exp(-2.0 * a)) - numpy.log(2.0))


def _loss_log_cosh(xp, p, t, param):
    e = p - t
    return _log_cosh(xp, e).mean(axis=1), xp.tanh(e) / p.shape[1]


def _loss_poisson(xp, p, t, param):
    q = p + EPSILON
    # 1 - t / q as (p - t + eps) / q, without its cancellation as q nears t
    return (p - t * xp.log(q)).mean(axis=1), (p - t + EPSILON) / q / p.shape[1]


def _loss_cosine(xp, p, t, param):
    """-(t / |t|) . (p / |p|), each inverse norm capped at 1 / EPSILON (no gradient
    through a capped one)."""
    inv_t = 1.0 / xp.sqrt(xp.maximum((t * t).sum(axis=1, keepdims=True), EPSILON ** 2))
    sq = (p * p).sum(axis=1, keepdims=True)
    inv_p = 1.0 / xp.sqrt(xp.maximum(sq, EPSILON ** 2))
    tn = t * inv_t
    dot = (tn * p).sum(axis=1, keepdims=True)
    free = sq > EPSILON * EPSILON
    d = -inv_p * (tn - xp.where(free, dot * inv_p * inv_p, 0.0) * p)
    return -(dot * inv_p)[:, 0], d
