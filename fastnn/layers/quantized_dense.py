"""QuantizedDense: a Dense layer with int8 weights, as Keras 3's Dense after
``quantize("int8")``."""
import numpy

from fastnn import activations
from fastnn.backend import get_backend
from fastnn.layers.dense_base import DenseBase


class QuantizedDense(DenseBase):
    """A fully connected layer with int8 weights (Keras 3's "int8" quantization mode).

    The kernel is int8 with one float32 scale per output channel (``kernel_scale``:
    127 / max |w| over the inputs); each input row is quantized to int8 at run time
    with its own scale, the product is summed in int32, and the epilogue is float32:
    ``act(acc / (kernel_scale * row_scale) + bias)``. Made by `model.quantize("int8")`
    from a trained float32 Dense; for inference (its weights are not trainable).
    Gradients (for fastnn.explain) pass through the dequantized kernel,
    ``kernel / kernel_scale``, as Keras' int8 Dense defines them.

    Args:
        units: output width (a positive int).
        activation: an activation name or fastnn.activations spec; None is linear.
        use_bias: whether the layer has a (float32) bias.
        input_dim: the input width, for the first layer of a model.

    Example:
        >>> from fastnn.layers import QuantizedDense
        >>> layer = QuantizedDense(16, activation="relu", input_dim=8)
    """

    op_kind = "quantized_dense"

    def __init__(self, units, activation=None, use_bias=True, input_dim=None, **kwargs):
        kwargs["trainable"] = False
        super().__init__(units, activation, use_bias, input_dim, **kwargs)
        self.kernel_scale = None

    def build(self, input_shape):
        self._check_flat_input(input_shape)
        backend = get_backend()
        n_in = int(input_shape[0])
        self.kernel = backend.zeros((n_in, self.units), numpy.int8)
        self._params, self._param_names = [self.kernel], ["kernel"]
        if self.use_bias:
            self.bias = backend.zeros((self.units,), numpy.float32)
            self._params.append(self.bias)
            self._param_names.append("bias")
        self.kernel_scale = backend.asarray(numpy.ones(self.units, numpy.float32))
        self._params.append(self.kernel_scale)
        self._param_names.append("kernel_scale")
        self._grads = []
        self.built = True

    def forward(self, x, training, workspace):
        backend = get_backend()
        y, z = self._output_buffers(x, workspace, numpy.float32)
        if z is not None:
            backend.quantized_dense_forward(x, self.kernel, self.kernel_scale, self.bias,
                                            activations.get(None), out=z)
            backend.activation_forward(z, self.activation, out=y)
        else:
            backend.quantized_dense_forward(x, self.kernel, self.kernel_scale, self.bias,
                                            self.activation, out=y)
        self._x, self._y, self._z = x, y, z
        return y

    def set_weights(self, weights):
        """Set the weights (int8 kernel, bias, kernel_scale). The kernel stays read-only
        between calls of set_weights, so that the compiled int8 product trusts the
        packed copy it made of it instead of comparing it at every call."""
        from fastnn.backend.cpu_quantized import forget_packed
        kernel = self.kernel
        kernel.flags.writeable = True
        try:
            super().set_weights(weights)
        finally:
            forget_packed(kernel)
            kernel.flags.writeable = False

    def dequantized_kernel(self):
        """kernel / kernel_scale as float32: the float kernel the int8 one stands for."""
        xp = get_backend().xp
        return self.kernel.astype(xp.float32) / self.kernel_scale[None, :]

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        """d loss / d x through the dequantized kernel (no parameter gradients)."""
        dz = self._preact_grad(grad, grad_is_dz)
        if not need_input_grad:
            return None
        return get_backend().matmul(dz, self.dequantized_kernel(), transpose_b=True)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable")
        return config
