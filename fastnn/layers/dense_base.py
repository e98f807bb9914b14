"""DenseBase: what the fully connected layers (Dense, QuantizedDense) share, written once:
units, activation and bias, the 1-D input check, the output shape, the buffers of the
outputs and the step from the outputs' gradient to the pre-activation's."""
from fastnn import _validation, activations
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class DenseBase(Layer):
    """The base of a layer ``y = activation(x @ kernel (+ bias))`` on 1-D samples.

    A subclass makes its weights in `build` (after `_check_flat_input`), computes y into
    the buffers of `_output_buffers` in `forward`, keeping ``self._x, self._y, self._z``,
    and starts its `backward` from `_preact_grad`.

    Args:
        units: output width (a positive int).
        activation: an activation name or fastnn.activations spec; None is linear.
        use_bias: whether the layer has a bias vector.
        input_dim: the input width, for the first layer of a model.
    """

    def __init__(self, units, activation=None, use_bias=True, input_dim=None, **kwargs):
        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (_validation.positive_int(input_dim, "input_dim"),)
        super().__init__(**kwargs)
        self.units = _validation.positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.keep_preact = False  # set by the model when the loss fuses this activation
        self.kernel = self.bias = None

    def _check_flat_input(self, input_shape):
        """A ValueError unless `input_shape` (one sample's) is 1-D."""
        if len(input_shape) != 1:
            raise ValueError(f"{type(self).__name__} layer {self.name!r} needs 1-D inputs "
                             f"(n_samples, n_features); got input shape "
                             f"{tuple(input_shape)}")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _output_buffers(self, x, workspace, dtype):
        """(y, z): the workspace buffers of the outputs for the batch `x`, and of the
        pre-activation where it is kept (else None): where the activation's derivative
        needs it, and where the loss is fused with this activation, in evaluation too, so
        that evaluate and val_loss compute the loss exactly as training does."""
        shape = (x.shape[0], self.units)
        y = workspace.buffer(self, "y", shape, dtype)
        if self.activation.needs_z or self.keep_preact:
            return y, workspace.buffer(self, "z", shape, dtype)
        return y, None

    def _preact_grad(self, grad, grad_is_dz, workspace=None):
        """d loss / d z from `grad` (d loss / d y, or already d loss / d z where
        `grad_is_dz`), through act' of the last forward pass; into a buffer of
        `workspace` where given, else a new array."""
        if grad_is_dz or self.activation.name == "linear":
            return grad
        saved = self._z if self.activation.needs_z else self._y
        out = None if workspace is None else workspace.buffer(self, "dz", grad.shape,
                                                              grad.dtype)
        return get_backend().activation_backward(self.activation, grad, saved, out=out)

    def get_config(self):
        return super().get_config() | {
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias}

    def __repr__(self):
        return (f"{type(self).__name__}({self.units}, "
                f"activation={self.activation.name!r}, name={self.name!r})")
