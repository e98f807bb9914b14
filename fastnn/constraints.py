"""Weight constraints, by Keras name and class, as ``keras.constraints``.

A constraint maps a weight to its projection onto an allowed set. As in Keras 3, a
layer's constraints are applied to its weights right after each optimizer update (the cpu
backend's compiled step applies these four in C, with the bits of this NumPy code:
fastnn/backend/compiled_constraints.py). The norm-based constraints divide by
``norm + 1e-7``, Keras' epsilon.
"""
from fastnn import _validation
from fastnn._registry import Configurable, Registry

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm",
           "non_neg", "unit_norm", "min_max_norm", "get", "serialize"]

EPSILON = 1e-7


class Constraint(Configurable):
    """Base class: `constraint(w)` returns the constrained weights (a new array)."""

    # the name the compiled step knows a class by, set in the class itself: a subclass
    # (its own Python) has none and runs as written
    compiled_name = None
    epsilon = EPSILON

    def __call__(self, w):
        return w

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {}


def _norms(w, axis):
    xp = _xp()
    return xp.sqrt((w * w).sum(axis=axis, keepdims=True))


def _axis(axis):
    if isinstance(axis, (list, tuple)):
        return tuple(_validation.integer(a, "axis") for a in axis)
    return _validation.integer(axis, "axis")


class MaxNorm(Constraint):
    """Scales each slice along `axis` (for a Dense kernel, axis 0: the weights into one
    unit) so that its L2 norm is at most `max_value`."""

    compiled_name = "max_norm"

    def __init__(self, max_value=2, axis=0):
        self.max_value = _validation.real(max_value, "max_value", 0)
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = _xp().clip(norms, 0, self.max_value)
        return w * (desired / (self.epsilon + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become zero."""

    compiled_name = "non_neg"

    def __call__(self, w):
        return _xp().maximum(w, 0)


class UnitNorm(Constraint):
    """Scales each slice along `axis` to unit L2 norm."""

    compiled_name = "unit_norm"

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        return w / (self.epsilon + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm along `axis` into [min_value, max_value]: the norm
    becomes rate * clip(norm, min_value, max_value) + (1 - rate) * norm."""

    compiled_name = "min_max_norm"

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _validation.real(min_value, "min_value", 0)
        self.max_value = _validation.real(max_value, "max_value", 0)
        self.rate = _validation.real(rate, "rate", 0)
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = (self.rate * _xp().clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (self.epsilon + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


# Keras 3's lower-case names are the same classes
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def _xp():
    from fastnn.backend import get_backend
    return get_backend().xp


_NAMES = {"max_norm": MaxNorm, "maxnorm": MaxNorm, "non_neg": NonNeg, "nonneg": NonNeg,
          "unit_norm": UnitNorm, "unitnorm": UnitNorm, "min_max_norm": MinMaxNorm,
          "minmaxnorm": MinMaxNorm}
REGISTRY = Registry("constraint", "constraint", _NAMES,
                    classes=(MaxNorm, NonNeg, UnitNorm, MinMaxNorm, Constraint),
                    base=Constraint)


def get(identifier):
    """The constraint named `identifier` (None stays None)."""
    if identifier is None:
        return None
    return REGISTRY.get(identifier)


def serialize(constraint):
    """{'class_name': ..., 'config': ...} of a constraint, or None."""
    if constraint is None:
        return None
    return REGISTRY.serialize(constraint)
