"""Weight initializers, by Keras name and class. Values are drawn once in NumPy (Philox),
so every backend starts from the same weights."""
import math

import numbers

import numpy

from fastnn import _random, _validation
from fastnn._registry import Configurable, Registry

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
           "LecunUniform", "LecunNormal", "get"]


class Initializer(Configurable):
    """Base class: ``init(shape, dtype)`` returns a NumPy array."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype="float32"):
        return numpy.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype="float32"):
        return numpy.ones(shape, dtype=dtype)


class Constant(Initializer):
    """All `value`."""

    def __init__(self, value=0.0):
        # a number, or (as in Keras) an array broadcast to the shape asked for
        if isinstance(value, (numbers.Real, numpy.number)) and not isinstance(
                value, (bool, numpy.bool_)):
            self.value = _validation.real(value, "value")
        else:
            array = numpy.asarray(value)
            if array.dtype.kind not in "fiu" or not numpy.isfinite(array).all():
                raise ValueError(f"`value` must be a finite number or array of numbers; "
                                 f"got {value!r}")
            self.value = float(array.reshape(-1)[0]) if array.size == 1 else array.astype(float)

    def __call__(self, shape, dtype="float32"):
        if isinstance(self.value, float):
            return numpy.full(shape, self.value, dtype=dtype)
        try:
            return numpy.ascontiguousarray(numpy.broadcast_to(self.value, shape), dtype=dtype)
        except ValueError:
            raise ValueError(f"`value` of shape {self.value.shape} must broadcast to the "
                             f"weight shape {tuple(shape)}") from None

    def get_config(self):
        return {"value": self.value if isinstance(self.value, float) else
                self.value.tolist()}


class _Seeded(Initializer):
    def __init__(self, seed=None):
        self.seed = None if seed is None else _validation.seed(seed)

    def _rng(self):
        return _random.generator(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(_Seeded):
    """Normal(mean, stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _validation.real(mean, "mean")
        self.stddev = _validation.real(stddev, "stddev", 0)

    def __call__(self, shape, dtype="float32"):
        return self._rng().normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    """Uniform[minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _validation.real(minval, "minval")
        self.maxval = _validation.real(maxval, "maxval", self.minval)

    def __call__(self, shape, dtype="float32"):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng, stddev, shape):
    """Normal(0, stddev) redrawn outside two standard deviations, as Keras does."""
    out = rng.normal(0.0, 1.0, shape)
    bad = numpy.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = numpy.abs(out) > 2.0
    return out * stddev


class TruncatedNormal(_Seeded):
    """Normal(mean, stddev) truncated at two standard deviations."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _validation.real(mean, "mean")
        self.stddev = _validation.real(stddev, "stddev", 0)

    def __call__(self, shape, dtype="float32"):
        return (self.mean + _truncated_normal(self._rng(), self.stddev, shape)).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class _VarianceScaling(_Seeded):
    """Keras' VarianceScaling: variance `scale / fan`, uniform or truncated normal."""
    scale, mode, distribution = 1.0, "fan_in", "uniform"

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
        variance = self.scale / max(1.0, fan[self.mode])
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        # the std of a unit normal truncated at 2 sigma is 0.87962566103423978
        stddev = math.sqrt(variance) / 0.87962566103423978
        return _truncated_normal(rng, stddev, shape).astype(dtype)


class GlorotUniform(_VarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (Keras' default kernel initializer)."""
    mode = "fan_avg"


class GlorotNormal(_VarianceScaling):
    """Truncated normal with variance 2 / (fan_in + fan_out)."""
    mode, distribution = "fan_avg", "normal"


class HeUniform(_VarianceScaling):
    """Uniform in +-sqrt(6 / fan_in)."""
    scale = 2.0


class HeNormal(_VarianceScaling):
    """Truncated normal with variance 2 / fan_in."""
    scale, distribution = 2.0, "normal"


class LecunUniform(_VarianceScaling):
    """Uniform in +-sqrt(3 / fan_in)."""


class LecunNormal(_VarianceScaling):
    """Truncated normal with variance 1 / fan_in."""
    distribution = "normal"


_NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}
REGISTRY = Registry("initializer", "initializer", _NAMES, base=Initializer)


def get(identifier):
    """The initializer named `identifier`, or `identifier` if it already is one."""
    return REGISTRY.get(identifier)


def serialize(initializer):
    """{'class_name': ..., 'config': ...} of an initializer."""
    return REGISTRY.serialize(initializer)
