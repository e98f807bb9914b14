"""The estimators' constructor arguments checked at `fit` (scikit-learn stores them
verbatim in `__init__` and validates them when they are used), resolved into the values
the model is built and trained with."""
import numbers
from dataclasses import dataclass

import numpy

from fastnn import activations, losses, optimizers
from fastnn.models import Sequential

_BATCH_AUTO_MAX = 200   # batch_size="auto" is min(200, n_samples), as in scikit-learn


@dataclass(frozen=True)
class Settings:
    """The checked arguments of one estimator."""
    hidden_layer_sizes: tuple
    batch_size: object   # an int, or "auto"
    epochs: int
    learning_rate: float
    alpha: float
    tol: float
    n_iter_no_change: object   # an int, or None (never stop early)
    validation_fraction: float
    verbose: int
    dtype: object   # "float32", "float64", or None (fastnn.config.floatx())

    def batch_for(self, n_samples):
        """The batch size for `n_samples` training samples."""
        if self.batch_size == "auto":
            return max(1, min(_BATCH_AUTO_MAX, n_samples))
        return max(1, min(self.batch_size, n_samples))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _int(value, name, minimum, extra=""):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}{extra}; got {value!r}")
    return int(value)


def _real(value, name, expected, ok):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not ok(float(value)):
        raise ValueError(f"`{name}` must be {expected}; got {value!r}")
    return float(value)


def hidden_sizes(value):
    """`hidden_layer_sizes` as a tuple of unit counts (an int is one layer)."""
    sizes = (value,) if _is_int(value) else value
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(_is_int(units) and units >= 1 for units in sizes):
        raise ValueError(f"`hidden_layer_sizes` must be a tuple of ints >= 1 (units of each "
                         f"hidden layer), e.g. (100,); got {value!r}")
    return tuple(int(units) for units in sizes)


def _verbose(value):
    if not _is_int(value) or value not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0 (silent), 1 (a progress bar) or 2 (a line "
                         f"per epoch); got {value!r}")
    return int(value)


def _dtype(value):
    if value is None:
        return None
    try:
        name = numpy.dtype(value).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"`dtype` must be None (fastnn.config.floatx()), 'float32' or "
                         f"'float64'; got {value!r}")
    return name


def _batch_size(value):
    if isinstance(value, str) and value == "auto":
        return value
    return _int(value, "batch_size", 1, ' or "auto" (min(200, n_samples))')


def check(est):
    """The estimator's arguments checked (a ValueError or TypeError naming the argument)."""
    activations.get(est.activation)   # an unknown name raises, listing the valid ones
    optimizer(est)
    for name in ("shuffle", "early_stopping", "warm_start"):
        if not isinstance(getattr(est, name), (bool, numpy.bool_)):
            raise ValueError(f"`{name}` must be True or False; got {getattr(est, name)!r}")
    if est.model is not None and (not callable(est.model) or isinstance(est.model,
                                                                          Sequential)):
        # a model object would be trained in place, shared by every clone of the estimator
        raise TypeError(f"`model` must be a function returning a fastnn model, called at "
                        f"each fit (e.g. `def build(n_features_in_, n_outputs_): ...`), or "
                        f"None; got {type(est.model).__name__}")
    patience = est.n_iter_no_change
    return Settings(
        hidden_layer_sizes=hidden_sizes(est.hidden_layer_sizes),
        batch_size=_batch_size(est.batch_size),
        epochs=_int(est.epochs, "epochs", 1),
        learning_rate=_real(est.learning_rate, "learning_rate", "a number > 0",
                            lambda v: v > 0),
        alpha=_real(est.alpha, "alpha", "a number >= 0", lambda v: v >= 0),
        tol=_real(est.tol, "tol", "a number >= 0", lambda v: v >= 0),
        n_iter_no_change=None if patience is None else _int(patience, "n_iter_no_change", 1,
                                                            " or None"),
        validation_fraction=_real(est.validation_fraction, "validation_fraction",
                                  "a number in (0, 1)", lambda v: 0 < v < 1),
        verbose=_verbose(est.verbose),
        dtype=_dtype(est.dtype),
    )


def optimizer(est):
    """A fresh optimizer for one fit: the named one with `learning_rate`, or a copy of
    the optimizer object given (whose own learning rate applies)."""
    if isinstance(est.optimizer, optimizers.Optimizer):
        return optimizers.get(optimizers.serialize(est.optimizer))
    if not isinstance(est.optimizer, str):
        raise TypeError(f"`optimizer` must be an optimizer name (e.g. 'adam', 'sgd') or a "
                        f"fastnn.optimizers.Optimizer; got {type(est.optimizer).__name__}")
    cls = optimizers.REGISTRY.lookup(est.optimizer, "optimizer")
    return cls(learning_rate=_real(est.learning_rate, "learning_rate", "a number > 0",
                                   lambda v: v > 0))


def loss(name):
    """The loss named `name` (a ValueError listing the valid names otherwise)."""
    return losses.get(name)
