"""How well the model does, and where: the confusion matrix and, for 2-D inputs, the
decision boundary."""
import numpy

from fastnn.plot._common import check_model, class_labels, finish, new_axes, pyplot

_NORMALIZE = (None, "true", "pred", "all")


def confusion_matrix(y_true, y_pred, n_classes=None):
    """Counts (n_classes, n_classes): rows are true classes, columns predicted ones."""
    t, p = class_labels(y_true, "y_true"), class_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"`y_true` and `y_pred` must have the same number of samples; got "
                         f"{len(t)} and {len(p)}")
    n = n_classes or int(max(t.max(), p.max())) + 1
    for name, values in (("y_true", t), ("y_pred", p)):
        if values.min() < 0 or values.max() >= n:
            raise ValueError(f"`{name}` must hold class labels in [0, {n - 1}] (from "
                             f"{'`labels`' if n_classes else 'the labels'}); got values in "
                             f"[{values.min()}, {values.max()}]")
    matrix = numpy.zeros((n, n), dtype=numpy.int64)
    numpy.add.at(matrix, (t, p), 1)
    return matrix


def plot_confusion_matrix(y_true, y_pred, labels=None, normalize=None, ax=None, path=None,
                          class_names=None):
    """The confusion matrix as an annotated heatmap (rows: true class, columns: predicted).

    Also called as ``plot_confusion_matrix(model, x, y)``: the model's predictions for
    `x` against `y` (class names then go by keyword: ``class_names=``).

    Args:
        y_true: the classes (labels or one-hot rows).
        y_pred: predicted classes, or the model's outputs (probabilities: the argmax, or
            > 0.5 for one sigmoid output, is taken).
        labels: names of the classes.
        normalize: None (counts), 'true' (each row sums to 1: recall on the diagonal),
            'pred' (each column sums to 1: precision) or 'all', as in scikit-learn.
        ax: an Axes to draw into; default a new figure.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> fig = fastnn.plot.plot_confusion_matrix(y_test, model.predict(x_test))
    """
    if hasattr(y_true, "predict") and hasattr(y_true, "layers"):
        model, x, y = y_true, y_pred, labels
        check_model(model)
        if y is None:
            raise TypeError("`y` must be given with a model: plot_confusion_matrix(model, x, "
                            "y)")
        y_true, y_pred, labels = y, model.predict(x, verbose=0), class_names
    elif class_names is not None:
        if labels is not None:
            raise TypeError("`labels` and `class_names` name the same thing; give one")
        labels = class_names
    if normalize not in _NORMALIZE:
        raise ValueError(f"`normalize` must be one of {list(_NORMALIZE)}; got {normalize!r}")
    n = len(labels) if labels is not None else None
    counts = confusion_matrix(y_true, y_pred, n)
    matrix = counts.astype(numpy.float64)
    if normalize == "true":
        matrix /= numpy.maximum(matrix.sum(axis=1, keepdims=True), 1)
    elif normalize == "pred":
        matrix /= numpy.maximum(matrix.sum(axis=0, keepdims=True), 1)
    elif normalize == "all":
        matrix /= max(matrix.sum(), 1)
    n = len(matrix)
    names = [str(l) for l in labels] if labels is not None else [str(i) for i in range(n)]
    fig, ax = new_axes(ax, figsize=(1.8 + 0.55 * n, 1.2 + 0.5 * n) if n > 4 else (4.8, 4))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.85, label="count" if normalize is None else "fraction")
    threshold = matrix.max() / 2 if matrix.max() > 0 else 1
    for i in range(n):
        for j in range(n):
            if counts[i, j] == 0 and normalize is None:
                continue
            text = f"{counts[i, j]}" if normalize is None else f"{matrix[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if n > 6 else 10,
                    color="white" if matrix[i, j] > threshold else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = numpy.trace(counts) / max(counts.sum(), 1)
    norm = "" if normalize is None else f", normalised over {normalize}"
    ax.set_title(f"confusion matrix (accuracy {accuracy:.1%}{norm})")
    return finish(fig, path)


def plot_decision_boundary(model, x, y, resolution=200, margin=0.1, ax=None, path=None):
    """The regions a model with 2 input features assigns to each class, with the data.

    For one output (binary) the colour is the predicted probability and the 0.5 contour
    is drawn; for several classes each region takes its class's colour, paler where the
    model is less sure.

    Args:
        model: a built fastnn model with 2 input features.
        x: points (n_samples, 2).
        y: their classes (labels or one-hot rows).
        resolution: grid points per axis.
        margin: extra space around the data, as a fraction of its range.
        ax: an Axes to draw into; default a new figure.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> x, y = fastnn.datasets.make_spirals(seed=0)
        >>> fig = fastnn.plot.plot_decision_boundary(model, x, y)
    """
    check_model(model)
    if tuple(model.input_shape[1:]) != (2,):
        raise ValueError(f"`model` must take 2 input features for a decision boundary; its "
                         f"input_shape is {tuple(model.input_shape[1:])}")
    x = numpy.asarray(x, dtype=numpy.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"`x` must have shape (n_samples, 2); got {x.shape}")
    classes = class_labels(y)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = (hi - lo) * margin + 1e-9
    g0, g1 = (numpy.linspace(lo[k] - pad[k], hi[k] + pad[k], resolution) for k in (0, 1))
    xx, yy = numpy.meshgrid(g0, g1)
    probs = model.predict(numpy.column_stack([xx.ravel(), yy.ravel()]), verbose=0)
    probs = probs.reshape(len(probs), -1)
    fig, ax = new_axes(ax, figsize=(6.4, 5.4))
    plt = pyplot()
    n_classes = max(int(classes.max()) + 1, probs.shape[1] if probs.shape[1] > 1 else 2)
    cmap = plt.get_cmap("tab10")
    if probs.shape[1] == 1:
        p = probs[:, 0].reshape(xx.shape)
        region = ax.contourf(xx, yy, p, levels=numpy.linspace(0, 1, 21), cmap="RdBu_r",
                             alpha=0.55)
        ax.contour(xx, yy, p, levels=[0.5], colors="black", linewidths=1.5)
        fig.colorbar(region, ax=ax, label="P(class 1)", shrink=0.85)
        point_colors = numpy.where(classes[:, None] == 1, [[0.7, 0.1, 0.1, 1]],
                                   [[0.1, 0.3, 0.7, 1]])
    else:
        top = probs.argmax(axis=1).reshape(xx.shape)
        conf = probs.max(axis=1).reshape(xx.shape)
        rgb = numpy.array([cmap(c % 10)[:3] for c in range(n_classes)])[top]
        alpha = 0.15 + 0.45 * (conf - 1 / n_classes) / (1 - 1 / n_classes)
        ax.imshow(numpy.dstack([rgb, alpha]), origin="lower", aspect="auto",
                  extent=(g0[0], g0[-1], g1[0], g1[-1]), interpolation="bilinear")
        ax.contour(xx, yy, top, levels=numpy.arange(n_classes) + 0.5, colors="black",
                   linewidths=0.8, alpha=0.6)
        point_colors = [cmap(c % 10) for c in classes]
    ax.scatter(x[:, 0], x[:, 1], c=point_colors, s=16, edgecolors="white", linewidths=0.5)
    handles = [plt.Line2D([], [], ls="", marker="o", markersize=7, label=f"class {c}",
                          color=cmap(c % 10) if probs.shape[1] > 1 else
                          ((0.7, 0.1, 0.1) if c == 1 else (0.1, 0.3, 0.7)))
               for c in numpy.unique(classes)]
    ax.legend(handles=handles, fontsize=8, loc="upper right", framealpha=0.8)
    accuracy = numpy.mean(class_labels(model.predict(x, verbose=0)) == classes)
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.set_title(f"decision regions: {len(x)} points, accuracy {accuracy:.1%}")
    ax.set_xlim(g0[0], g0[-1])
    ax.set_ylim(g1[0], g1[-1])
    return finish(fig, path)
