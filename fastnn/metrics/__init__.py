"""Metrics, by Keras name and class: values accumulated over the batches of an epoch.

Running means of per-sample values (accuracies, errors, cross-entropies, any function
`fn(y_true, y_pred)` through MeanMetricWrapper), confusion-matrix counts at thresholds
(TruePositives ... FalseNegatives, Precision, Recall, AUC) and scores combined from
sums (F1Score, FBetaScore, R2Score), each as Keras 3 defines it.
"""
import copy

from fastnn._registry import Registry
from fastnn.metrics.base import (Metric, Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                 SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                                 SparseTopKCategoricalAccuracy, MeanSquaredError,
                                 MeanAbsoluteError, snake_case)
from fastnn.metrics.confusion import (TruePositives, FalsePositives, TrueNegatives,
                                      FalseNegatives, Precision, Recall, AUC)
from fastnn.metrics.scores import (FBetaScore, F1Score, R2Score, MeanMetricWrapper,
                                   BinaryCrossentropy, CategoricalCrossentropy,
                                   SparseCategoricalCrossentropy, binary_crossentropy,
                                   categorical_crossentropy, sparse_categorical_crossentropy)

__all__ = ["Metric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
           "Precision", "Recall", "AUC", "FBetaScore", "F1Score", "R2Score",
           "MeanMetricWrapper", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get",
           "resolve", "serialize", "log_names", "sums_over_samples", "save_states",
           "restore_states"]

_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "accuracy": Accuracy, "acc": Accuracy, "bce": BinaryCrossentropy,
    "fbeta_score": FBetaScore,
}
# as Keras: every class by its name and its snake-case name ("AUC", "auc", "f1_score")
_NAMES.update({key: cls for cls in (
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC,
    FBetaScore, F1Score, R2Score, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy) for key in (cls.__name__, snake_case(cls.__name__))})
REGISTRY = Registry("metric", "metrics", _NAMES, base=Metric,
                    classes=[c for c in set(_NAMES.values())] + [MeanMetricWrapper])
_KEEP_DEFAULT_NAME = {"mse", "mae"}   # lower-cased, as before; other strings name the metric


def get(identifier):
    """The metric named `identifier` (a Keras name; the metric takes that name, as in
    Keras' compile), serialized as {'class_name': ..., 'config': ...}, a function
    `fn(y_true, y_pred)` of per-sample values (a MeanMetricWrapper named after it), or
    `identifier` itself if it already is a Metric."""
    if callable(identifier) and not isinstance(identifier, (type, Metric)):
        return MeanMetricWrapper(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    metric = REGISTRY.get(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _KEEP_DEFAULT_NAME:
            metric.name = key
        elif REGISTRY.lookup(identifier) not in _SNAKE_DEFAULT:
            metric.name = identifier
    return metric


# classes whose names keep their default (the names fastnn gave before Keras' rule)
_SNAKE_DEFAULT = {BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                  TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Accuracy,
                  MeanSquaredError, MeanAbsoluteError}


def serialize(metric):
    """{'class_name': ..., 'config': ...} of a metric."""
    return REGISTRY.serialize(metric)


def sums_over_samples(metric):
    """Whether `metric.update_state` only adds sums over samples, so that the outputs of
    several batches may be added at once: the class that defines update_state says so
    (`additive = True` in its own body; the base class's does)."""
    for cls in type(metric).__mro__:
        if "update_state" in cls.__dict__:
            return cls is Metric or cls.__dict__.get("additive", False) is True
    return False


def resolve(identifier, loss, n_outputs, sparse_labels):
    """`get`, with "accuracy"/"acc" resolved from the shapes as Keras 3 does (the loss
    plays no part, unlike Keras 2): binary for one output, sparse categorical for
    integer labels, categorical otherwise. The metric keeps the name the user gave."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        name = identifier.lower()
        if n_outputs == 1:
            return BinaryAccuracy(name=name)
        if sparse_labels:
            return SparseCategoricalAccuracy(name=name)
        return CategoricalAccuracy(name=name)
    return get(identifier)


def log_names(metrics, weighted_metrics):
    """The log keys of compiled `metrics` then `weighted_metrics`, as Keras 3 names them:
    each metric's name; a repeated plain name gets '_1', '_2', ...; a weighted metric
    whose name is taken becomes 'weighted_<name>' (then numbered if that is taken too)."""
    seen, names = {}, []
    for metric in metrics:
        name = metric.name
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name] - 1}"
        else:
            seen[name] = 1
        names.append(name)
    for metric in weighted_metrics:
        name = metric.name
        if name in seen:
            name = "weighted_" + name
            if name in seen:
                seen[name] += 1
                name = f"{name}_{seen[name] - 1}"
        seen.setdefault(name, 1)
        names.append(name)
    return names


def save_states(metrics):
    """A copy of each metric's running state, for `restore_states` (evaluate inside fit
    keeps the training metrics' state)."""
    return [copy.deepcopy(vars(m)) for m in metrics]


def restore_states(metrics, saved):
    """Put back the states `save_states` copied."""
    for m, state in zip(metrics, saved):
        vars(m).clear()
        vars(m).update(state)
