"""The reference backend: every kernel written the textbook way in NumPy.

This file is the specification of the kernel interface. Other backends (``cpu``,
``cupy``) implement the same methods with the same signatures and must agree with these
to floating-point rounding; ``tests/backend`` checks both.

Conventions for every kernel:
  * arrays are 2-D and of one floating dtype (float32 or float64) unless stated;
  * ``out`` (and other output buffers) may be given, in which case the result is written
    there and returned; otherwise a new array is returned;
  * kernels trust their arguments: shapes and dtypes are checked at the Python boundary
    (``fastnn/_validation.py``), never here.
"""
import numpy

from fastnn._codes import LOSS_CODES
from fastnn._philox import dropout_keep_mask
from fastnn.backend.reference_losses import EPSILON, MORE_LOSSES
from fastnn.backend.reference_quantized import QuantizedReference

# Loss codes, from the table of fastnn/_codes.py (as the Cython kernels and the C enum).
MSE, MAE, HUBER, BCE, CCE, HINGE, KLD = (LOSS_CODES[name] for name in (
    "MSE", "MAE", "HUBER", "BCE", "CCE", "HINGE", "KLD"))
SOFTMAX_CCE, SIGMOID_BCE = LOSS_CODES["SOFTMAX_CCE"], LOSS_CODES["SIGMOID_BCE"]
MSLE, MAPE, LOG_COSH, POISSON, COSINE = (LOSS_CODES[name] for name in (
    "MSLE", "MAPE", "LOG_COSH", "POISSON", "COSINE"))
FOCAL_BCE, SIGMOID_FOCAL_BCE, FOCAL_CCE, SOFTMAX_FOCAL_CCE = (LOSS_CODES[name] for name in (
    "FOCAL_BCE", "SIGMOID_FOCAL_BCE", "FOCAL_CCE", "SOFTMAX_FOCAL_CCE"))

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _erfc(xp, x):
    """erfc on arrays of `xp` (NumPy has none: math.erfc, vectorised)."""
    if xp is numpy:
        import math
        return numpy.vectorize(math.erfc, otypes=[numpy.float64])(x)
    import cupyx.scipy.special
    return cupyx.scipy.special.erfc(x)


def _phi(xp, z):
    """The normal CDF, as erfc(-z / sqrt 2) / 2: relatively accurate where it is tiny
    (1 + erf(z / sqrt 2) cancels there)."""
    return 0.5 * _erfc(xp, -z / numpy.sqrt(2.0))


class ReferenceBackend(QuantizedReference):
    """NumPy kernels, written for clarity: the ground truth for the other backends."""

    name = "reference"
    xp = numpy

    # ---------------------------------------------------------------- arrays
    def compile(self, program):
        """The executor of `program` (fastnn.backend.program.Program) on this backend:
        layer by layer on its kernels, the specification of every executor."""
        from fastnn.backend.executor import LayerExecutor
        return LayerExecutor(self, program)

    def param_group(self, params, grads, slots, l1, l2, clip, clip_value):
        """A compiled update of all `params` in one call: None here, where each
        parameter is updated by its own calls (the optimizer's update_step)."""
        return None

    def asarray(self, x, dtype=None):
        """A backend array holding `x` (no copy when it already is one)."""
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x):
        """A NumPy array holding `x`."""
        return numpy.asarray(x)

    def empty(self, shape, dtype):
        """An uninitialised backend array."""
        return self.xp.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        """A zero-filled backend array."""
        return self.xp.zeros(shape, dtype=dtype)

    def _out(self, out, shape, dtype):
        return self.xp.empty(shape, dtype=dtype) if out is None else out

    # ---------------------------------------------------------------- GEMM
    def matmul(self, a, b, out=None, transpose_a=False, transpose_b=False, alpha=1.0,
               beta=0.0):
        """out := alpha * op(a) @ op(b) + beta * out, op transposing when asked.

        With beta == 0 the previous contents of `out` are ignored (may be NaN).
        """
        opa = a.T if transpose_a else a
        opb = b.T if transpose_b else b
        prod = self.xp.matmul(opa.astype(numpy.float64), opb.astype(numpy.float64))
        res = alpha * prod if beta == 0 or out is None else alpha * prod + beta * out
        out = self._out(out, prod.shape, a.dtype)
        out[...] = res
        return out

    def dense_forward(self, x, w, b, activation, out=None, preact=None):
        """out := act(x @ w + b); b may be None; preact := x @ w + b when given."""
        z = self.matmul(x, w)
        if b is not None:
            z = z + b
        if preact is not None:
            preact[...] = z
        return self.activation_forward(z, activation, out=out)

    def dense_backward_input(self, dz, w, activation, saved, out=None):
        """out := (dz @ w.T) * act'(saved): the previous layer's dZ in one step.

        With `activation` None (or linear) it is the plain input gradient dz @ w.T.
        """
        dx = self.matmul(dz, w, transpose_b=True)
        if activation is None or activation.name == "linear":
            out = self._out(out, dx.shape, dz.dtype)
            out[...] = dx
            return out
        return self.activation_backward(activation, dx, saved, out=out)

    def bias_grad(self, dz, out=None):
        """out := column sums of dz."""
        out = self._out(out, (dz.shape[1],), dz.dtype)
        out[...] = dz.astype(numpy.float64).sum(axis=0)
        return out

    # ---------------------------------------------------------------- activations
    def activation_forward(self, x, activation, out=None):
        """out := act(x) (activation: a fastnn.activations spec)."""
        z = x.astype(numpy.float64)
        y = _FORWARD[activation.name](self.xp, z, activation.param)
        out = self._out(out, x.shape, x.dtype)
        out[...] = y
        return out

    def activation_backward(self, activation, grad, saved, out=None):
        """out := grad * act'(.) from `saved`: z if activation.needs_z, else y = act(z).

        For softmax/log_softmax, the vector-Jacobian product from the output y.
        """
        g = grad.astype(numpy.float64)
        s = saved.astype(numpy.float64)
        if activation.name == "softmax":
            res = s * (g - (g * s).sum(axis=-1, keepdims=True))
        elif activation.name == "log_softmax":
            res = g - self.xp.exp(s) * g.sum(axis=-1, keepdims=True)
        else:
            res = g * _DERIVATIVE[activation.name](self.xp, s, activation.param)
        out = self._out(out, grad.shape, grad.dtype)
        out[...] = res
        return out

    # ---------------------------------------------------------------- losses
    def loss_grad(self, kind, param, pred, target, sample_weight=None, grad=None,
                  row_loss=None):
        """Mean batch loss sum_i w_i l_i / n of `pred` against `target` (a float); grad :=
        d loss / d pred and row_loss (float64, one per row) := w_i l_i, where given.

        `kind` is a loss code; SOFTMAX_CCE and SIGMOID_BCE take logits. `target` is
        2-D like `pred`, or 1-D integer labels for the cross-entropies (CCE, SOFTMAX_CCE).
        """
        xp = self.xp
        p = pred.astype(numpy.float64)
        n_rows, n_cols = p.shape
        if target.ndim == 1:
            t = xp.zeros_like(p)
            t[xp.arange(n_rows), target.astype(numpy.int64)] = 1.0
        else:
            t = target.astype(numpy.float64)
        w = xp.ones(n_rows) if sample_weight is None else sample_weight.astype(numpy.float64)
        rows, d = _LOSSES[kind](xp, p, t, param)
        if grad is not None:
            grad[...] = d * (w / n_rows)[:, None]
        if row_loss is not None:
            row_loss[...] = rows * w
        return float((rows * w).sum() / n_rows) if n_rows else 0.0

    # ---------------------------------------------------------------- dropout
    def dropout(self, x, rate, seed, step, layer, out=None, mask=None, first=0):
        """mask := keep-mask (seed, layer, step) of elements first...; out := x*mask/(1-rate)."""
        keep = dropout_keep_mask(seed, layer, step, rate, x.size, self.xp, first).reshape(x.shape)
        if mask is not None:
            mask[...] = keep
        out = self._out(out, x.shape, x.dtype)
        out[...] = self.xp.where(keep, x / (1.0 - rate), 0.0)
        return out

    def dropout_backward(self, grad, mask, rate, out=None, activation=None, saved=None):
        """out := grad * mask / (1 - rate); with `activation`, then out := out * act'(saved),
        the backward of the activation that fed the dropout (saved as for
        activation_backward)."""
        out = self._out(out, grad.shape, grad.dtype)
        out[...] = self.xp.where(mask.astype(bool), grad / (1.0 - rate), 0.0)
        if activation is not None:
            self.activation_backward(activation, out, saved, out=out)
        return out

    # ---------------------------------------------------------------- data movement
    def take_rows(self, x, indices, out=None):
        """out[i] := x[indices[i]]."""
        out = self._out(out, (len(indices), x.shape[1]), x.dtype)
        out[...] = x[indices]
        return out

    # ---------------------------------------------------------------- optimizers
    def sgd_update(self, param, grad, velocity, lr, momentum, nesterov, wd_lr):
        """v := momentum v - lr g; param += v (Nesterov: += momentum v - lr g)."""
        param -= param * wd_lr
        if velocity is None:
            param -= lr * grad
            return param
        velocity[...] = momentum * velocity - lr * grad
        param += momentum * velocity - lr * grad if nesterov else velocity
        return param

    def adam_update(self, param, grad, m, v, v_max, alpha, beta_1, beta_2, epsilon, wd_lr):
        """Keras Adam/AdamW step; alpha = lr sqrt(1 - b2^t) / (1 - b1^t); v_max for AMSGrad."""
        param -= param * wd_lr
        m += (grad - m) * (1 - beta_1)
        v += (grad * grad - v) * (1 - beta_2)
        denom = v
        if v_max is not None:
            v_max[...] = self.xp.maximum(v_max, v)
            denom = v_max
        param -= alpha * m / (self.xp.sqrt(denom) + epsilon)
        return param

    def rmsprop_update(self, param, grad, velocity, average_grad, momentum_buf, lr, rho,
                       momentum, epsilon, wd_lr):
        """Keras RMSprop step (centered when average_grad is given, momentum when buffered)."""
        param -= param * wd_lr
        velocity[...] = rho * velocity + (1 - rho) * grad * grad
        denom = velocity
        if average_grad is not None:
            average_grad[...] = rho * average_grad + (1 - rho) * grad
            denom = velocity - average_grad * average_grad
        increment = lr * grad / self.xp.sqrt(denom + epsilon)
        if momentum_buf is not None:
            momentum_buf[...] = momentum * momentum_buf + increment
            increment = momentum_buf
        param -= increment
        return param

    def adagrad_update(self, param, grad, accumulator, lr, epsilon, wd_lr):
        """acc += g^2; param -= lr g / sqrt(acc + eps)."""
        param -= param * wd_lr
        accumulator += grad * grad
        param -= lr * grad / self.xp.sqrt(accumulator + epsilon)
        return param

    def adamax_update(self, param, grad, m, u, alpha, beta_1, beta_2, epsilon, wd_lr):
        """m += (g - m)(1 - b1); u := max(b2 u, |g|); param -= alpha m / (u + eps)."""
        param -= param * wd_lr
        m += (grad - m) * (1 - beta_1)
        u[...] = self.xp.maximum(beta_2 * u, self.xp.abs(grad))
        param -= alpha * m / (u + epsilon)
        return param

    def nadam_update(self, param, grad, m, v, lr, beta_1, beta_2, epsilon, c_m, c_g, c_v,
                     wd_lr):
        """Keras Nadam step; c_m, c_g, c_v are the step's momentum-schedule coefficients."""
        param -= param * wd_lr
        m += (grad - m) * (1 - beta_1)
        v += (grad * grad - v) * (1 - beta_2)
        param -= lr * (c_m * m + c_g * grad) / (self.xp.sqrt(c_v * v) + epsilon)
        return param

    def __repr__(self):
        return f"<fastnn backend {self.name!r}>"


# Kernel names every backend must implement itself (checked by the tests).
KERNELS = ("matmul", "dense_forward", "dense_backward_input", "bias_grad",
           "activation_forward", "activation_backward", "loss_grad", "dropout",
           "dropout_backward", "take_rows", "sgd_update", "adam_update", "rmsprop_update",
           "adagrad_update", "adamax_update", "nadam_update", "quantized_dense_forward")


def _sigmoid(xp, z):
    return 1.0 / (1.0 + xp.exp(-z))


def _softmax(xp, z):
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(xp, z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - xp.log(xp.exp(s).sum(axis=-1, keepdims=True))


_FORWARD = {
    "linear": lambda xp, z, a: z,
    "relu": lambda xp, z, a: xp.maximum(z, 0.0),
    "leaky_relu": lambda xp, z, a: xp.where(z > 0, z, a * z),
    "elu": lambda xp, z, a: xp.where(z > 0, z, a * xp.expm1(xp.minimum(z, 0))),
    "selu": lambda xp, z, a: SELU_SCALE * xp.where(
        z > 0, z, SELU_ALPHA * xp.expm1(xp.minimum(z, 0))),
    "gelu": lambda xp, z, a: z * _phi(xp, z),
    "silu": lambda xp, z, a: z * _sigmoid(xp, z),
    "sigmoid": lambda xp, z, a: _sigmoid(xp, z),
    "hard_sigmoid": lambda xp, z, a: xp.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "tanh": lambda xp, z, a: xp.tanh(z),
    "softplus": lambda xp, z, a: xp.logaddexp(0.0, z),
    "softsign": lambda xp, z, a: z / (1.0 + xp.abs(z)),
    "softmax": lambda xp, z, a: _softmax(xp, z),
    "log_softmax": lambda xp, z, a: _log_softmax(xp, z),
}

# act' as a function of y = act(z), or of z for gelu and silu.
_DERIVATIVE = {
    "linear": lambda xp, y, a: xp.ones_like(y),
    "relu": lambda xp, y, a: (y > 0).astype(numpy.float64),
    "leaky_relu": lambda xp, y, a: xp.where(y > 0, 1.0, a),
    "elu": lambda xp, y, a: xp.where(y > 0, 1.0, y + a),
    "selu": lambda xp, y, a: xp.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA),
    "gelu": lambda xp, z, a: _phi(xp, z) + z * xp.exp(-0.5 * z * z) / xp.sqrt(2.0 * xp.pi),
    "silu": lambda xp, z, a: _sigmoid(xp, z) * (1.0 + z * (1.0 - _sigmoid(xp, z))),
    "sigmoid": lambda xp, y, a: y * (1.0 - y),
    "hard_sigmoid": lambda xp, y, a: xp.where((y > 0) & (y < 1), 1.0 / 6.0, 0.0),
    "tanh": lambda xp, y, a: 1.0 - y * y,
    "softplus": lambda xp, y, a: -xp.expm1(-y),
    "softsign": lambda xp, y, a: (1.0 - xp.abs(y)) ** 2,
}


def _clip(xp, p):
    return xp.clip(p, EPSILON, 1.0 - EPSILON)


def _unclipped(xp, p):
    return (p > EPSILON) & (p < 1.0 - EPSILON)


def _loss_mse(xp, p, t, param):
    n = p.shape[1]
    return ((p - t) ** 2).mean(axis=1), 2.0 * (p - t) / n


def _loss_mae(xp, p, t, param):
    n = p.shape[1]
    return xp.abs(p - t).mean(axis=1), xp.sign(p - t) / n


def _loss_huber(xp, p, t, delta):
    e = p - t
    small = xp.abs(e) <= delta
    rows = xp.where(small, 0.5 * e * e, delta * xp.abs(e) - 0.5 * delta * delta)
    return rows.mean(axis=1), xp.clip(e, -delta, delta) / p.shape[1]


def _loss_bce(xp, p, t, param):
    q = _clip(xp, p)
    rows = -(t * xp.log(q) + (1 - t) * xp.log(1 - q)).mean(axis=1)
    d = xp.where(_unclipped(xp, p), (p - t) / (p * (1 - p)), 0.0)
    return rows, d / p.shape[1]


def _loss_cce(xp, p, t, param):
    s = p.sum(axis=1, keepdims=True)
    q = p / s
    u = _unclipped(xp, q)
    rows = -(t * xp.log(_clip(xp, q))).sum(axis=1)
    # through the normalisation q = p / s: dL/dp_k = (sum_j t_j u_j - t_k u_k / q_k) / s
    d = ((t * u).sum(axis=1, keepdims=True) - xp.where(u, t / q, 0.0)) / s
    return rows, d


def _loss_hinge(xp, p, t, param):
    margin = 1.0 - t * p
    return xp.maximum(margin, 0).mean(axis=1), xp.where(margin > 0, -t, 0.0) / p.shape[1]


def _loss_kld(xp, p, t, param):
    tc = xp.clip(t, EPSILON, 1.0)
    pc = xp.clip(p, EPSILON, 1.0)
    rows = (tc * xp.log(tc / pc)).sum(axis=1)
    return rows, xp.where((p > EPSILON) & (p < 1.0), -tc / pc, 0.0)


def _loss_softmax_cce(xp, z, t, param):
    logp = _log_softmax(xp, z)
    rows = -(t * logp).sum(axis=1)
    return rows, xp.exp(logp) * t.sum(axis=1, keepdims=True) - t


def _loss_sigmoid_bce(xp, z, t, param):
    rows = (xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))).mean(axis=1)
    # sigmoid(z) - t without forming 1 - sigmoid(z) by cancellation: for z >= 0 it is
    # (1 - t) - sigmoid(-z) (Keras: (1 - t) sigmoid(z) - t sigmoid(-z))
    e = xp.exp(-xp.abs(z))
    low = e / (1.0 + e)     # sigmoid(-|z|)
    return rows, xp.where(z >= 0, (1.0 - t) - low, low - t) / z.shape[1]


_LOSSES = {MSE: _loss_mse, MAE: _loss_mae, HUBER: _loss_huber, BCE: _loss_bce,
           CCE: _loss_cce, HINGE: _loss_hinge, KLD: _loss_kld,
           SOFTMAX_CCE: _loss_softmax_cce, SIGMOID_BCE: _loss_sigmoid_bce, **MORE_LOSSES}
