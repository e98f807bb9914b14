"""Metrics of confusion-matrix counts at thresholds, as Keras 3 computes them: the true
and false positives and negatives, precision, recall and the area under the ROC or
precision-recall curve.

A prediction is positive at threshold t when it is greater than t; a label is positive
when it is not 0. The counts are sample-weighted sums over the batches, in float64.
Thresholds evenly spread over [0, 1] (AUC's by default) are counted by buckets
ceil(y_pred * (n - 1)) - 1 of the predictions clipped to [0, 1], as Keras does.
"""
import numpy

from fastnn import _validation
from fastnn.metrics.base import Metric

EPSILON = 1e-7       # Keras' backend.epsilon(), around AUC's end thresholds
NEG_INF = -1e10      # what top_k leaves of the predictions outside the top k

__all__ = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
           "Precision", "Recall", "AUC"]


def divide_no_nan(a, b):
    """a / b, 0 where b is 0."""
    a, b = numpy.broadcast_arrays(numpy.asarray(a, float), numpy.asarray(b, float))
    return numpy.divide(a, b, out=numpy.zeros(a.shape), where=b != 0)


def parse_thresholds(thresholds, default):
    """The list of thresholds (`default` alone when None), each checked in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, numpy.ndarray)) \
        else [thresholds]
    for t in values:
        _validation.real(t, "thresholds", 0, 1)
    return [float(t) for t in values]


def evenly_distributed(thresholds):
    """Whether `thresholds` are i / (n - 1), i = 0..n-1, n >= 3 (Keras' test)."""
    n = len(thresholds)
    return n >= 3 and numpy.allclose(thresholds, numpy.arange(n) / (n - 1), atol=EPSILON)


def _filter_top_k(y_pred, k):
    """y_pred with all but the k highest values of each row set to NEG_INF (the lower
    index first among equal values)."""
    top = numpy.argsort(-y_pred, axis=-1, kind="stable")[:, :k]
    mask = numpy.zeros(y_pred.shape)
    numpy.put_along_axis(mask, top, 1.0, axis=-1)
    return y_pred * mask + NEG_INF * (1 - mask)


def _pairs(metric, y_true, y_pred, sample_weight):
    """(labels, predictions, weights) as float64 arrays of the predictions' 2-D shape."""
    y_pred, y_true, w = _validation.loss_arguments(y_true, y_pred, sample_weight)
    if y_true.size != y_pred.size:
        raise ValueError(f"`y_true` must have shape {y_pred.shape}, as `y_pred`, for "
                         f"metric {metric.name!r}; got shape {y_true.shape}")
    y_pred = y_pred.astype(numpy.float64)
    y_true = (y_true.reshape(y_pred.shape) != 0).astype(numpy.float64)
    w = numpy.ones(y_pred.shape) if w is None else numpy.broadcast_to(
        w.astype(numpy.float64)[:, None], y_pred.shape)
    return y_true, y_pred, w


def confusion_counts(y_true, y_pred, w, thresholds, evenly, multi_label=False):
    """{'tp', 'fp', 'tn', 'fn'}: weighted counts at each threshold, of shape
    (n_thresholds,), or (n_thresholds, n_labels) with `multi_label`."""
    if not multi_label:
        y_true, y_pred, w = y_true.reshape(-1, 1), y_pred.reshape(-1, 1), w.reshape(-1, 1)
    thresholds = numpy.asarray(thresholds, dtype=numpy.float64)
    n = len(thresholds)
    pos, neg = y_true * w, (1.0 - y_true) * w
    tp = numpy.zeros((n, y_pred.shape[1]))
    fp = numpy.zeros((n, y_pred.shape[1]))
    if evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        bucket = numpy.ceil(numpy.clip(y_pred, 0.0, 1.0) * (n - 1)) - 1
        if with_epsilon:
            bucket = numpy.maximum(bucket, 0)
        bucket = bucket.astype(numpy.int64)
        for j in range(y_pred.shape[1]):
            keep = bucket[:, j] >= 0
            for out, lab in ((tp, pos), (fp, neg)):
                counts = numpy.bincount(bucket[keep, j], lab[keep, j], minlength=n)
                out[:, j] = numpy.cumsum(counts[::-1])[::-1]
    else:
        for j in range(y_pred.shape[1]):
            order = numpy.argsort(y_pred[:, j], kind="stable")
            ranked = y_pred[order, j]
            at = numpy.searchsorted(ranked, thresholds, side="right")
            for out, lab in ((tp, pos), (fp, neg)):
                above = numpy.concatenate([numpy.cumsum(lab[order, j][::-1])[::-1], [0.0]])
                out[:, j] = above[at]
    tn = neg.sum(axis=0) - fp
    fn = pos.sum(axis=0) - tp
    counts = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    if not multi_label:
        counts = {k: v[:, 0] for k, v in counts.items()}
    return counts


class _Thresholded(Metric):
    """Counts at a list of thresholds, optionally of the top k predictions or one class."""

    additive = True
    _counts = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else _validation.positive_int(top_k, "top_k")
        self.class_id = None if class_id is None else _validation.integer(
            class_id, "class_id", minimum=0)
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = evenly_distributed(self.thresholds)
        if isinstance(thresholds, numpy.ndarray):
            self.init_thresholds = [float(t) for t in thresholds]
        super().__init__(name)

    def reset_state(self):
        self._state = {k: numpy.zeros(len(self.thresholds)) for k in self._counts}

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's weighted counts."""
        y_true, y_pred, w = _pairs(self, y_true, y_pred, sample_weight)
        if self.top_k is not None:
            y_pred = _filter_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            if self.class_id >= y_pred.shape[1]:
                raise ValueError(f"`class_id` must be below the {y_pred.shape[1]} outputs "
                                 f"for metric {self.name!r}; got {self.class_id}")
            c = slice(self.class_id, self.class_id + 1)
            y_true, y_pred, w = y_true[:, c], y_pred[:, c], w[:, c]
        counts = confusion_counts(y_true, y_pred, w, self.thresholds, self._evenly)
        for k in self._counts:
            self._state[k] += counts[k]

    def _scalar_or_list(self, values):
        return float(values[0]) if len(self.thresholds) == 1 else values

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds}


class _ConditionCount(_Thresholded):
    def __init__(self, thresholds=None, name=None):
        super().__init__(thresholds, name=name)

    def result(self):
        """The weighted count (an array of one per threshold for several)."""
        return self._scalar_or_list(self._state[self._counts[0]].copy())


class TruePositives(_ConditionCount):
    """The weighted count of positive labels predicted positive."""
    _counts = ("tp",)


class FalsePositives(_ConditionCount):
    """The weighted count of negative labels predicted positive."""
    _counts = ("fp",)


class TrueNegatives(_ConditionCount):
    """The weighted count of negative labels predicted negative."""
    _counts = ("tn",)


class FalseNegatives(_ConditionCount):
    """The weighted count of positive labels predicted negative."""
    _counts = ("fn",)


class Precision(_Thresholded):
    """tp / (tp + fp) at each threshold (0.5 by default); with `top_k`, only the k
    highest predictions of a sample can be positive; with `class_id`, of that output."""
    _counts = ("tp", "fp")

    def result(self):
        s = self._state
        return self._scalar_or_list(divide_no_nan(s["tp"], s["tp"] + s["fp"]))

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Recall(Precision):
    """tp / (tp + fn) at each threshold (0.5 by default); `top_k` and `class_id` as in
    Precision."""
    _counts = ("tp", "fn")

    def result(self):
        s = self._state
        return self._scalar_or_list(divide_no_nan(s["tp"], s["tp"] + s["fn"]))


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """The area under the ROC or precision-recall curve, by a Riemann sum over
    `num_thresholds` thresholds (Keras 3's AUC).

    Args:
        num_thresholds: thresholds evenly spread over [0, 1] (when `thresholds` is None),
            counting -epsilon and 1 + epsilon at the ends.
        curve: 'ROC', 'PR' or 'PRGAIN'.
        summation_method: 'interpolation' (trapezoids; for PR, Davis & Goadrich's
            interpolation), 'minoring' or 'majoring'.
        thresholds: explicit thresholds in [0, 1] instead (-epsilon and 1 + epsilon are
            added).
        multi_label: one curve per output, their AUCs averaged (weighted by
            `label_weights`), instead of one curve of all the outputs flattened.
        num_labels: the number of outputs with `multi_label` (else found on first use).
        label_weights: a weight per output.
        from_logits: apply a sigmoid to the predictions first.
    """

    additive = True

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_distributed(numpy.array([0.0] + inner + [1.0]))
        else:
            self.num_thresholds = _validation.integer(num_thresholds, "num_thresholds",
                                                      minimum=2)
            n = self.num_thresholds
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
            self._evenly = True
        self._thresholds = numpy.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        if not isinstance(curve, str) or curve.lower() not in _CURVES:
            raise ValueError(f"`curve` must be one of 'ROC', 'PR', 'PRGAIN'; got {curve!r}")
        self.curve = _CURVES[curve.lower()]
        if not isinstance(summation_method, str) or summation_method.lower() not in _SUMMATIONS:
            raise ValueError(f"`summation_method` must be one of {list(_SUMMATIONS)}; got "
                             f"{summation_method!r}")
        self.summation_method = summation_method.lower()
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = None if num_labels is None else _validation.positive_int(
            num_labels, "num_labels")
        self.label_weights = None if label_weights is None else \
            numpy.asarray(label_weights, dtype=numpy.float64).reshape(-1)
        self.from_logits = bool(from_logits)
        super().__init__(name)

    @property
    def thresholds(self):
        """The thresholds, with -epsilon and 1 + epsilon at the ends."""
        return list(self._thresholds)

    def reset_state(self):
        labels = self.num_labels if self.multi_label else None
        self._state = None if self.multi_label and labels is None else {
            k: numpy.zeros((self.num_thresholds,) + ((labels,) if labels else ()))
            for k in ("tp", "fp", "tn", "fn")}

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch's weighted counts at every threshold."""
        y_true, y_pred, w = _pairs(self, y_true, y_pred, sample_weight)
        if self.from_logits:
            y_pred = 0.5 * (1.0 + numpy.tanh(0.5 * y_pred))   # the sigmoid, stably
        if self.label_weights is not None and not self.multi_label:
            w = w * self.label_weights[None, :]
        counts = confusion_counts(y_true, y_pred, w, self._thresholds, self._evenly,
                                  self.multi_label)
        if self._state is None:
            self._state = {k: numpy.zeros_like(v) for k, v in counts.items()}
        for k, v in counts.items():
            self._state[k] += v

    def _per_label(self, terms):
        """The sum of `terms` over thresholds, averaged over labels with multi_label."""
        auc = terms.sum(axis=0)
        if not self.multi_label:
            return float(auc)
        if self.label_weights is None:
            return float(auc.mean())
        return float(divide_no_nan((auc * self.label_weights).sum(), self.label_weights.sum()))

    def _interpolate_pr_auc(self):
        s = self._state
        tp, p = s["tp"], s["tp"] + s["fp"]
        dtp = tp[:-1] - tp[1:]
        prec_slope = divide_no_nan(dtp, numpy.maximum(p[:-1] - p[1:], 0))
        intercept = tp[1:] - prec_slope * p[1:]
        ratio = numpy.where((p[:-1] > 0) & (p[1:] > 0),
                            divide_no_nan(p[:-1], numpy.maximum(p[1:], 0)), 1.0)
        return divide_no_nan(prec_slope * (dtp + intercept * numpy.log(ratio)),
                             numpy.maximum(tp[1:] + s["fn"][1:], 0))

    def result(self):
        """The area (0 before any update)."""
        if self._state is None:
            return 0.0
        s = self._state
        tp, fp, tn, fn = s["tp"], s["fp"], s["tn"], s["fn"]
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._per_label(self._interpolate_pr_auc())
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), divide_no_nan(tp, tp + fn)
        elif self.curve == "PR":
            x, y = divide_no_nan(tp, tp + fn), divide_no_nan(tp, tp + fp)
        else:
            scale = divide_no_nan(tp + fn, tn + fp)
            x = numpy.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
            y = numpy.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
            x = numpy.maximum(x, 0.0)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = numpy.minimum(y[:-1], y[1:])
        else:
            heights = numpy.maximum(y[:-1], y[1:])
        return self._per_label((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {"name": self.name, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None
                  else self.label_weights.tolist(),
                  "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
