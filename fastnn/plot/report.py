"""write_report: every picture of a trained classifier in one folder, with an index.html."""
import html
import os

import numpy

from fastnn.plot._common import class_labels, image_shape_for, pyplot

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;
padding:0 1em}figure{margin:2.5em 0;border-top:1px solid #ddd;padding-top:1em}
img{max-width:100%;height:auto}figcaption{color:#444;max-width:850px;line-height:1.45}
h2{margin-bottom:.2em}table{border-collapse:collapse}td{padding:2px 12px 2px 0}"""


def _hidden_index(model):
    """The last Dense layer before the output layer (the output layer if there is one)."""
    dense = [i for i, l in enumerate(model.layers) if getattr(l, "kernel", None) is not None]
    return dense[-2] if len(dense) > 1 else dense[-1]


def _examples(y, pred, n):
    """Indices of up to n test samples of different classes, a misclassified one first."""
    wrong = numpy.flatnonzero(pred != y)
    chosen = [int(wrong[0])] if len(wrong) else []
    for c in numpy.unique(y):
        if len(chosen) >= n:
            break
        right = numpy.flatnonzero((y == c) & (pred == y))
        if len(right) and c not in y[chosen]:
            chosen.append(int(right[0]))
    return numpy.array(chosen[:n])


def _attribution_figure(model, x, y, probs, image_shape, n_examples):
    from fastnn import explain
    from fastnn.plot.attributions import plot_attributions
    pred = class_labels(probs)
    if image_shape is None:
        sample = x[:300]
        return plot_attributions(sample, explain.integrated_gradients(model, sample, steps=32))
    idx = _examples(y, pred, n_examples)
    xs = x[idx]
    maps = {"saliency": explain.saliency(model, xs),
            "gradient × input": explain.gradient_x_input(model, xs),
            "SmoothGrad": explain.smoothgrad(model, xs, n_samples=32, noise=0.15, seed=0),
            "integrated gradients": explain.integrated_gradients(model, xs, steps=32),
            "occlusion": explain.occlusion(model, xs, image_shape=image_shape)}
    p = probs.reshape(len(probs), -1)
    captions = [f"true {y[i]}, predicted {pred[i]}\n(p = {p[i].max():.2f})" for i in idx]
    return plot_attributions(xs, maps, image_shape=image_shape, sample_labels=captions)


def _figures(model, history, x, y, probs, image_shape, n_examples):
    """[(file name, title, caption, function making the figure)]."""
    from fastnn.plot.activations import plot_activations, plot_embedding
    from fastnn.plot.architecture import plot_model
    from fastnn.plot.evaluation import plot_confusion_matrix
    from fastnn.plot.history import plot_history, plot_training_stats
    from fastnn.plot.weights import plot_first_layer, plot_weights
    hidden = model.layers[_hidden_index(model)].name
    pred = class_labels(probs)
    figs = []
    data = getattr(history, "history", history) or {}
    if data:
        figs.append(("history.png", "Learning curves", "Loss and metrics per epoch on the "
                     "training data (solid) and the validation data (dashed); the circle marks "
                     "the best validation epoch. A widening gap between them means "
                     "overfitting.", lambda: plot_history(history)))
    if any("/" in k for k in data):
        figs.append(("training_stats.png", "Inside training", "Per-layer weight norms, "
                     "gradient norms, relative updates and dead ReLU units, per epoch.",
                     lambda: plot_training_stats(history)))
    figs.append(("model.png", "Architecture", "Each layer with its output shape, activation "
                 "and parameter count; above, the network's units, edges red for positive "
                 "and blue for negative weights, thicker for larger ones (wide layers show "
                 "their strongest units).", lambda: plot_model(model)))
    if image_shape is not None:
        figs.append(("first_layer.png", "What the first layer looks for", "Each first-layer "
                     "unit's input weights drawn as an image: the unit fires for ink on red "
                     "pixels and is held back by ink on blue ones.",
                     lambda: plot_first_layer(model, image_shape=image_shape,
                                              max_units=64)))
    figs.append(("weights.png", "Weights", "Every Dense kernel as a heatmap (inputs down, "
                 "units across) with the distribution of its weights and biases.",
                 lambda: plot_weights(model)))
    figs.append(("activations.png", "Activations", "What each layer outputs on test data: "
                 "the distribution of values, and how often each unit is active; units that "
                 "never fire (dead ReLUs) are red.",
                 lambda: plot_activations(model, x[:500])))
    figs.append(("confusion_matrix.png", "Confusion matrix", "Test samples by true class "
                 "(rows) and predicted class (columns): the off-diagonal cells are the "
                 "mistakes.", lambda: plot_confusion_matrix(y, pred)))
    figs.append(("embedding.png", "Learnt representation", f"The test samples as the hidden "
                 f"layer '{hidden}' sees them, projected on its two principal components and "
                 f"coloured by class: separated clusters are classes the network has learnt to "
                 f"tell apart.", lambda: plot_embedding(model, x[:600], y[:600],
                                                       layer=hidden)))
    figs.append(("attributions.png", "Which inputs decide", "Attributions of the predicted "
                 "class: red inputs push the prediction up, blue ones down. Saliency is the "
                 "raw gradient; integrated gradients add up to the change in output from a "
                 "blank input; occlusion shows how much hiding a patch lowers the output.",
                 lambda: _attribution_figure(model, x, y, probs, image_shape, n_examples)))
    return figs


def write_report(model, history, test_data, directory, n_examples=4):
    """Write pictures of a trained classifier and an index.html that shows them.

    The pictures: learning curves, the architecture, first-layer weights (for image
    inputs), weights, activations, the confusion matrix, a PCA of the last hidden layer,
    and attributions (saliency, SmoothGrad, integrated gradients, occlusion) of a few test
    samples.

    Args:
        model: a trained fastnn classifier.
        history: the History returned by `fit` (or its dict; None to skip the curves).
        test_data: (x_test, y_test).
        directory: the folder to write into (created if missing).
        n_examples: test samples explained in the attribution picture.

    Returns:
        The path of the index.html written.

    Example:
        >>> path = fastnn.plot.write_report(model, history, (x_test, y_test), "report")
    """
    plt = pyplot()
    if not isinstance(test_data, (tuple, list)) or len(test_data) != 2:
        raise ValueError(f"`test_data` must be a tuple (x_test, y_test); got "
                         f"{type(test_data).__name__}")
    x = numpy.asarray(test_data[0])
    y = class_labels(test_data[1])
    probs = model.predict(x, verbose=0)
    image_shape = image_shape_for(model, int(numpy.prod(model.input_shape[1:])))
    os.makedirs(directory, exist_ok=True)
    entries = []
    for name, title, caption, make in _figures(model, history, x, y, probs, image_shape,
                                               n_examples):
        fig = make()
        fig.savefig(os.path.join(directory, name), dpi=110, bbox_inches="tight",
                    facecolor="white")
        plt.close(fig)
        entries.append((name, title, caption))
    accuracy = float(numpy.mean(class_labels(probs) == y))
    path = os.path.join(directory, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(_html(model, entries, accuracy, len(x)))
    return path


def _html(model, entries, accuracy, n_test):
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>fastnn report: {e(model.name)}</title><style>{_STYLE}</style></head>",
             f"<body><h1>Model report: {e(model.name)}</h1>",
             f"<table><tr><td>layers</td><td>{len(model.layers)}</td></tr>",
             f"<tr><td>parameters</td><td>{model.count_params():,}</td></tr>",
             f"<tr><td>test accuracy</td><td>{accuracy:.2%} on {n_test} samples</td></tr>"
             "</table>"]
    for name, title, caption in entries:
        parts.append(f'<figure id="{e(name[:-4])}"><h2>{e(title)}</h2>'
                     f'<img src="{e(name)}" alt="{e(title)}">'
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
