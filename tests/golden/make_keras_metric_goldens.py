"""Write the Keras 3 golden values of the stateful metrics (confusion-matrix counts,
Precision, Recall, AUC, F-scores, R2, the cross-entropy metrics) that
tests/test_metrics_keras3.py compares fastnn with.

Run by hand, as make_keras_goldens.py (whose float64 set-up and checks it reuses):

    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_metric_goldens.py

It rewrites tests/golden/metrics3.npz. Per case, `cases` (JSON) holds the metric's
class and constructor arguments and its number of batches; `<case>/y_true<i>`,
`<case>/y_pred<i>` and `<case>/w<i>` the batches fed to update_state; `<case>/result`
and `<case>/w_result` the result() after each batch (a row per batch), without and
with the sample weights.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_keras_goldens as base  # noqa: E402  (float64 Keras, META, save)
import keras  # noqa: E402
import numpy as np  # noqa: E402


def _probs(rng, n, k, decimals=None):
    p = rng.random((n, k))
    return p if decimals is None else np.round(p, decimals)


def _softmax(rng, n, k):
    z = rng.standard_normal((n, k)) * 2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _batches(rng, kind, sizes=(37, 50, 23), k=1):
    """[(y_true, y_pred, sample_weight)] for a kind of problem."""
    out = []
    for n in sizes:
        w = rng.random(n) * 2
        w[rng.random(n) < 0.15] = 0.0
        if kind == "binary":          # probabilities with ties (3 decimals)
            yt = (rng.random((n, k)) < 0.4).astype(float)
            yp = _probs(rng, n, k, 3)
        elif kind == "grid":          # predictions exactly on AUC's thresholds, and ties
            yt = (rng.random((n, k)) < 0.5).astype(float)
            yp = rng.integers(0, 200, (n, k)) / 199.0
            yp[: n // 4] = 0.5
        elif kind == "logits":
            yt = (rng.random((n, k)) < 0.5).astype(float)
            yp = rng.standard_normal((n, k)) * 3
        elif kind == "ones" or kind == "zeros":
            yt = np.full((n, k), 1.0 if kind == "ones" else 0.0)
            yp = _probs(rng, n, k, 2)
        elif kind == "onehot":        # softmax rows, one-hot labels
            yp = _softmax(rng, n, k)
            yt = np.eye(k)[rng.integers(0, k, n)]
        elif kind == "sparse":
            yp = _softmax(rng, n, k)
            yt = rng.integers(0, k, n).astype(float)
        elif kind == "sparse_logits":
            yp = rng.standard_normal((n, k)) * 2
            yt = rng.integers(0, k, n).astype(float)
        elif kind == "onehot_logits":
            yp = rng.standard_normal((n, k)) * 2
            yt = np.eye(k)[rng.integers(0, k, n)]
        elif kind == "multilabel":
            yt = (rng.random((n, k)) < 0.4).astype(float)
            yp = _probs(rng, n, k, 2)
        elif kind == "regression":
            yt = rng.standard_normal((n, k)) * 2 + 1
            yp = yt + rng.standard_normal((n, k)) * 0.7
        else:
            raise ValueError(kind)
        out.append((yt, yp, w))
    return out


CASES = [
    # name, class, config, kind, outputs
    ("auc_roc", "AUC", {}, "binary", 1),
    ("auc_pr", "AUC", {"curve": "PR"}, "binary", 1),
    ("auc_roc_grid", "AUC", {}, "grid", 1),
    ("auc_pr_grid", "AUC", {"curve": "PR"}, "grid", 1),
    ("auc_logits", "AUC", {"from_logits": True}, "logits", 1),
    ("auc_roc_minoring", "AUC", {"summation_method": "minoring"}, "binary", 1),
    ("auc_pr_majoring", "AUC", {"curve": "PR", "summation_method": "majoring"}, "binary", 1),
    ("auc_prgain", "AUC", {"curve": "PRGAIN"}, "binary", 1),
    ("auc_11", "AUC", {"num_thresholds": 11}, "binary", 1),
    ("auc_thresholds", "AUC", {"thresholds": [0.1, 0.35, 0.5, 0.9]}, "binary", 1),
    ("auc_thresholds_even", "AUC", {"thresholds": [0.25, 0.5, 0.75]}, "grid", 1),
    ("auc_all_positive", "AUC", {}, "ones", 1),
    ("auc_all_negative", "AUC", {"curve": "PR"}, "zeros", 1),
    ("auc_flat", "AUC", {}, "multilabel", 3),
    ("auc_flat_label_weights", "AUC", {"label_weights": [1.0, 2.0, 0.5]}, "multilabel", 3),
    ("auc_multi_label", "AUC", {"multi_label": True}, "multilabel", 3),
    ("auc_multi_label_pr", "AUC", {"multi_label": True, "curve": "PR",
                                   "label_weights": [1.0, 2.0, 0.5]}, "multilabel", 3),
    ("precision", "Precision", {}, "binary", 1),
    ("recall", "Recall", {}, "binary", 1),
    ("precision_grid", "Precision", {}, "grid", 1),
    ("precision_thresholds", "Precision", {"thresholds": [0.3, 0.5, 0.7]}, "binary", 1),
    ("recall_thresholds_even", "Recall", {"thresholds": [0.0, 0.5, 1.0]}, "grid", 1),
    ("precision_top_k", "Precision", {"top_k": 2}, "onehot", 4),
    ("recall_top_k", "Recall", {"top_k": 2}, "onehot", 4),
    ("precision_class_id", "Precision", {"class_id": 1}, "multilabel", 3),
    ("recall_class_id_top_k", "Recall", {"class_id": 2, "top_k": 1}, "onehot", 4),
    ("precision_all_negative", "Precision", {}, "zeros", 1),
    ("recall_all_negative", "Recall", {}, "zeros", 1),
    ("true_positives", "TruePositives", {}, "binary", 1),
    ("false_positives", "FalsePositives", {}, "binary", 1),
    ("true_negatives", "TrueNegatives", {}, "binary", 1),
    ("false_negatives", "FalseNegatives", {}, "binary", 1),
    ("true_positives_grid", "TruePositives", {"thresholds": [0.0, 0.5, 1.0]}, "grid", 1),
    ("false_negatives_thresholds", "FalseNegatives", {"thresholds": [0.2, 0.5, 0.8]},
     "multilabel", 3),
    ("true_negatives_grid", "TrueNegatives", {"thresholds": [0.5]}, "grid", 1),
    ("f1_none", "F1Score", {}, "onehot", 4),
    ("f1_micro", "F1Score", {"average": "micro"}, "onehot", 4),
    ("f1_macro", "F1Score", {"average": "macro"}, "onehot", 4),
    ("f1_weighted", "F1Score", {"average": "weighted"}, "onehot", 4),
    ("f1_threshold", "F1Score", {"average": "macro", "threshold": 0.5}, "multilabel", 3),
    ("f1_binary", "F1Score", {"threshold": 0.5}, "binary", 1),
    ("fbeta_macro", "FBetaScore", {"average": "macro", "beta": 2.0}, "onehot", 4),
    ("fbeta_micro", "FBetaScore", {"average": "micro", "beta": 0.5, "threshold": 0.3},
     "multilabel", 3),
    ("r2", "R2Score", {}, "regression", 3),
    ("r2_one", "R2Score", {}, "regression", 1),
    ("r2_variance", "R2Score", {"class_aggregation": "variance_weighted_average"},
     "regression", 3),
    ("r2_none", "R2Score", {"class_aggregation": None}, "regression", 3),
    ("r2_adjusted", "R2Score", {"num_regressors": 2}, "regression", 1),
    ("bce", "BinaryCrossentropy", {}, "binary", 1),
    ("bce_multi", "BinaryCrossentropy", {}, "multilabel", 3),
    ("bce_logits", "BinaryCrossentropy", {"from_logits": True}, "logits", 2),
    ("bce_smoothing", "BinaryCrossentropy", {"label_smoothing": 0.1}, "binary", 1),
    ("cce", "CategoricalCrossentropy", {}, "onehot", 4),
    ("cce_logits", "CategoricalCrossentropy", {"from_logits": True}, "onehot_logits", 4),
    ("cce_smoothing", "CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot", 4),
    ("scce", "SparseCategoricalCrossentropy", {}, "sparse", 4),
    ("scce_logits", "SparseCategoricalCrossentropy", {"from_logits": True},
     "sparse_logits", 4),
    ("scce_ignore", "SparseCategoricalCrossentropy", {"ignore_class": 2}, "sparse", 4),
]


def metric_goldens():
    base.floatx("float64")
    rng = np.random.default_rng(3)
    data, cases = {}, {}
    for name, cls, config, kind, k in CASES:
        batches = _batches(rng, kind, k=k)
        results = {"result": [], "w_result": []}
        for key, weighted in (("result", False), ("w_result", True)):
            metric = getattr(keras.metrics, cls)(**config)
            for yt, yp, w in batches:
                if kind.startswith("sparse"):
                    yt = yt.astype(np.int64)
                metric.update_state(yt, yp, sample_weight=w if weighted else None)
                results[key].append(np.atleast_1d(np.asarray(metric.result(), np.float64)))
        for i, (yt, yp, w) in enumerate(batches):
            data[f"{name}/y_true{i}"], data[f"{name}/y_pred{i}"] = yt, yp
            data[f"{name}/w{i}"] = w
        for key, rows in results.items():
            data[f"{name}/{key}"] = np.stack(rows)
        cases[name] = {"class": cls, "config": config, "batches": len(batches)}
    data["cases"] = np.array(json.dumps(cases))
    base.save("metrics3.npz", data)


def main():
    base.check_float64()
    metric_goldens()


if __name__ == "__main__":
    main()
