"""PReLU and Reshape, as in ``keras.layers``."""
import math

from fastnn import _validation, initializers, regularizers
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class PReLU(Layer):
    """max(x, 0) + alpha * min(x, 0), with a trainable alpha per input element (shared
    along `shared_axes`, counted from 1 after the batch axis).

    Example:
        >>> from fastnn.layers import PReLU
        >>> layer = PReLU()
    """

    op_kind = "prelu"

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ValueError("`alpha_constraint` is not supported: it must be None")
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        elif _validation.is_int(shared_axes):
            self.shared_axes = [int(shared_axes)]
        else:
            self.shared_axes = [int(a) for a in shared_axes]
        self.alpha = None

    def build(self, input_shape):
        from fastnn.config import floatx
        shape = list(input_shape)
        for a in self.shared_axes or []:
            if not 1 <= a <= len(shape):
                raise ValueError(f"`shared_axes` must be axes 1..{len(shape)} of the "
                                 f"input; got {self.shared_axes}")
            shape[a - 1] = 1
        dtype = self.dtype or floatx()
        backend = get_backend()
        self.alpha = backend.asarray(self.alpha_initializer(tuple(shape), dtype))
        self._params, self._param_names = [self.alpha], ["alpha"]
        self._grads = [backend.zeros(self.alpha.shape, dtype)]
        self.built = True

    def forward(self, x, training, workspace):
        xp = get_backend().xp
        self._x = x
        return (xp.maximum(x, 0) + self.alpha * xp.minimum(x, 0)).astype(x.dtype, copy=False)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        xp = get_backend().xp
        x = self._x
        if self.trainable and param_grads:
            g = grad * xp.minimum(x, 0)
            axes = (0,) + tuple(a for a in self.shared_axes or [])
            self._grads[0][...] = g.sum(axis=axes, keepdims=True).reshape(self.alpha.shape)
            if self.alpha_regularizer is not None:
                self.alpha_regularizer.add_gradient(self.alpha, self._grads[0])
        if not need_input_grad:
            return None
        return (grad * xp.where(x > 0, 1, self.alpha)).astype(grad.dtype, copy=False)

    def regularization_loss(self):
        """The penalty of alpha (a float)."""
        return 0.0 if self.alpha_regularizer is None else self.alpha_regularizer(self.alpha)

    def get_config(self):
        return super().get_config() | {
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": None, "shared_axes": self.shared_axes}


class Reshape(Layer):
    """Reshape each sample to `target_shape` (one entry may be -1: inferred).

    Example:
        >>> from fastnn.layers import Reshape
        >>> layer = Reshape((3, 4))
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
                d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"`target_shape` must hold positive sizes and at most one "
                             f"-1; got {target_shape!r}")

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"cannot reshape inputs of shape {tuple(input_shape)} to "
                                 f"{self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"cannot reshape inputs of shape {tuple(input_shape)} to "
                             f"{self.target_shape}")
        return self.target_shape

    def forward(self, x, training, workspace):
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.compute_output_shape(x.shape[1:]))

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        return grad.reshape(self._shape) if need_input_grad else None

    def get_config(self):
        return super().get_config() | {"target_shape": list(self.target_shape)}
