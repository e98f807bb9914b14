"""The NumPy (or CuPy) reference kernels of the losses msle, mape, log_cosh, poisson,
cosine_similarity and the focal cross-entropies, for fastnn.backend.reference's
`loss_grad` (MORE_LOSSES, by loss code).

Each takes (xp, pred, target, param), float64 2-D, and returns (the per-row losses, the
gradient of each row's loss with respect to its predictions), as Keras 3 computes them.
`param` holds the loss's parameters as fastnn/_kernels/losses_focal.pxi lists them.
"""
import numpy

from fastnn._codes import LOSS_CODES

# Keras' epsilon, the clip of probabilities and the floor of denominators
EPSILON = 1e-7

FOCAL_BCE, SIGMOID_FOCAL_BCE, FOCAL_CCE, SOFTMAX_FOCAL_CCE = (LOSS_CODES[name] for name in (
    "FOCAL_BCE", "SIGMOID_FOCAL_BCE", "FOCAL_CCE", "SOFTMAX_FOCAL_CCE"))


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


def _pow_grad(xp, u, gamma):
    """d u^gamma / d u; 0 for gamma = 0 (as JAX's pow)."""
    return gamma * u ** (gamma - 1.0) if gamma != 0 else xp.zeros_like(u)


def _focal_bce(xp, p, t, param, logits):
    """mean_j w_j (1 - p_t)^gamma bce_j, p_t = t q + (1 - t)(1 - q), q = p or sigmoid(p);
    w_j = t alpha + (1 - t)(1 - alpha) with class balancing, else 1. param: (gamma, alpha,
    apply_class_balancing)."""
    gamma, alpha, balance = (float(v) for v in numpy.asarray(param, numpy.float64).ravel())
    if logits:
        lo = 1.0 / (1.0 + xp.exp(xp.abs(p)))          # sigmoid(-|z|)
        q, q1 = xp.where(p >= 0, 1.0 - lo, lo), xp.where(p >= 0, lo, 1.0 - lo)
    else:
        q, q1 = p, 1.0 - p
    free = (q > EPSILON) & (q < 1.0 - EPSILON)
    c = xp.clip(q, EPSILON, 1.0 - EPSILON)
    bce = -(t * xp.log(c) + (1.0 - t) * xp.log(xp.where(free, q1, 1.0 - c)))
    u = t * q1 + (1.0 - t) * q                          # 1 - p_t
    f = u ** gamma
    w = t * alpha + (1.0 - t) * (1.0 - alpha) if balance else 1.0
    focal = _pow_grad(xp, u, gamma) * (1.0 - 2.0 * t) * bce
    if logits:
        d = focal * q * q1 + xp.where(free, f * xp.where(p >= 0, (1.0 - t) - lo, lo - t), 0.0)
    else:
        d = focal + xp.where(free, f * (q - t) / xp.where(free, q * q1, 1.0), 0.0)
    return (w * f * bce).mean(axis=1), w * d / p.shape[1]


def _focal_cce(xp, p, t, param, logits):
    """sum_j alpha_j (1 - c_j)^gamma (-t_j log c_j), c = clip(p / sum(p)) or
    clip(softmax(p)). param: (gamma, alpha) or (gamma, one alpha per class)."""
    param = numpy.asarray(param, numpy.float64).ravel()
    gamma, alpha = float(param[0]), xp.asarray(param[1:])
    if logits:
        z = p - p.max(axis=1, keepdims=True)
        o = xp.exp(z - xp.log(xp.exp(z).sum(axis=1, keepdims=True)))
        s = 1.0
    else:
        s = p.sum(axis=1, keepdims=True)
        o = p / s
    free = (o > EPSILON) & (o < 1.0 - EPSILON)
    c = xp.clip(o, EPSILON, 1.0 - EPSILON)
    m = (1.0 - c) ** gamma
    rows = (alpha * m * -(t * xp.log(c))).sum(axis=1)
    # h = d term_j / d o_j (0 where clipped); through o = p / s or the softmax
    h = xp.where(free & (t != 0), alpha * t * (_pow_grad(xp, 1.0 - c, gamma) * xp.log(c)
                                               - m / c), 0.0)
    acc = (h * o).sum(axis=1, keepdims=True)
    return rows, (o * (h - acc) if logits else (h - acc) / s)


MORE_LOSSES = {
    LOSS_CODES["MSLE"]: _loss_msle, LOSS_CODES["MAPE"]: _loss_mape,
    LOSS_CODES["LOG_COSH"]: _loss_log_cosh, LOSS_CODES["POISSON"]: _loss_poisson,
    LOSS_CODES["COSINE"]: _loss_cosine,
    FOCAL_BCE: lambda xp, p, t, param: _focal_bce(xp, p, t, param, False),
    SIGMOID_FOCAL_BCE: lambda xp, p, t, param: _focal_bce(xp, p, t, param, True),
    FOCAL_CCE: lambda xp, p, t, param: _focal_cce(xp, p, t, param, False),
    SOFTMAX_FOCAL_CCE: lambda xp, p, t, param: _focal_cce(xp, p, t, param, True),
}
