"""Flatten, as ``keras.layers.Flatten``: (n, d1, d2, ...) -> (n, d1 * d2 * ...)."""
import math

from fastnn.layers.base import Layer


class Flatten(Layer):
    """Flatten each sample to one dimension (no copy).

    Example:
        >>> from fastnn.layers import Flatten
        >>> layer = Flatten(input_shape=(28, 28))
    """

    op_kind = "reshape"

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training, workspace):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        return grad.reshape(self._shape) if need_input_grad else None

    def __repr__(self):
        return f"Flatten(name={self.name!r})"
