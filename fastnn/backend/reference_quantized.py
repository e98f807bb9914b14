"""The int8 kernels of the reference backend: Keras 3's "int8" Dense in NumPy, the
specification of the compiled int8 GEMM (src_c/qgemm.h).

Weights are quantized once, per output channel (`quantize_kernel`); inputs per row at
every call (`quantize_rows`); the integer product is exact and the float epilogue is one
rounding per operation in Keras' order, so the cpu backend matches it bit for bit before
the activation.
"""
import numpy

# Keras' backend.epsilon(), added to a float32 maximum as a float32
EPSILON = numpy.float32(1e-7)
QMAX = 127


def _abs_max_scale(xp, x, axis):
    """127 / (max |x| over `axis` + 1e-7), in float32 (Keras' abs_max_quantize)."""
    return xp.float32(QMAX) / (xp.abs(x).max(axis=axis) + EPSILON)


def quantize_rows(xp, x):
    """(q, scale): each row of float32 `x` as int8 q = clip(round(x * scale), -127, 127)
    with scale = 127 / (max |row| + 1e-7), rounding half to even."""
    scale = _abs_max_scale(xp, x, 1)
    q = xp.clip(xp.rint(x * scale[:, None]), -QMAX, QMAX).astype(xp.int8)
    return q, scale


def quantize_kernel(w):
    """(int8 kernel, float32 scale per output channel) of a float (n_in, n_out) kernel,
    as Keras 3's Dense.quantize("int8") makes them (AbsMaxQuantizer over axis 0)."""
    w = numpy.asarray(w, numpy.float32)
    scale = _abs_max_scale(numpy, w, 0)
    q = numpy.clip(numpy.rint(w * scale[None, :]), -QMAX, QMAX).astype(numpy.int8)
    return q, scale.astype(numpy.float32)


class QuantizedReference:
    """The reference backend's int8 kernels (mixed into ReferenceBackend)."""

    def quantized_dense_forward(self, x, kernel, kernel_scale, b, activation, out=None):
        """out := act(float32(q(x) @ kernel) / (kernel_scale * x_scale) + b).

        x float32 (n, k); kernel int8 (k, units); kernel_scale float32 (units,); b None
        or float32 (units,); q, x_scale = quantize_rows(x); the product in int32 (exact:
        k * 127 * 127 < 2**31 for k <= 133,000).
        """
        xp = self.xp
        q, x_scale = quantize_rows(xp, x)
        acc = xp.matmul(q.astype(xp.int64), kernel.astype(xp.int64)).astype(xp.int32)
        z = acc.astype(xp.float32) / (kernel_scale[None, :] * x_scale[:, None])
        if b is not None:
            z = z + b
        return self.activation_forward(z, activation, out=out)
