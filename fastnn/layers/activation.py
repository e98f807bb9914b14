"""Activation, as ``keras.layers.Activation``: an activation function as its own layer."""
from fastnn import activations
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class Activation(Layer):
    """Apply an activation function.

    Args:
        activation: an activation name or fastnn.activations spec.

    Example:
        >>> from fastnn.layers import Activation
        >>> layer = Activation("relu")
    """

    op_kind = "activation"
    # it keeps its input (the logits) anyway: the loss may be fused with it
    keep_preact = False

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training, workspace):
        backend = get_backend()
        y = workspace.buffer(self, "y", x.shape, x.dtype)
        backend.activation_forward(x, self.activation, out=y)
        self._z, self._y = x, y
        return y

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        if grad_is_dz or not need_input_grad:
            return grad if need_input_grad else None
        saved = self._z if self.activation.needs_z else self._y
        out = workspace.buffer(self, "dx", grad.shape, grad.dtype)
        return get_backend().activation_backward(self.activation, grad, saved, out=out)

    def get_config(self):
        return super().get_config() | {"activation": activations.serialize(self.activation)}

    def __repr__(self):
        return f"Activation({self.activation.name!r}, name={self.name!r})"
