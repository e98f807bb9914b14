"""Utilities named as in ``keras.utils``."""
import numpy

from fastnn import _random

__all__ = ["set_random_seed", "to_categorical"]


def set_random_seed(seed):
    """Make everything random in fastnn repeat: weight initialisation, shuffling, dropout
    masks and validation splits (and NumPy's and Python's global generators, as Keras does).

    Args:
        seed: a non-negative int.

    Example:
        >>> import fastnn
        >>> fastnn.utils.set_random_seed(42)
    """
    from fastnn import _validation
    if not _validation.is_int(seed) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int; got {seed!r}")
    _random.set_global_seed(int(seed))


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels.

    Args:
        x: array-like of non-negative integer labels, any shape.
        num_classes: the number of classes; defaults to max(x) + 1.

    Returns:
        A float32 array of shape x.shape + (num_classes,).

    Example:
        >>> fastnn.utils.to_categorical([0, 2], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    x = numpy.asarray(x)
    if x.size and (not numpy.issubdtype(x.dtype, numpy.number)
                   or numpy.any(x != numpy.round(x)) or x.min() < 0):
        raise ValueError(f"`x` must hold non-negative integer labels; got {x.dtype} values")
    labels = x.astype(numpy.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"`num_classes` must exceed the largest label {labels.max()}; "
                         f"got {num_classes}")
    out = numpy.zeros(labels.shape + (num_classes,), dtype=numpy.float32)
    numpy.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out
