"""GaussianNoise, GaussianDropout and AlphaDropout, as in ``keras.layers``: active only
in training.

The noise of training step t is the counter-based Philox draw of fastnn/_philox.py keyed
by (seed, layer index, t, element), as Dropout's masks are: normal draws for the Gaussian
layers, Dropout's keep-mask for AlphaDropout. So runs repeat under
fastnn.utils.set_random_seed, a resumed model (its `step` is saved) continues the stream,
and the cpu backend's compiled step (fastnn/_kernels/step_more.pxi) draws the same bits.
"""
import math

from fastnn import _philox, _random, _validation
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


class _Noise(Layer):
    """The shared seed, layer index, step counter and training switch."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _random.next_seed() if seed is None else _validation.seed(seed)
        self.layer_index = 0   # set by the model: the Philox counter's layer word
        self.step = 0          # training steps taken: the Philox counter's step word

    def _next_step(self):
        """The Philox step word of this training step; the counter moves on."""
        step = self.step & 0xFFFFFFFF
        self.step += 1
        return step

    def _normal(self, x, step):
        """Standard normal draws (float64) for each element of `x` at Philox `step`."""
        xp = get_backend().xp
        return _philox.normal(self.seed, self.layer_index, step, x.size, xp).reshape(x.shape)

    def _active(self, training):
        return bool(training)

    def forward(self, x, training, workspace):
        self._factor = None
        if not self._active(training):
            return x
        out, self._factor = self._apply(x, self._next_step())
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

    op_kind = "gaussian_noise"

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.stddev = _validation.real(stddev, "stddev", minimum=0)

    def _active(self, training):
        return bool(training) and self.stddev > 0

    def _apply(self, x, step):
        noise = (self.stddev * self._normal(x, step)).astype(x.dtype)
        return x + noise, None

    def get_config(self):
        return super().get_config() | {"stddev": self.stddev}


class GaussianDropout(_Noise):
    """x * N(1, rate / (1 - rate)) noise while training.

    Example:
        >>> from fastnn.layers import GaussianDropout
        >>> layer = GaussianDropout(0.2, seed=1)
    """

    op_kind = "gaussian_dropout"

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _validation.fraction(rate, "rate")

    @property
    def stddev(self):
        """The noise's standard deviation, sqrt(rate / (1 - rate)) (Keras')."""
        return math.sqrt(self.rate / (1.0 - self.rate))

    def _active(self, training):
        return bool(training) and self.rate > 0

    def _apply(self, x, step):
        noise = (1.0 + self.stddev * self._normal(x, step)).astype(x.dtype)
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

    op_kind = "alpha_dropout"
    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _validation.fraction(rate, "rate")
        self.noise_shape = None if noise_shape is None else tuple(
            None if n is None else int(n) for n in noise_shape)

    def _active(self, training):
        return bool(training) and self.rate > 0

    def affine(self):
        """(alpha_p, a, b): the value a dropped input takes, and the map a x + b that
        keeps the mean and variance (Keras')."""
        alpha_p = -self.ALPHA * self.SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        return alpha_p, a, -a * alpha_p * self.rate

    def _apply(self, x, step):
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape))
        size = math.prod(shape)
        xp = get_backend().xp
        kept = _philox.dropout_keep_mask(self.seed, self.layer_index, step, self.rate, size,
                                         xp).reshape(shape).astype(x.dtype)
        alpha_p, a, b = self.affine()
        out = a * (x * kept + alpha_p * (1 - kept)) + b
        return out, a * kept

    def get_config(self):
        return super().get_config() | {
            "rate": self.rate,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}
