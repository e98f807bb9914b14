"""GaussianNoise, GaussianDropout and AlphaDropout, as in ``keras.layers``: active only
in training.

The noise of training step t is drawn from a Philox generator keyed by the layer's seed
with its counter at t (a pure function of (seed, t)), so runs repeat under
fastnn.utils.set_random_seed and a resumed model (its `step` is saved) continues the
stream.
"""
import math

import numpy

from fastnn import _random, _validation
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class _Noise(Layer):
    """The shared seed, step counter and training switch."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _random.next_seed() if seed is None else _validation.seed(seed)
        self.step = 0   # training steps taken: selects the next draw

    def _generator(self):
        rng = numpy.random.Generator(numpy.random.Philox(
            key=self.seed % (2 ** 64), counter=(self.step & (2 ** 64 - 1)) << 192))
        self.step += 1
        return rng

    def _active(self, training):
        return bool(training)

    def forward(self, x, training, workspace):
        self._factor = None
        if not self._active(training):
            return x
        out, self._factor = self._apply(x, self._generator())
        return out.astype(x.dtype, copy=False)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        if not need_input_grad:
            return None
        if self._factor is None:
            return grad
        return (grad * self._factor).astype(grad.dtype, copy=False)

    def get_config(self):
        return super().get_config() | {"seed": self.seed}


class GaussianNoise(_Noise):
    """x + N(0, stddev^2) noise while training.

    Example:
        >>> from fastnn.layers import GaussianNoise
        >>> layer = GaussianNoise(0.1, seed=1)
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.stddev = _validation.real(stddev, "stddev", minimum=0)

    def _active(self, training):
        return bool(training) and self.stddev > 0

    def _apply(self, x, rng):
        noise = get_backend().asarray(rng.normal(0.0, self.stddev, x.shape), x.dtype)
        return x + noise, None

    def get_config(self):
        return super().get_config() | {"stddev": self.stddev}


class GaussianDropout(_Noise):
    """x * N(1, rate / (1 - rate)) noise while training.

    Example:
        >>> from fastnn.layers import GaussianDropout
        >>> layer = GaussianDropout(0.2, seed=1)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _validation.fraction(rate, "rate")

    def _active(self, training):
        return bool(training) and self.rate > 0

    def _apply(self, x, rng):
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = get_backend().asarray(rng.normal(1.0, stddev, x.shape), x.dtype)
        return x * noise, noise

    def get_config(self):
        return super().get_config() | {"rate": self.rate}


class AlphaDropout(_Noise):
    """Dropout that keeps a SELU network's mean and variance: while training, a fraction
    `rate` of inputs is set to -alpha * scale, then all are mapped by a * x + b.

    Args:
        rate: the fraction dropped, in [0, 1).
        noise_shape: the mask's shape (batch axis included; None entries take the
            input's size), broadcast over the input; None for one draw per element.
        seed: an int; by default drawn from fastnn's global seed stream.

    Example:
        >>> from fastnn.layers import AlphaDropout
        >>> layer = AlphaDropout(0.1, seed=1)
    """

    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _validation.fraction(rate, "rate")
        self.noise_shape = None if noise_shape is None else tuple(
            None if n is None else int(n) for n in noise_shape)

    def _active(self, training):
        return bool(training) and self.rate > 0

    def _apply(self, x, rng):
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape))
        backend = get_backend()
        kept = backend.asarray(rng.uniform(size=shape) >= self.rate, x.dtype)
        alpha_p = -self.ALPHA * self.SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        out = a * (x * kept + alpha_p * (1 - kept)) + b
        return out, a * kept

    def get_config(self):
        return super().get_config() | {
            "rate": self.rate,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}
