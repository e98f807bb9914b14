"""Tests of fastnn.explain (attributions) and fastnn.callbacks.TrainingMonitor (training
statistics)."""
import numpy as np
import pytest

import fastnn
from fastnn import explain
from fastnn.backend import available_backends
from fastnn.layers import Dense, Dropout, Flatten
from fastnn.models import Sequential
from fastnn.callbacks import TrainingMonitor

BACKENDS = available_backends()
needs_cpu = pytest.mark.skipif("cpu" not in BACKENDS, reason="compiled kernels missing")


def _mlp(n_in=5, hidden=7, n_out=3, activation="tanh", out_activation="softmax", seed=0):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(hidden, activation=activation, input_shape=(n_in,)),
                        Dropout(0.3), Dense(n_out, activation=out_activation)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _finite_differences(model, x, target, eps=1e-6):
    grad = np.zeros_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, j] = eps
        up = model.predict(x + step, verbose=0)[np.arange(len(x)), target]
        down = model.predict(x - step, verbose=0)[np.arange(len(x)), target]
        grad[:, j] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("backend", ["reference", pytest.param("cpu", marks=needs_cpu)])
@pytest.mark.parametrize("activation", ["tanh", "gelu", "sigmoid"])
def test_saliency_is_the_finite_difference_gradient(backend, activation, floatx64):
    with fastnn.use_backend(backend):
        model = _mlp(activation=activation)
        x = np.random.default_rng(1).normal(size=(6, 5))
        target = np.array([0, 1, 2, 0, 1, 2])
        got = explain.saliency(model, x, target=target)
        np.testing.assert_allclose(got, _finite_differences(model, x, target),
                                   rtol=1e-6, atol=1e-9)
        # default target: the predicted class
        predicted = model.predict(x, verbose=0).argmax(axis=1)
        np.testing.assert_allclose(explain.saliency(model, x),
                                   _finite_differences(model, x, predicted), atol=1e-8)


def test_saliency_of_a_single_output_model_is_its_gradient(floatx64):
    model = _mlp(n_out=1, out_activation="sigmoid")
    x = np.random.default_rng(2).normal(size=(4, 5))
    got = explain.saliency(model, x)
    np.testing.assert_allclose(got, _finite_differences(model, x, np.zeros(4, int)),
                               atol=1e-8)
    one = explain.saliency(model, x[1])  # one sample in, one attribution out
    assert one.shape == (5,)
    np.testing.assert_allclose(one, got[1])


def test_gradient_x_input_is_input_times_gradient(floatx64):
    model = _mlp()
    x = np.random.default_rng(3).normal(size=(5, 5))
    np.testing.assert_allclose(explain.gradient_x_input(model, x, target=2),
                               x * explain.saliency(model, x, target=2))


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle", "trapezoid"])
def test_integrated_gradients_are_complete_for_a_smooth_model(method):
    model = _mlp(n_in=20, hidden=32, n_out=4, activation="tanh", seed=4)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 20)).astype("float32")
    baseline = rng.normal(scale=0.1, size=20).astype("float32")
    attr, delta = explain.integrated_gradients(model, x, target=1, baseline=baseline,
                                               method=method, return_delta=True)
    out = lambda a: model.predict(a, verbose=0)[:, 1]
    change = out(x) - out(np.broadcast_to(baseline, x.shape))
    np.testing.assert_allclose(attr.sum(axis=1), change, rtol=0.01, atol=2e-5)
    np.testing.assert_allclose(delta, attr.sum(axis=1) - change, atol=1e-5)


def test_integrated_gradients_are_complete_for_a_trained_relu_model(one_feature_task):
    # ReLU kinks on the path make the quadrature error O(1 / steps): without refinement
    # 50 points miss by more than 1% on some samples, with it none do
    model, x, _ = one_feature_task
    change = model.predict(x[:100], verbose=0)[:, 0] - model.predict(np.zeros((1, 6)),
                                                                     verbose=0)[0, 0]
    fixed = explain.integrated_gradients(model, x[:100], tolerance=None)
    assert (np.abs(fixed.sum(axis=1) - change) > 0.01 * np.abs(change) + 2e-5).any()
    attr = explain.integrated_gradients(model, x[:100])
    np.testing.assert_allclose(attr.sum(axis=1), change, rtol=0.01, atol=2e-5)


def test_integrated_gradients_of_a_linear_model_are_exact(floatx64):
    model = Sequential([Dense(2, input_shape=(4,))])
    w = np.arange(8.0).reshape(4, 2) - 3
    model.set_weights([w, np.array([0.5, -1.0])])
    x = np.random.default_rng(5).normal(size=(3, 4))
    attr = explain.integrated_gradients(model, x, target=1, baseline=1.0, steps=3,
                                        tolerance=None)
    np.testing.assert_allclose(attr, (x - 1.0) * w[:, 1], rtol=1e-12)


def test_smoothgrad_without_noise_is_saliency_and_is_seeded(floatx64):
    model = _mlp()
    x = np.random.default_rng(6).normal(size=(4, 5))
    np.testing.assert_allclose(explain.smoothgrad(model, x, n_samples=3, noise=0.0),
                               explain.saliency(model, x))
    a = explain.smoothgrad(model, x, n_samples=10, noise=0.2, seed=7)
    np.testing.assert_array_equal(a, explain.smoothgrad(model, x, n_samples=10, noise=0.2,
                                                        seed=7))
    assert not np.allclose(a, explain.saliency(model, x))


def test_occlusion_of_a_linear_model_is_weight_times_change(floatx64):
    model = Sequential([Dense(1, input_shape=(6,))])
    w = np.array([[1.0], [-2.0], [0.0], [3.0], [0.5], [0.0]])
    model.set_weights([w, np.zeros(1)])
    x = np.random.default_rng(8).normal(size=(3, 6))
    np.testing.assert_allclose(explain.occlusion(model, x, baseline=0.25),
                               (x - 0.25) * w[:, 0], rtol=1e-10)


def test_occlusion_on_images_finds_the_patch_the_model_reads(floatx64):
    # the output is the ink in rows 2-4, columns 5-7 of an 8x8 image
    mask = np.zeros((8, 8))
    mask[2:5, 5:8] = 1
    model = Sequential([Flatten(input_shape=(8, 8)), Dense(1)])
    model.set_weights([mask.reshape(64, 1), np.zeros(1)])
    x = np.ones((2, 8, 8))
    occ = explain.occlusion(model, x, window=2, stride=1)
    assert occ.shape == (2, 8, 8)
    assert (occ[:, mask == 0][:, :].max() <= occ[:, mask == 1].min())
    far = np.zeros((8, 8), bool)
    far[:, :3] = True  # at least two columns from the patch: no window covers both
    np.testing.assert_allclose(occ[:, far], 0)
    assert occ[:, 3, 6].min() > 0


@pytest.fixture(scope="module")
def one_feature_task():
    """A trained classifier on 6 features where only feature 2 decides the label."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(600, 6)).astype("float32")
    y = (x[:, 2] > 0).astype(np.int64)
    with fastnn.use_backend("reference"):
        fastnn.utils.set_random_seed(9)
        model = Sequential([Dense(8, activation="relu", input_shape=(6,)),
                            Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=25, batch_size=32, verbose=0)
    return model, x, y


def test_permutation_importance_singles_out_the_informative_feature(one_feature_task):
    model, x, y = one_feature_task
    result = explain.permutation_importance(model, x[:300], y[:300], n_repeats=3, seed=0)
    assert result.metric == "accuracy" and result.baseline_score > 0.9
    assert result.importances.shape == (6, 3)
    assert np.argmax(result.importances_mean) == 2
    others = np.delete(result.importances_mean, 2)
    assert result.importances_mean[2] > 0.3 and others.max() < 0.05
    again = explain.permutation_importance(model, x[:300], y[:300], n_repeats=3, seed=0)
    np.testing.assert_array_equal(again.importances, result.importances)


def test_occlusion_and_attributions_single_out_the_informative_feature(one_feature_task):
    model, x, _ = one_feature_task
    for method in (explain.occlusion, explain.integrated_gradients,
                   explain.gradient_x_input):
        importance = np.abs(method(model, x[:200])).mean(axis=0)
        assert np.argmax(importance) == 2, method.__name__
        assert importance[2] > 3 * np.delete(importance, 2).max(), method.__name__


def test_activations_are_copies_of_each_layer_output():
    model = _mlp()
    x = np.random.default_rng(10).normal(size=(7, 5)).astype("float32")
    outs = explain.activations(model, x)
    assert [o.shape for o in outs] == [(7, 7), (7, 7), (7, 3)]
    np.testing.assert_allclose(outs[-1], model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(outs[0], outs[1])  # dropout is off in inference
    kernel, bias = model.layers[0].get_weights()
    np.testing.assert_allclose(outs[0], np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)
    outs[0][...] = 0
    assert np.abs(explain.activations(model, x)[0]).sum() > 0


@needs_cpu
def test_backends_give_the_same_attributions():
    x = np.random.default_rng(11).normal(size=(5, 5)).astype("float32")
    y = np.array([0, 1, 2, 1, 0])
    results = {}
    for backend in ("reference", "cpu"):
        with fastnn.use_backend(backend):
            model = _mlp(activation="relu", seed=12)
            results[backend] = [
                explain.saliency(model, x), explain.gradient_x_input(model, x, target=1),
                explain.integrated_gradients(model, x, steps=16),
                explain.smoothgrad(model, x, n_samples=8, seed=0),
                explain.occlusion(model, x),
                explain.permutation_importance(model, x, y, n_repeats=2, seed=0).importances,
                *explain.activations(model, x)]
    for ref, cpu in zip(results["reference"], results["cpu"]):
        np.testing.assert_allclose(cpu, ref, rtol=1e-4, atol=1e-5)


def test_inputs_are_validated():
    model = _mlp()
    x = np.zeros((3, 5), dtype="float32")
    with pytest.raises(ValueError, match=r"`x` must have 5 features .*got shape \(3, 4\)"):
        explain.saliency(model, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"`target` must be in \[0, 3\).*got 3"):
        explain.saliency(model, x, target=3)
    with pytest.raises(ValueError, match=r"`target` must be an int or 3 ints"):
        explain.saliency(model, x, target=[0, 1])
    with pytest.raises(ValueError, match="`steps` must be a positive int; got 0"):
        explain.integrated_gradients(model, x, steps=0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        explain.integrated_gradients(model, x, method="simpson")
    with pytest.raises(ValueError, match="`baseline` must be a number or an array"):
        explain.integrated_gradients(model, x, baseline=np.zeros(4))
    with pytest.raises(ValueError, match="`image_shape` must multiply to the 5"):
        explain.occlusion(model, x, image_shape=(2, 2))
    with pytest.raises(ValueError, match="`metric` must be a callable"):
        explain.permutation_importance(model, x, [0, 1, 2], metric="f1")
    with pytest.raises(ValueError, match="same number of samples"):
        explain.permutation_importance(model, x, [0, 1])
    with pytest.raises(TypeError, match="`model` must be a fastnn Sequential"):
        explain.saliency("model", x)


def test_training_monitor_records_statistics_in_the_history():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(200, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(np.int64)
    model = _mlp(activation="relu", n_out=2, seed=13)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # two dead units: a bias no input can overcome
    kernel, bias = model.layers[0].get_weights()
    bias[[1, 4]] = -1e3
    model.layers[0].set_weights([kernel, bias])
    monitor = TrainingMonitor(probe=x[:64])
    history = model.fit(x, y, epochs=3, batch_size=50, verbose=0, callbacks=[monitor])
    first, last = model.layers[0].name, model.layers[2].name
    for key in (f"{first}/weight_norm", f"{first}/grad_norm", f"{first}/update_ratio",
                f"{first}/dead_fraction", f"{last}/weight_norm", f"{last}/grad_norm"):
        assert len(history.history[key]) == 3, key
    assert f"{last}/dead_fraction" not in history.history  # softmax units cannot die
    assert history.history[f"{first}/dead_fraction"] == [2 / 7] * 3
    np.testing.assert_allclose(history.history[f"{last}/weight_norm"][-1],
                               np.linalg.norm(model.layers[2].get_weights()[0]), rtol=1e-6)
    assert all(g > 0 for g in history.history[f"{last}/grad_norm"])
    assert all(0 < r < 1 for r in history.history[f"{first}/update_ratio"])
    with pytest.raises(ValueError, match="`stats` must be among"):
        TrainingMonitor(stats=["weight_norm", "curvature"])
