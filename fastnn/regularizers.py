"""Weight regularizers (penalties added to the loss), by Keras name and class."""
from fastnn import _validation
from fastnn._registry import Registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    """penalty(w) = l1 * sum|w| + l2 * sum w^2, with its gradient."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validation.real(l1, "l1", 0)
        self.l2 = _validation.real(l2, "l2", 0)

    def __call__(self, w):
        """The penalty of weights `w` (a float)."""
        xp = _xp(w)
        total = 0.0
        if self.l1:
            total += self.l1 * float(xp.abs(w).sum())
        if self.l2:
            total += self.l2 * float((w * w).sum())
        return total

    def add_gradient(self, w, grad):
        """grad += d penalty / d w, in place."""
        xp = _xp(w)
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w
        return grad

    def get_config(self):
        """JSON-safe constructor arguments."""
        return {"l1": self.l1, "l2": self.l2}

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`."""
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(Regularizer):
    """l1 * sum|w|."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum w^2."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum w^2."""


# Keras 3's lower-case names are the same classes
l1, l2, l1_l2 = L1, L2, L1L2


def _xp(w):
    from fastnn.backend import get_backend
    return get_backend().xp


_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
REGISTRY = Registry("regularizer", "regularizer", _NAMES,
                    classes=(L1, L2, L1L2, Regularizer), base=Regularizer)


def get(identifier):
    """The regularizer named `identifier` (None stays None)."""
    if identifier is None:
        return None
    return REGISTRY.get(identifier)


def serialize(regularizer):
    """{'class_name': ..., 'config': ...} of a regularizer, or None."""
    if regularizer is None:
        return None
    return REGISTRY.serialize(regularizer)
