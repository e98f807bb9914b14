"""The GPU backend: CuPy arrays, cuBLAS GEMMs and fused element-wise CUDA kernels.

It inherits the reference's NumPy-style code (written over ``self.xp``) for what it does
not fuse, and overrides the hot paths: GEMM with alpha/beta through cuBLAS, bias +
activation and act' as single element-wise kernels, the fused softmax cross-entropy, and
the Adam update. Importing it raises ImportError without CuPy and RuntimeError without a
CUDA device, so the backend list and the tests skip it cleanly.
"""
import numpy

from fastnn._codes import cuda_source
from fastnn.backend.reference import SOFTMAX_CCE, ReferenceBackend

try:
    import cupy
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError("the 'cupy' backend needs CuPy: pip install fastnn[gpu]") from exc

try:
    _N_DEVICES = cupy.cuda.runtime.getDeviceCount()
except cupy.cuda.runtime.CUDARuntimeError as exc:  # pragma: no cover
    raise RuntimeError(f"the 'cupy' backend needs a CUDA device: {exc}") from exc
if _N_DEVICES == 0:  # pragma: no cover
    raise RuntimeError("the 'cupy' backend needs a CUDA device; none was found")

# act(z) and act'(saved) for the codes of enum fnn_act, in CUDA C, built from the table
# of fastnn/_codes.py (its CUDA expressions).
_PREAMBLE = cuda_source()

_bias_act = cupy.ElementwiseKernel(
    "T z, raw T bias, int64 n_cols, int32 has_bias, int32 code, float64 p", "T y",
    "double v = (double)z + (has_bias ? (double)bias[i % n_cols] : 0.0);"
    "y = (T)fnn_act(code, p, v);", "fastnn_bias_act", preamble=_PREAMBLE)
_act_grad = cupy.ElementwiseKernel(
    "T g, T s, int32 code, float64 p", "T out",
    "out = (T)((double)g * fnn_dact(code, p, (double)s));", "fastnn_act_grad",
    preamble=_PREAMBLE)
_adam = cupy.ElementwiseKernel(
    "T g, float64 alpha, float64 b1, float64 b2, float64 eps, float64 wd_lr",
    "T p, T m, T v",
    "double pi = (double)p - (double)p * wd_lr;"
    "double mi = (double)m + ((double)g - (double)m) * (1.0 - b1);"
    "double vi = (double)v + ((double)g * (double)g - (double)v) * (1.0 - b2);"
    "m = (T)mi; v = (T)vi; p = (T)(pi - alpha * mi / (sqrt(vi) + eps));",
    "fastnn_adam")

_SOFTMAX = ("softmax", "log_softmax")


class CupyBackend(ReferenceBackend):
    """CuPy arrays on the current CUDA device."""

    name = "cupy"
    xp = cupy

    def to_numpy(self, x):
        return cupy.asnumpy(x) if isinstance(x, cupy.ndarray) else numpy.asarray(x)

    def matmul(self, a, b, out=None, transpose_a=False, transpose_b=False, alpha=1.0,
               beta=0.0):
        opa = a.T if transpose_a else a
        opb = b.T if transpose_b else b
        if beta == 0.0:
            out = cupy.matmul(opa, opb, out=out)
            if alpha != 1.0:
                out *= alpha
            return out
        prod = cupy.matmul(opa, opb)
        out *= beta
        out += alpha * prod
        return out

    def dense_forward(self, x, w, b, activation, out=None, preact=None):
        z = preact if preact is not None else out
        z = cupy.matmul(x, w, out=z)
        if activation.name in _SOFTMAX:
            if b is not None:
                z += b
            if preact is not None:
                return self.activation_forward(z, activation, out=out)
            return self.activation_forward(z, activation, out=z)
        has_bias = b is not None
        bias = b if has_bias else z
        if preact is not None and has_bias:
            z += b
            has_bias = False
        return _bias_act(z, bias, z.shape[1], int(has_bias), activation.code,
                         activation.param, out if out is not None else z)

    def dense_backward_input(self, dz, w, activation, saved, out=None):
        dx = cupy.matmul(dz, w.T, out=out)
        if activation is None or activation.name == "linear":
            return dx
        return self.activation_backward(activation, dx, saved, out=dx)

    def bias_grad(self, dz, out=None):
        return cupy.sum(dz, axis=0, out=out)

    def activation_forward(self, x, activation, out=None):
        if activation.name in _SOFTMAX:
            shifted = x - x.max(axis=1, keepdims=True)
            if activation.name == "softmax":
                e = cupy.exp(shifted)
                res = e / e.sum(axis=1, keepdims=True)
            else:
                res = shifted - cupy.log(cupy.exp(shifted).sum(axis=1, keepdims=True))
            if out is None:
                return res
            out[...] = res
            return out
        return _bias_act(x, x, x.shape[1], 0, activation.code, activation.param,
                         out if out is not None else cupy.empty_like(x))

    def activation_backward(self, activation, grad, saved, out=None):
        if activation.name in _SOFTMAX:
            return super().activation_backward(activation, grad, saved, out)
        return _act_grad(grad, saved, activation.code, activation.param,
                         out if out is not None else cupy.empty_like(grad))

    def loss_grad(self, kind, param, pred, target, sample_weight=None, grad=None,
                  row_loss=None):
        if kind != SOFTMAX_CCE:
            return super().loss_grad(kind, param, pred, target, sample_weight, grad,
                                     row_loss)
        n = pred.shape[0]
        shifted = pred - pred.max(axis=1, keepdims=True)
        log_sum = cupy.log(cupy.exp(shifted).sum(axis=1, keepdims=True))
        logp = shifted - log_sum
        onehot = target
        if target.ndim == 1:
            onehot = cupy.zeros_like(pred)
            onehot[cupy.arange(n), target] = 1
        rows = -(onehot * logp).sum(axis=1)
        w = 1.0 if sample_weight is None else sample_weight
        if grad is not None:
            p = cupy.exp(logp)
            grad[...] = (p * onehot.sum(axis=1, keepdims=True) - onehot) * (
                (w if sample_weight is None else sample_weight[:, None]) / n)
        if row_loss is not None:
            row_loss[...] = rows * w
        return float((rows * w).sum() / n)

    def take_rows(self, x, indices, out=None):
        return cupy.take(x, indices, axis=0, out=out)

    def adam_update(self, param, grad, m, v, v_max, alpha, beta_1, beta_2, epsilon, wd_lr):
        if v_max is not None:
            return super().adam_update(param, grad, m, v, v_max, alpha, beta_1, beta_2,
                                       epsilon, wd_lr)
        _adam(grad, alpha, beta_1, beta_2, epsilon, wd_lr, param, m, v)
        return param
