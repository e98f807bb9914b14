"""Pictures of the learnt parameters: heatmaps and histograms per Dense layer, and the first
layer's units as images."""
import numpy

from fastnn.plot._common import (DIVERGING, dense_layers, finish, grid, image_shape_for,
                                 new_figure, symmetric_limit)


def plot_weights(model, bins=60, fig=None, path=None):
    """Each Dense layer's kernel as a heatmap (inputs down, units across; red positive,
    blue negative) beside a histogram of its weights and biases.

    Args:
        model: a built fastnn model.
        bins: histogram bins.
        fig: a Figure to draw into; default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure: one row per Dense layer.

    Example:
        >>> fig = fastnn.plot.plot_weights(model, path="weights.png")
    """
    layers = dense_layers(model)
    fig = new_figure(fig, figsize=(11, 3.4 * len(layers)))
    axes = fig.subplots(len(layers), 2, squeeze=False, width_ratios=(1.25, 1))
    for (heat_ax, hist_ax), (_, layer, kernel, bias) in zip(axes, layers):
        lim = symmetric_limit(kernel)
        image = heat_ax.imshow(kernel, cmap=DIVERGING, vmin=-lim, vmax=lim, aspect="auto",
                               interpolation="nearest")
        heat_ax.set_title(f"{layer.name}: kernel {kernel.shape[0]} × {kernel.shape[1]}")
        heat_ax.set_xlabel("unit")
        heat_ax.set_ylabel("input")
        fig.colorbar(image, ax=heat_ax, label="weight", shrink=0.9)
        hist_ax.hist(kernel.ravel(), bins=bins, color="#607d8b", alpha=0.85,
                     label=f"kernel (std {kernel.std():.3g})")
        if bias is not None:
            twin = hist_ax.twinx()
            twin.hist(bias, bins=min(bins, max(10, len(bias) // 2)), color="#e67e22",
                      alpha=0.6, label=f"bias (mean {bias.mean():.3g})")
            twin.set_ylabel("bias count", color="#e67e22")
            twin.tick_params(axis="y", colors="#e67e22")
            handles = hist_ax.get_legend_handles_labels()
            extra = twin.get_legend_handles_labels()
            hist_ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8,
                           frameon=False, loc="upper left")
        else:
            hist_ax.legend(fontsize=8, frameon=False, loc="upper left")
        hist_ax.axvline(0, color="#333333", lw=0.8, ls=":")
        hist_ax.set_title(f"{layer.name}: weight distribution")
        hist_ax.set_xlabel("value")
        hist_ax.set_ylabel("kernel count")
    return finish(fig, path)


def plot_first_layer(model, image_shape=(28, 28), units=None, max_units=100, fig=None,
                     path=None):
    """Each unit of the first Dense layer as an image of its input weights: the pattern
    that excites the unit (red) or inhibits it (blue).

    Args:
        model: a built fastnn model whose first Dense layer sees images.
        image_shape: (height, width) of the inputs; ignored when the model's inputs are
            2-D (a Flatten first), whose shape is used.
        units: which units to show (indices); default the first `max_units`.
        max_units: the most tiles drawn when `units` is None.
        fig: a Figure to draw into; default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure, one tile per unit, all on one colour scale centred at 0.

    Example:
        >>> fig = fastnn.plot.plot_first_layer(model, image_shape=(28, 28))
    """
    _, layer, kernel, _ = dense_layers(model)[0]
    n_in, n_units = kernel.shape
    shape = tuple(model.input_shape[1:]) if len(model.input_shape) == 3 else \
        image_shape_for(None, n_in, image_shape)
    if units is None:
        units = numpy.arange(min(n_units, max_units))
    units = numpy.asarray(units, dtype=numpy.int64).reshape(-1)
    if len(units) == 0 or units.min() < 0 or units.max() >= n_units:
        raise ValueError(f"`units` must be indices in [0, {n_units}) of {layer.name!r}; "
                         f"got {units.tolist()}")
    rows, cols = grid(len(units), max_cols=12)
    # a fixed layout: constrained layout is slow on a hundred small axes
    fig = new_figure(fig, figsize=(1.1 * cols + 0.9, 1.15 * rows + 0.8), layout=None)
    top = 1 - 0.75 / (1.15 * rows + 0.8)
    axes = numpy.atleast_1d(fig.subplots(rows, cols, gridspec_kw={
        "left": 0.02, "right": 1 - 0.9 / (1.1 * cols + 0.9), "bottom": 0.02, "top": top,
        "wspace": 0.08, "hspace": 0.25})).ravel()
    # one colour scale for all tiles, so strongly trained units stand out from ones
    # still near their random initialisation; the top 0.5% saturate
    lim = float(numpy.percentile(numpy.abs(kernel[:, units]), 99.5)) or 1.0
    for ax, unit in zip(axes, units):
        image = ax.imshow(kernel[:, unit].reshape(shape), cmap=DIVERGING, vmin=-lim, vmax=lim,
                          interpolation="nearest")
        ax.set_title(f"unit {unit}", fontsize=7, pad=2)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(units):]:
        ax.set_visible(False)
    cax = fig.add_axes((1 - 0.75 / (1.1 * cols + 0.9), 0.25, 0.15 / (1.1 * cols + 0.9), 0.5))
    fig.colorbar(image, cax=cax, label="weight")
    shown = "" if len(units) == n_units else f" ({len(units)} of {n_units} shown)"
    fig.suptitle(f"{layer.name}: input weights of each unit{shown}\n"
                 f"red excites the unit, blue inhibits it", fontsize=10)
    return finish(fig, path)
