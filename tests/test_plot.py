"""Tests of fastnn.plot: every picture builds, is labelled, shows the data, and saves."""
import os

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential
from session_python import run_python


@pytest.fixture(scope="module")
def mpl():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def digits(mpl):
    """A small classifier trained on the 8x8 digits, its history and test data."""
    (x, y), (xt, yt) = fastnn.datasets.load_digits(size=8)
    x = x.reshape(-1, 64).astype("float32") / 255
    xt = xt.reshape(-1, 64).astype("float32") / 255
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(16, activation="relu", input_shape=(64,), name="dense"),
                        Dropout(0.2, name="dropout"),
                        Dense(10, activation="softmax", name="dense_1")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    from fastnn.callbacks import TrainingMonitor
    history = model.fit(x, y, epochs=4, validation_split=0.1, verbose=0,
                        callbacks=[TrainingMonitor(probe=x[:128])])
    return model, history, xt[:120], yt[:120]


def _pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3]


def assert_not_blank(fig):
    """The rendered figure has many colours and non-trivial variance."""
    pixels = _pixels(fig)
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 20 and pixels.std() > 10


def _titles(fig):
    return [ax.get_title() for ax in fig.axes]


def test_plot_history(digits):
    _, history, _, _ = digits
    fig = fastnn.plot.plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    train, val = loss_ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), history.history["loss"])
    np.testing.assert_allclose(val.get_ydata(), history.history["val_loss"])
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels[:2] == ["training", "validation"] and "best validation" in labels[2]
    assert_not_blank(fig)
    # the dict works as well as the History, and unknown metrics are refused
    assert len(fastnn.plot.plot_history(history.history, metrics=["loss"]).axes) == 1
    with pytest.raises(ValueError, match="`metrics` must name recorded values"):
        fastnn.plot.plot_history(history, metrics=["auc"])


def test_plot_training_stats(digits):
    _, history, _, _ = digits
    fig = fastnn.plot.plot_training_stats(history)
    titles = [t for t in _titles(fig) if t]
    assert titles[0] == "kernel norm ‖W‖" and "dead ReLU" in " ".join(titles)
    first = fig.axes[0]
    assert [l.get_label() for l in first.get_lines()] == ["dense", "dense_1"] or \
        len(first.get_lines()) == 2
    np.testing.assert_allclose(first.get_lines()[0].get_ydata(),
                               history.history[first.get_lines()[0].get_label()
                                               + "/weight_norm"])
    assert_not_blank(fig)
    with pytest.raises(ValueError, match="TrainingMonitor"):
        fastnn.plot.plot_training_stats({"loss": [1.0, 0.5]})


def test_plot_model_draws_boxes_and_weighted_edges(digits, mpl):
    model = digits[0]
    fig = fastnn.plot.plot_model(model, max_units=12)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    assert len(boxes) == len(model.layers) + 1
    text = " ".join(t.get_text() for t in ax.texts)
    for layer in model.layers:
        assert layer.name in text and f"{layer.count_params():,} params" in text
    assert "(None, 16)" in text and "activation: relu" in text and "12 of 64 shown" in text and "10 units" in text
    edges = ax.collections[:2]
    assert [len(c.get_segments()) for c in edges] == [12 * 12, 12 * 10]
    widths = np.asarray(edges[1].get_linewidths())
    assert widths.max() > 5 * widths.min()  # sized by |weight|
    assert "101" not in ax.get_title() and f"{model.count_params():,}" in ax.get_title()
    assert_not_blank(fig)
    boxes_only = fastnn.plot.plot_model(model, show_weights=False)
    assert not boxes_only.axes[0].collections
    with pytest.raises(ValueError, match="`max_units` must be an int >= 2"):
        fastnn.plot.plot_model(model, max_units=1)


def test_plot_weights_and_first_layer(digits):
    model = digits[0]
    kernel = model.layers[0].get_weights()[0]
    fig = fastnn.plot.plot_weights(model)
    assert "dense: kernel 64 × 16" in _titles(fig)
    heat = fig.axes[0].get_images()[0]
    np.testing.assert_array_equal(heat.get_array(), kernel)
    assert fig.axes[1].get_xlabel() == "value" and fig.axes[1].patches
    assert_not_blank(fig)
    tiles = fastnn.plot.plot_first_layer(model, image_shape=(8, 8))
    shown = [ax for ax in tiles.axes if ax.get_visible() and ax.get_images()
             and ax.get_title().startswith("unit")]
    assert len(shown) == 16
    np.testing.assert_array_equal(shown[3].get_images()[0].get_array(),
                                  kernel[:, 3].reshape(8, 8))
    assert_not_blank(tiles)
    with pytest.raises(ValueError, match="`image_shape` must be"):
        fastnn.plot.plot_first_layer(model, image_shape=(28, 28))


def test_plot_activations_counts_dead_relus(digits):
    model, _, x, _ = digits
    kernel, bias = model.layers[0].get_weights()
    dead = bias.copy()
    dead[[2, 5, 7]] = -1e3
    model.layers[0].set_weights([kernel, dead])
    try:
        fig = fastnn.plot.plot_activations(model, x)
    finally:
        model.layers[0].set_weights([kernel, bias])
    n_dead = int((~(np.maximum(x @ kernel + dead, 0) > 0).any(axis=0)).sum())
    assert n_dead >= 3
    titles = _titles(fig)
    assert f"dead ReLUs: {n_dead} of 16 ({n_dead / 16:.1%})" in titles
    assert "dense (relu): output distribution" in titles
    assert any("% of outputs are 0" in t.get_text() for t in fig.axes[0].texts)
    assert_not_blank(fig)


def test_plot_confusion_matrix():
    pytest.importorskip("matplotlib")
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0, 2]]
    fig = fastnn.plot.plot_confusion_matrix(y_true, probs, labels=["a", "b", "c"])
    ax = fig.axes[0]
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), expected)
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "accuracy 71.4%" in ax.get_title()
    assert_not_blank(fig)
    normed = fastnn.plot.plot_confusion_matrix(y_true, probs, normalize="true")
    np.testing.assert_allclose(normed.axes[0].get_images()[0].get_array().sum(axis=1), 1)
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        fastnn.plot.plot_confusion_matrix(y_true, probs, normalize="rows")


def test_plot_decision_boundary(mpl):
    x, y = fastnn.datasets.make_blobs(n_samples=150, centers=3, seed=0)
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(16, activation="relu", input_shape=(2,)),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, verbose=0)
    fig, ax = mpl.subplots()
    assert fastnn.plot.plot_decision_boundary(model, x, y, resolution=60, ax=ax) is fig
    assert ax.get_xlabel() == "feature 0" and "accuracy" in ax.get_title()
    assert ax.get_images() and len(ax.collections) >= 2  # regions, boundary, points
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["class 0", "class 1", "class 2"]
    assert_not_blank(fig)
    with pytest.raises(ValueError, match="2 input features"):
        fastnn.plot.plot_decision_boundary(Sequential([Dense(1, input_shape=(3,))]), x, y)


def test_plot_embedding(digits):
    model, _, x, y = digits
    fig = fastnn.plot.plot_embedding(model, x, y, layer=0)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC 1 (") and ax.get_ylabel().startswith("PC 2 (")
    assert "PCA of dense outputs (16 dims" in ax.get_title()
    assert len(ax.collections) == len(np.unique(y))
    total = sum(len(c.get_offsets()) for c in ax.collections)
    assert total == len(x)
    assert_not_blank(fig)
    with pytest.raises(ValueError, match="`layer` must be"):
        fastnn.plot.plot_embedding(model, x, y, layer="conv")


def test_plot_attributions_images_and_tabular(digits):
    model, _, x, _ = digits
    maps = {"saliency": fastnn.explain.saliency(model, x[:3]),
            "integrated gradients": fastnn.explain.integrated_gradients(model, x[:3])}
    fig = fastnn.plot.plot_attributions(x[:3], maps, image_shape=(8, 8))
    assert len(fig.axes) == 3 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "saliency",
                                                        "integrated gradients"]
    np.testing.assert_array_equal(fig.axes[2].get_images()[0].get_array(),
                                  maps["integrated gradients"][0].reshape(8, 8))
    assert_not_blank(fig)
    names = [f"f{i}" for i in range(64)]
    one = fastnn.plot.plot_attributions(x[0], maps["saliency"][0], feature_names=names)
    assert len(one.axes[0].patches) == 30  # the 30 largest, as bars
    many = fastnn.plot.plot_attributions(x[:20], maps["saliency"][:3].repeat(7, 0)[:20],
                                         feature_names=names)
    assert "20 samples" in many.axes[0].get_title()
    with pytest.raises(ValueError, match="must have the shape of `x`"):
        fastnn.plot.plot_attributions(x[:3], maps["saliency"][:2])


def test_plot_permutation_importance(mpl):
    from fastnn.explain import PermutationImportance
    result = PermutationImportance(np.array([[0.1, 0.2], [0.0, 0.0], [0.5, 0.4]]), 0.9,
                                   "accuracy")
    fig = fastnn.plot.plot_attributions(None, result, feature_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a", "c"]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.0, 0.15, 0.45])
    assert "drop in accuracy" in ax.get_xlabel()


def test_path_saves_the_figure(digits, tmp_path):
    path = tmp_path / "history.png"
    fastnn.plot.plot_history(digits[1], path=str(path))
    assert path.stat().st_size > 5000


def test_write_report(digits, tmp_path):
    model, history, x, y = digits
    index = fastnn.plot.write_report(model, history, (x, y), str(tmp_path / "report"))
    assert index == str(tmp_path / "report" / "index.html")
    html = open(index, encoding="utf-8").read()
    pictures = sorted(f for f in os.listdir(tmp_path / "report") if f.endswith(".png"))
    assert {"history.png", "model.png", "first_layer.png", "weights.png", "activations.png",
            "confusion_matrix.png", "embedding.png", "attributions.png",
            "training_stats.png"} == set(pictures)
    for name in pictures:
        assert f'src="{name}"' in html
        assert (tmp_path / "report" / name).stat().st_size > 5000
    assert "<figcaption>" in html and "test accuracy" in html


def test_plotting_needs_matplotlib_only_when_called():
    code = ("import sys, fastnn, fastnn.plot, fastnn.explain, fastnn.callbacks\n"
            "assert 'matplotlib' not in sys.modules, 'imported matplotlib'\n"
            "sys.modules['matplotlib'] = None\n"
            "try:\n"
            "    fastnn.plot.plot_history({'loss': [1.0]})\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = run_python(code, check=True)
    assert out.stdout.strip() == "fastnn.plot needs matplotlib: pip install fastnn[plot]"
