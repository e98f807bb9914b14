"""What the hidden layers compute: activation distributions, dead units, and a 2-D
projection of a layer's representation."""
import numpy

from fastnn import _validation
from fastnn.plot._common import (activation_name, check_model, class_labels, finish, new_axes,
                                 new_figure, pyplot)

_ZERO_FLOOR = ("relu",)


def _shown_layers(model, layers):
    """Indices of layers whose outputs are worth showing (Dense and Activation)."""
    if layers is not None:
        n = len(model.layers)
        idx = [i if i >= 0 else n + i for i in layers]
        if any(not 0 <= i < n for i in idx):
            raise ValueError(f"`layers` must be indices in [-{n}, {n}); got {list(layers)}")
        return idx
    return [i for i, l in enumerate(model.layers) if activation_name(l) is not None]


def plot_activations(model, x, layers=None, bins=50, fig=None, path=None):
    """Per-layer activation distributions on a batch, with dead ReLU units marked.

    Left: the histogram of the layer's outputs (for ReLU layers, of the non-zero ones,
    with the share of exact zeros written on the panel). Right: each unit's activity
    (for ReLU, the fraction of samples on which it fires; otherwise its mean output),
    sorted; dead units (never firing on `x`) are drawn in red and counted in the title.

    Args:
        model: a built fastnn model.
        x: a batch of inputs (a few hundred samples is plenty).
        layers: layer indices to show; default every Dense and Activation layer.
        bins: histogram bins.
        fig: a Figure to draw into; default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure, one row per layer.

    Example:
        >>> fig = fastnn.plot.plot_activations(model, x_test[:500])
    """
    from fastnn.explain import activations
    check_model(model)
    outputs = activations(model, x)
    idx = _shown_layers(model, layers)
    fig = new_figure(fig, figsize=(11, 2.9 * len(idx)))
    axes = fig.subplots(len(idx), 2, squeeze=False, width_ratios=(1, 1.2))
    for (hist_ax, unit_ax), i in zip(axes, idx):
        _draw_layer(hist_ax, unit_ax, model.layers[i], outputs[i].reshape(len(outputs[i]), -1),
                    bins)
    fig.suptitle(f"activations on {len(outputs[0])} samples", fontsize=11)
    return finish(fig, path)


def _draw_layer(hist_ax, unit_ax, layer, out, bins):
    act = activation_name(layer)
    relu = act in _ZERO_FLOOR
    values = out[out > 0] if relu else out.ravel()
    hist_ax.hist(values, bins=bins, color="#4c72b0", alpha=0.85)
    hist_ax.set_title(f"{layer.name} ({act}): output distribution", fontsize=10)
    hist_ax.set_xlabel("activation" + (" (non-zero)" if relu else ""))
    hist_ax.set_ylabel("count")
    if act in ("softmax", "sigmoid"):  # probabilities pile up at 0 and 1
        hist_ax.set_yscale("log")
    if relu:
        hist_ax.text(0.97, 0.92, f"{numpy.mean(out == 0):.0%} of outputs are 0",
                     transform=hist_ax.transAxes, ha="right", va="top", fontsize=9,
                     bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8})
    n_units = out.shape[1]
    if relu:
        activity = (out > 0).mean(axis=0)
        order = numpy.argsort(activity)[::-1]
        dead = activity[order] == 0
        colors = numpy.where(dead, "#d62728", "#4c72b0")
        unit_ax.bar(numpy.arange(n_units), activity[order], width=1.0, color=colors)
        unit_ax.set_ylim(0, 1.02)
        unit_ax.set_ylabel("fraction of samples active")
        n_dead = int(dead.sum())
        unit_ax.set_title(f"dead ReLUs: {n_dead} of {n_units} ({n_dead / n_units:.1%})",
                          fontsize=10, color="#d62728" if n_dead else "black")
    elif n_units <= 40:
        unit_ax.boxplot(out, positions=numpy.arange(n_units), widths=0.6, patch_artist=True,
                        boxprops={"facecolor": "#c6d4ea"}, medianprops={"color": "#1f3b73"},
                        flierprops={"marker": ".", "markersize": 3, "alpha": 0.4,
                                    "markeredgecolor": "#555555"})
        unit_ax.set_xticks(numpy.arange(n_units), [str(i) for i in range(n_units)])
        unit_ax.set_ylabel("activation")
        unit_ax.set_title(f"{n_units} units: outputs per unit (box: quartiles; dots: outliers)",
                          fontsize=10)
        unit_ax.set_xlabel("unit")
        return
    else:
        mean = out.mean(axis=0)
        order = numpy.argsort(mean)[::-1]
        unit_ax.bar(numpy.arange(n_units), mean[order], width=1.0, color="#4c72b0")
        unit_ax.set_ylabel("mean activation")
        unit_ax.set_title(f"{n_units} units, mean output", fontsize=10)
    unit_ax.set_xlabel("unit (sorted by activity)")
    unit_ax.set_xlim(-0.5, n_units - 0.5)


def _layer_index(model, layer):
    n = len(model.layers)
    if isinstance(layer, str):
        names = [l.name for l in model.layers]
        if layer not in names:
            raise ValueError(f"`layer` must be a layer name in {names} or an index; "
                             f"got {layer!r}")
        return names.index(layer)
    if not _validation.is_int(layer) or not -n <= layer < n:
        raise ValueError(f"`layer` must be an index in [-{n}, {n}) or a layer name; "
                         f"got {layer!r}")
    return int(layer) % n


def pca(values, n_components=2):
    """(projected values, explained variance ratios): PCA by SVD of the centred data."""
    centred = values - values.mean(axis=0)
    u, s, vt = numpy.linalg.svd(centred, full_matrices=False)
    total = float((s ** 2).sum()) or 1.0
    k = min(n_components, len(s))
    proj = centred @ vt[:k].T
    if k < n_components:
        proj = numpy.pad(proj, ((0, 0), (0, n_components - k)))
    return proj, (s[:k] ** 2) / total


def plot_embedding(model, x, y, layer=-2, labels=None, ax=None, path=None):
    """A hidden layer's representation of `x`, projected on its two principal components
    and coloured by class: well-separated clusters mean the layer has learnt features
    that tell the classes apart.

    Args:
        model: a built fastnn model.
        x: inputs (a few hundred samples).
        y: their classes (labels or one-hot rows).
        layer: the layer whose outputs are projected (an index or a name; default the
            one before the output layer).
        labels: names of the classes, for the legend.
        ax: an Axes to draw into; default a new figure.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> fig = fastnn.plot.plot_embedding(model, x_test, y_test, layer=0)
    """
    from fastnn.explain import activations
    check_model(model)
    index = _layer_index(model, layer)
    out = activations(model, x)[index]
    out = out.reshape(len(out), -1).astype(numpy.float64)
    classes = class_labels(y)
    if len(classes) != len(out):
        raise ValueError(f"`x` and `y` must have the same number of samples; got "
                         f"{len(out)} and {len(classes)}")
    proj, ratio = pca(out)
    fig, ax = new_axes(ax, figsize=(6.4, 5.6))
    cmap = pyplot().get_cmap("tab10" if classes.max() < 10 else "tab20")
    for c in numpy.unique(classes):
        sel = classes == c
        name = labels[c] if labels is not None and c < len(labels) else str(c)
        ax.scatter(proj[sel, 0], proj[sel, 1], s=14, color=cmap(c % cmap.N), alpha=0.75,
                   label=name, edgecolors="none")
        cx, cy = numpy.median(proj[sel, 0]), numpy.median(proj[sel, 1])
        ax.text(cx, cy, name, fontsize=11, fontweight="bold", ha="center", va="center",
                bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "alpha": 0.75,
                      "edgecolor": cmap(c % cmap.N)})
    ratio = numpy.pad(ratio, (0, 2 - len(ratio)))
    ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({ratio[1]:.0%} of variance)")
    target = model.layers[index]
    ax.set_title(f"PCA of {target.name} outputs ({out.shape[1]} dims, {len(out)} samples)")
    ax.legend(title="class", fontsize=8, markerscale=1.5, frameon=False,
              loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(alpha=0.2)
    return finish(fig, path)
