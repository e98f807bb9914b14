"""QuantizedDense: a Dense layer with int8 weights, as Keras 3's Dense after
``quantize("int8")``."""
import numpy

from fastnn import _validation, activations
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class QuantizedDense(Layer):
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
        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (_validation.positive_int(input_dim, "input_dim"),)
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.units = _validation.positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.keep_preact = False  # set by the model when the loss fuses this activation
        self.kernel = self.bias = self.kernel_scale = None

    def build(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"QuantizedDense layer {self.name!r} needs 1-D inputs "
                             f"(n_samples, n_features); got input shape {tuple(input_shape)}")
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

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training, workspace):
        backend = get_backend()
        shape = (x.shape[0], self.units)
        y = workspace.buffer(self, "y", shape, numpy.float32)
        z = None
        # the logits are kept where the loss is fused with this activation (evaluate)
        if self.activation.needs_z or self.keep_preact:
            z = workspace.buffer(self, "z", shape, numpy.float32)
            backend.quantized_dense_forward(x, self.kernel, self.kernel_scale, self.bias,
                                            activations.get(None), out=z)
            backend.activation_forward(z, self.activation, out=y)
        else:
            backend.quantized_dense_forward(x, self.kernel, self.kernel_scale, self.bias,
                                            self.activation, out=y)
        self._x, self._y, self._z = x, y, z
        return y

    def dequantized_kernel(self):
        """kernel / kernel_scale as float32: the float kernel the int8 one stands for."""
        xp = get_backend().xp
        return self.kernel.astype(xp.float32) / self.kernel_scale[None, :]

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        """d loss / d x through the dequantized kernel (no parameter gradients)."""
        backend = get_backend()
        if grad_is_dz or self.activation.name == "linear":
            dz = grad
        else:
            saved = self._z if self.activation.needs_z else self._y
            dz = backend.activation_backward(self.activation, grad, saved)
        if not need_input_grad:
            return None
        return backend.matmul(dz, self.dequantized_kernel(), transpose_b=True)

    def get_config(self):
        config = super().get_config() | {
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias}
        config.pop("trainable")
        return config

    def __repr__(self):
        return (f"QuantizedDense({self.units}, activation={self.activation.name!r}, "
                f"name={self.name!r})")
