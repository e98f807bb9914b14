"""Class labels for MLPClassifier: the kinds of target it learns, `classes_`, and the
labels as the model's loss takes them."""
import warnings

import numpy
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target

# the kinds of classification target, as scikit-learn's type_of_target names them
KINDS = ("binary", "multiclass", "multilabel-indicator")


def labels(y):
    """`y` as 1-D labels or a 2-D label indicator (a column vector is raveled with
    scikit-learn's DataConversionWarning), and its kind (one of KINDS)."""
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples,), for example using ravel().",
                      DataConversionWarning, stacklevel=4)
        y = y.ravel()
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind not in KINDS:
        raise ValueError(f"`y` must hold class labels (binary or multiclass) or a multilabel "
                         f"0/1 indicator matrix; got a {kind!r} target")
    return y, kind


def classes_of(y, kind, classes):
    """`classes_` for a first fit: those given (partial_fit's `classes`), the labels of
    `y`, or the column numbers of a multilabel indicator."""
    if kind == "multilabel-indicator":
        found = numpy.arange(y.shape[1])
        if classes is not None and not numpy.array_equal(numpy.unique(classes), found):
            raise ValueError(f"`classes` must be the columns 0..{y.shape[1] - 1} of the "
                             f"multilabel indicator y; got {classes!r}")
        return found
    found = numpy.unique(y) if classes is None else numpy.unique(numpy.asarray(classes))
    if len(found) < 2:
        raise ValueError(f"`y` must hold at least 2 classes for a classifier; got 1 class: "
                         f"{found.tolist()}")
    return found


def kind_of(classes, kind):
    """The target type of the classifier with `classes`."""
    if kind == "multilabel-indicator":
        return kind
    return "binary" if len(classes) == 2 else "multiclass"


def check_known(y, kind, classes, target_type):
    """Refuse labels of a later partial_fit / warm-start fit that the first fit did not
    know (or a different kind of target)."""
    if (kind == "multilabel-indicator") != (target_type == "multilabel-indicator"):
        raise ValueError(f"`y` must be a {target_type} target as in the first fit; got a "
                         f"{kind} target")
    if target_type == "multilabel-indicator":
        if y.shape[1] != len(classes):
            raise ValueError(f"`y` must have {len(classes)} label columns as in the first "
                             f"fit; got {y.shape[1]}")
        return
    unseen = numpy.setdiff1d(numpy.unique(y), classes)
    if len(unseen):
        raise ValueError(f"`y` has classes {unseen.tolist()} not among classes_ "
                         f"{classes.tolist()} of the first fit")


def encode(y, classes, target_type, model):
    """`y` for `model`: 0/1 columns for a sigmoid output (binary with 1 unit, multilabel),
    class indices for a sparse loss over one unit per class, else one-hot rows."""
    n_units = model.output_shape[-1]
    if target_type == "multilabel-indicator":
        _check_units(n_units, (len(classes),), target_type)
        return y.astype(numpy.float64)
    index = numpy.searchsorted(classes, y)
    wanted = (1, 2) if target_type == "binary" else (len(classes),)
    _check_units(n_units, wanted, target_type)
    if n_units == 1:
        return index.astype(numpy.float64).reshape(-1, 1)
    if getattr(model.loss, "sparse", False):
        return index
    return numpy.eye(n_units)[index]


def _check_units(n_units, wanted, target_type):
    if n_units not in wanted:
        raise ValueError(f"`model` must return a model with {' or '.join(map(str, wanted))} "
                         f"output units for a {target_type} target; got {n_units}")


def probabilities(outputs):
    """(n_samples, n_classes) probabilities from the model's outputs (one sigmoid unit
    gives the two columns 1 - p, p)."""
    if outputs.shape[1] == 1:
        return numpy.hstack([1.0 - outputs, outputs])
    return outputs
