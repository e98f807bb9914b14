"""The stateful Keras 3 metrics (confusion counts, Precision, Recall, AUC, F-scores, R2,
cross-entropies, function metrics) against Keras 3's own values (tests/golden/
metrics3.npz, written by tests/golden/make_keras_metric_goldens.py), and in training."""
import json
import os

import numpy as np
import pytest

import fastnn
from fastnn import metrics

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "metrics3.npz"))
CASES = json.loads(str(GOLDEN["cases"]))
COUNTS = ("TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives")


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_matches_keras3_over_batches(case, weighted):
    spec = CASES[case]
    metric = getattr(metrics, spec["class"])(**spec["config"])
    want = GOLDEN[f"{case}/{'w_result' if weighted else 'result'}"]
    for i in range(spec["batches"]):
        yt, yp = GOLDEN[f"{case}/y_true{i}"], GOLDEN[f"{case}/y_pred{i}"]
        w = GOLDEN[f"{case}/w{i}"] if weighted else None
        metric.update_state(yt, yp, sample_weight=w)
        got = np.atleast_1d(np.asarray(metric.result(), np.float64))
        if spec["class"] in COUNTS and not weighted:
            np.testing.assert_array_equal(got, want[i], err_msg=f"batch {i}")
        else:
            np.testing.assert_allclose(got, want[i], rtol=1e-6, atol=1e-9,
                                       err_msg=f"batch {i}")
    metric.reset_state()
    assert np.all(np.asarray(metric.result()) == 0)


def test_names_and_keras_defaults():
    assert metrics.AUC().name == "auc" and metrics.AUC().num_thresholds == 200
    assert metrics.FBetaScore().name == "fbeta_score" and metrics.F1Score().name == "f1_score"
    assert metrics.R2Score().name == "r2_score"
    assert metrics.TruePositives().name == "true_positives"
    for ident, cls in (("auc", metrics.AUC), ("AUC", metrics.AUC),
                       ("precision", metrics.Precision), ("recall", metrics.Recall),
                       ("f1_score", metrics.F1Score), ("r2_score", metrics.R2Score),
                       ("true_negatives", metrics.TrueNegatives),
                       ("binary_crossentropy", metrics.BinaryCrossentropy),
                       ("categorical_crossentropy", metrics.CategoricalCrossentropy),
                       ("sparse_categorical_crossentropy",
                        metrics.SparseCategoricalCrossentropy)):
        m = metrics.get(ident)
        assert type(m) is cls and m.name == ident   # Keras names it by the string


def test_config_round_trips():
    for m in (metrics.AUC(curve="PR", thresholds=[0.2, 0.6], multi_label=True,
                          label_weights=[1.0, 2.0], from_logits=True, name="pr"),
              metrics.Precision(thresholds=[0.3, 0.7], top_k=2, class_id=1),
              metrics.Recall(), metrics.FalsePositives(thresholds=0.4),
              metrics.F1Score(average="macro", threshold=0.5),
              metrics.FBetaScore(beta=2.0), metrics.R2Score(class_aggregation=None),
              metrics.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)):
        again = metrics.get(json.loads(json.dumps(metrics.serialize(m))))
        assert type(again) is type(m) and again.get_config() == m.get_config()


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError):
        metrics.AUC(summation_method="simpson")
    with pytest.raises(ValueError):
        metrics.F1Score(average="samples")
    with pytest.raises((ValueError, TypeError)):
        metrics.Precision(thresholds=[1.5])
    with pytest.raises(ValueError):
        metrics.R2Score(class_aggregation="median")


def test_function_metric_is_a_mean_named_after_the_function():
    def abs_diff(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)

    m = metrics.get(abs_diff)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "abs_diff"
    m.update_state(np.zeros((2, 1)), np.array([[1.0], [3.0]]))
    m.update_state(np.zeros((1, 1)), np.array([[5.0]]), sample_weight=np.array([2.0]))
    assert m.result() == pytest.approx((1 + 3 + 10) / 4)


def test_state_metrics_take_runs_and_custom_update_state_does_not():
    class Custom(metrics.Metric):
        def update_state(self, y_true, y_pred, sample_weight=None):
            pass

    assert metrics.sums_over_samples(metrics.AUC())
    assert metrics.sums_over_samples(metrics.BinaryAccuracy())
    assert not metrics.sums_over_samples(Custom())
    assert not metrics.sums_over_samples(metrics.get(lambda t, p: p))


def _binary_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    return x, y


def _model(outputs=1, activation="sigmoid", seed=1):
    fastnn.utils.set_random_seed(seed)
    return fastnn.Sequential([fastnn.layers.Input((5,)),
                              fastnn.layers.Dense(8, activation="relu"),
                              fastnn.layers.Dense(outputs, activation=activation)])


def test_fit_logs_match_the_metrics_on_the_epochs_outputs(tmp_path):
    x, y = _binary_data()
    w = np.linspace(0.5, 1.5, len(x))

    def sq(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean(axis=-1)

    model = _model()
    model.compile("adam", "binary_crossentropy",
                  metrics=["auc", "precision", metrics.Recall(thresholds=[0.3, 0.7]),
                           metrics.AUC(curve="PR", name="pr_auc"), "binary_crossentropy",
                           metrics.F1Score(threshold=0.5), sq],
                  weighted_metrics=["auc", metrics.TruePositives()])
    hist = model.fit(x, y, sample_weight=w, epochs=3, batch_size=64, verbose=0)
    for key in ("auc", "precision", "recall", "pr_auc", "binary_crossentropy", "f1_score",
                "sq", "weighted_auc", "true_positives"):
        assert len(hist.history[key]) == 3, key
    assert 0 <= hist.history["auc"][-1] <= 1
    assert hist.history["true_positives"][-1] > 0
    # evaluate computes the same metrics over the whole set, from scratch
    logs = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    for name, m in (("auc", metrics.AUC()), ("binary_crossentropy",
                                             metrics.BinaryCrossentropy())):
        m.update_state(y, p)
        assert logs[name] == pytest.approx(m.result(), rel=1e-6, abs=1e-9), name
    m = metrics.AUC()
    m.update_state(y, p, sample_weight=w)
    assert logs["weighted_auc"] == pytest.approx(m.result(), rel=1e-6)
    np.testing.assert_allclose(logs["recall"], _recall(y, p, [0.3, 0.7]), rtol=1e-6)
    # a function metric cannot be read back from a file: compile=False loads the rest
    path = tmp_path / "f.keras"
    model.save(path)
    with pytest.raises(ValueError, match="'sq'"):
        fastnn.models.load_model(path)
    assert fastnn.models.load_model(path, compile=False).get_compile_config() is None
    # saving keeps the other metrics, by name or class and config
    model.compile("adam", "binary_crossentropy",
                  metrics=["auc", "precision", metrics.Recall(thresholds=[0.3, 0.7])],
                  weighted_metrics=["auc", metrics.TruePositives()])
    path = tmp_path / "m.keras"
    model.save(path)
    again = fastnn.models.load_model(path)
    cfg = again.get_compile_config()
    assert cfg == json.loads(json.dumps(model.get_compile_config()))
    assert cfg["metrics"][:2] == ["auc", "precision"]
    assert cfg["metrics"][2] == {"class_name": "Recall", "config": {
        "name": "recall", "thresholds": [0.3, 0.7], "top_k": None, "class_id": None}}
    got = again.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    want = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)


def _recall(y, p, thresholds):
    m = metrics.Recall(thresholds=thresholds)
    m.update_state(y, p)
    return m.result()


def test_fit_with_state_metrics_trains_as_without():
    x, y = _binary_data()
    plain = _model()
    plain.compile("adam", "binary_crossentropy")
    h0 = plain.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    withm = _model()
    withm.compile("adam", "binary_crossentropy", metrics=["auc", "recall", "f1_score"])
    h1 = withm.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    np.testing.assert_allclose(h0.history["loss"], h1.history["loss"], rtol=1e-6)
    for a, b in zip(plain.get_weights(), withm.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_multiclass_fit_with_f1_r2_and_sparse_crossentropy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5)).astype("float32")
    labels = np.argmax(x[:, :3], axis=1)
    model = _model(3, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_crossentropy",
                           metrics.SparseCategoricalCrossentropy(name="scce2")])
    hist = model.fit(x, labels, epochs=2, verbose=0)
    np.testing.assert_allclose(hist.history["sparse_categorical_crossentropy"],
                               hist.history["scce2"])
    onehot = np.eye(3, dtype="float32")[labels]
    model = _model(3, "softmax")
    model.compile("adam", "categorical_crossentropy",
                  metrics=[metrics.F1Score(average="macro"), "auc",
                           metrics.Precision(top_k=1)])
    hist = model.fit(x, onehot, epochs=2, verbose=0, validation_split=0.2)
    assert 0 <= hist.history["val_f1_score"][-1] <= 1
    reg = _model(2, None)
    reg.compile("adam", "mse", metrics=["r2_score", metrics.R2Score(class_aggregation=None)])
    hist = reg.fit(x, x[:, :2] * 2, epochs=2, verbose=0)
    assert np.isfinite(hist.history["r2_score"]).all()
