"""Dropout, as ``keras.layers.Dropout``, with counter-based (Philox) masks."""
from fastnn import _random, _validation
from fastnn.backend import get_backend
from fastnn.layers.base import Layer

import numpy


class Dropout(Layer):
    """Zero a fraction `rate` of inputs while training, scaling the rest by 1 / (1 - rate).

    The mask of training step t is a pure function of (seed, layer index, t), so every
    backend and thread count draws the same mask.

    Args:
        rate: the fraction dropped, in [0, 1).
        seed: an int; by default drawn from fastnn's global seed stream.

    Example:
        >>> from fastnn.layers import Dropout
        >>> layer = Dropout(0.2, seed=1)
    """

    op_kind = "dropout"

    # applies the previous layer's act' in the same pass as the mask
    fuses_input_grad = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _validation.fraction(rate, "rate")
        if noise_shape is not None:
            raise ValueError("`noise_shape` is not supported: masks are per element")
        # the Philox key is 64 bits
        self.seed = _random.next_seed() if seed is None else _validation.seed(seed)
        self.layer_index = 0   # set by the model: the Philox counter's layer word
        self.step = 0          # training steps taken: the Philox counter's step word

    def forward(self, x, training, workspace):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        backend = get_backend()
        out = workspace.buffer(self, "y", x.shape, x.dtype)
        self._mask = workspace.buffer(self, "mask", x.shape, numpy.uint8)
        backend.dropout(x, self.rate, self.seed, self.step & 0xFFFFFFFF, self.layer_index,
                        out=out, mask=self._mask)
        self.step += 1
        return out

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        if not need_input_grad:
            return None
        act, saved = fuse if fuse is not None else (None, None)
        backend = get_backend()
        if self._mask is None and act is None:
            return grad
        out = workspace.buffer(self, "dx", grad.shape, grad.dtype)
        if self._mask is None:
            return backend.activation_backward(act, grad, saved, out=out)
        return backend.dropout_backward(grad, self._mask, self.rate, out=out, activation=act,
                                        saved=saved)

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "seed": self.seed}

    def __repr__(self):
        return f"Dropout({self.rate}, name={self.name!r})"
