"""Argument handling for fit / evaluate / predict that does not need the model:
verbosity, the validation split, class weights and the shuffling order."""
import numbers
import warnings

import numpy

from fastnn import _validation


def check_verbose(verbose):
    """`verbose` as 0, 1 or 2 ('auto' is 1, as in Keras)."""
    if verbose == "auto":
        return 1
    if not isinstance(verbose, numbers.Integral) or verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2; got {verbose!r}")
    return int(verbose)


def class_labels(y):
    """Integer class labels of prepared targets: sparse labels, one-hot rows (argmax) or
    a single probability column (rounded)."""
    if y.ndim == 1:
        return y.astype(numpy.int64)
    if y.shape[1] > 1:
        return y.argmax(axis=1)
    return (y[:, 0] > 0.5).astype(numpy.int64)


def split_validation(x, y, w, validation_split, is_classifier):
    """Keras' split: the last `validation_split` of the samples, taken before any
    shuffling, become the validation data. Returns ((x, y, w) train, (x, y, w) val)."""
    n = len(x)
    n_train = int(numpy.floor(n * (1.0 - validation_split)))
    if n_train == 0 or n_train == n:
        raise ValueError(f"`validation_split` must leave samples for both training and "
                         f"validation; got {validation_split} of {n} samples "
                         f"({n_train} for training, {n - n_train} for validation)")
    if is_classifier:
        found = numpy.unique(class_labels(y[n_train:]))
        if len(found) == 1 and n - n_train > 1:
            warnings.warn(f"`validation_split`={validation_split} takes the last "
                          f"{n - n_train} samples, before shuffling, as Keras does, and they "
                          f"all have class {found[0]}; shuffle the data first or pass "
                          f"`validation_data`", UserWarning, stacklevel=3)
    train = (x[:n_train], y[:n_train], None if w is None else w[:n_train])
    val = (x[n_train:], y[n_train:], None if w is None else w[n_train:])
    return train, val


def apply_class_weight(class_weight, y, w, dtype):
    """Sample weights multiplied by each sample's class weight."""
    if class_weight is None:
        return w
    if w is not None:
        raise ValueError("`class_weight` and `sample_weight` cannot be given together (as "
                         "in Keras 3): multiply each sample's class weight into "
                         "`sample_weight` instead")
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict {{class index: weight}}; got "
                         f"{type(class_weight).__name__}")
    labels = class_labels(y)
    cw = numpy.ones(len(y), dtype=dtype)
    for cls, weight in class_weight.items():
        cls = _validation.integer(cls, "class_weight key")
        weight = _validation.real(weight, f"class_weight[{cls}]", minimum=0)
        cw[labels == int(cls)] = weight
    return cw


def epoch_order(fit_seed, epoch, n_samples):
    """The sample order of epoch `epoch`: a permutation that depends only on the fit's
    seed and the epoch number, so a run resumed at `initial_epoch` shuffles as an
    uninterrupted one."""
    rng = numpy.random.Generator(numpy.random.Philox([fit_seed, epoch]))
    return rng.permutation(n_samples)
