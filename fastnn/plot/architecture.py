"""plot_model: the architecture as a diagram, drawn with matplotlib alone (no Graphviz)."""
import numpy

from fastnn import _validation
from fastnn.plot._common import (DIVERGING, NEGATIVE, POSITIVE, activation_name, check_model,
                                 matplotlib_module,
                                 finish, new_axes, pyplot, symmetric_limit)

_BOX_COLORS = {"Dense": "#dbe9f6", "Dropout": "#fde2c4", "Activation": "#e2f0d9",
               "Flatten": "#ececec", "input": "#f5f5f5"}
_BOX_Y, _BOX_H, _BOX_W = -0.5, 0.36, 0.84


def _shape_text(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _layer_rows(model):
    """[(title, kind, description lines)] for the input and each layer."""
    rows = [("input", "input", [_shape_text(model.input_shape)])]
    shape = tuple(model.input_shape[1:])
    for layer in model.layers:
        shape = layer.compute_output_shape(shape)
        kind = type(layer).__name__
        lines = [_shape_text((None,) + tuple(shape))]
        act = activation_name(layer)
        if act is not None:
            lines.append(f"activation: {act}")
        if kind == "Dropout":
            lines.append(f"rate: {layer.rate:g}")
        lines.append(f"{layer.count_params():,} params")
        rows.append((f"{layer.name}\n({kind})", kind, lines))
    return rows


def _draw_boxes(ax, rows):
    patches = matplotlib_module().patches
    for x, (title, kind, lines) in enumerate(rows):
        box = patches.FancyBboxPatch((x - _BOX_W / 2, _BOX_Y), _BOX_W, _BOX_H,
                                     boxstyle="round,pad=0.01,rounding_size=0.04",
                                     facecolor=_BOX_COLORS.get(kind, "#eeeeee"),
                                     edgecolor="#555555", linewidth=1.0)
        ax.add_patch(box)
        ax.text(x, _BOX_Y + _BOX_H - 0.035, title, ha="center", va="top", fontsize=8.5,
                fontweight="bold")
        ax.text(x, _BOX_Y + 0.025, "\n".join(lines), ha="center", va="bottom", fontsize=7.5,
                color="#333333", linespacing=1.3)
        if x:
            ax.annotate("", xy=(x - _BOX_W / 2, _BOX_Y + _BOX_H / 2),
                        xytext=(x - 1 + _BOX_W / 2, _BOX_Y + _BOX_H / 2),
                        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.2})


def _choose_units(strength, max_units):
    """Indices of the units to draw: all, or the `max_units` strongest (kept in order)."""
    if len(strength) <= max_units:
        return numpy.arange(len(strength))
    return numpy.sort(numpy.argsort(strength)[::-1][:max_units])


def _columns(model, max_units):
    """Neuron columns: [(x position, n_units, shown indices, bias or None, activation)]
    and the kernels between consecutive columns."""
    dense = [(i, l, l.get_weights()) for i, l in enumerate(model.layers)
             if getattr(l, "kernel", None) is not None]
    kernels = [w[0] for _, _, w in dense]
    strengths = [numpy.abs(kernels[0]).sum(axis=1)]
    for k, (_, _, w) in enumerate(dense):
        s = numpy.abs(w[0]).sum(axis=0)
        if k + 1 < len(kernels):
            s = s + numpy.abs(kernels[k + 1]).sum(axis=1)
        strengths.append(s)
    cols = [(0, kernels[0].shape[0], _choose_units(strengths[0], max_units), None, None)]
    for k, (i, layer, w) in enumerate(dense):
        cols.append((i + 1, w[0].shape[1], _choose_units(strengths[k + 1], max_units),
                     w[1] if len(w) > 1 else None, activation_name(layer)))
    return cols, kernels


def _node_y(n):
    spacing = min(0.9 / max(n - 1, 1), 0.11)
    return 0.5 + (numpy.arange(n) - (n - 1) / 2) * spacing


def _draw_network(ax, model, max_units):
    plt = pyplot()
    cols, kernels = _columns(model, max_units)
    ys = [_node_y(len(shown)) for _, _, shown, _, _ in cols]
    for k, kernel in enumerate(kernels):
        (x0, _, in_idx, _, _), (x1, _, out_idx, _, _) = cols[k], cols[k + 1]
        w = kernel[numpy.ix_(in_idx, out_idx)]
        scale = numpy.abs(w) / symmetric_limit(w)
        order = numpy.argsort(scale.ravel())  # strong edges drawn last, on top
        a, b = numpy.unravel_index(order, w.shape)
        segments = [((x0, ys[k][i]), (x1, ys[k + 1][j])) for i, j in zip(a, b)]
        colors = [(POSITIVE if w[i, j] > 0 else NEGATIVE) for i, j in zip(a, b)]
        lc = matplotlib_module().collections.LineCollection(
            segments, colors=colors, linewidths=0.2 + 2.8 * scale[a, b],
            alpha=None, zorder=1)
        lc.set_alpha(list(0.08 + 0.8 * scale[a, b]))
        ax.add_collection(lc)
    for (x, n, shown, bias, act), y in zip(cols, ys):
        size = min(110.0, 1800.0 / len(y))
        if bias is not None:
            lim = symmetric_limit(bias)
            ax.scatter(numpy.full(len(y), x), y, s=size, c=bias[shown], cmap=DIVERGING,
                       vmin=-lim, vmax=lim, edgecolors="#333333", linewidths=0.8, zorder=3)
        else:
            ax.scatter(numpy.full(len(y), x), y, s=size, color="#bbbbbb",
                       edgecolors="#333333", linewidths=0.8, zorder=3)
        if x == 0 or x == cols[-1][0]:
            side = -1 if x == 0 else 1
            for unit, yy in zip(shown, y):
                ax.text(x + side * 0.07, yy, f"x[{unit}]" if x == 0 else str(unit),
                        ha="right" if side < 0 else "left", va="center", fontsize=6.5,
                        color="#444444")
        label = (f"{n} unit{'s' * (n != 1)}" if len(shown) == n
                 else f"{len(shown)} of {n} shown\n(strongest)")
        ax.text(x, y.max() + 0.045, label, ha="center", va="bottom", fontsize=7.5,
                color="#444444")
    handles = [plt.Line2D([], [], color=POSITIVE, lw=2.5, label="positive weight"),
               plt.Line2D([], [], color=NEGATIVE, lw=2.5, label="negative weight"),
               plt.Line2D([], [], ls="", marker="o", color="#bbbbbb", markeredgecolor="#333",
                          label="node colour: bias (red +, blue −)")]
    ax.legend(handles=handles, loc="upper center", fontsize=8, frameon=False,
              bbox_to_anchor=(0.5, 0.0), ncol=3)


def plot_model(model, show_weights=True, max_units=24, ax=None, path=None):
    """The architecture as a diagram: one box per layer (name, type, output shape,
    activation, parameter count) and, above, the network as nodes and edges, edges
    coloured by the weight's sign (red positive, blue negative) and drawn thicker and
    darker for larger |weight|. Layers wider than `max_units` show their strongest units
    (largest total |weight| in and out).

    Needs no Graphviz: everything is drawn with matplotlib.

    Args:
        model: a built fastnn Sequential model.
        show_weights: draw the node-and-edge network above the layer boxes.
        max_units: the most units drawn per layer.
        ax: a matplotlib Axes to draw into; default a new figure.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> fig = fastnn.plot.plot_model(model, path="model.png")
    """
    check_model(model)
    if not _validation.is_int(max_units) or max_units < 2:
        raise ValueError(f"`max_units` must be an int >= 2; got {max_units!r}")
    rows = _layer_rows(model)
    has_dense = any(getattr(l, "kernel", None) is not None for l in model.layers)
    draw_net = bool(show_weights) and has_dense
    fig, ax = new_axes(ax, figsize=(max(6.0, 2.1 * len(rows)), 6.0 if draw_net else 2.4))
    _draw_boxes(ax, rows)
    if draw_net:
        _draw_network(ax, model, max_units)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(_BOX_Y - 0.05, 1.12 if draw_net else _BOX_Y + _BOX_H + 0.05)
    ax.set_axis_off()
    ax.set_title(f'Model "{model.name}": {len(model.layers)} layers, '
                 f"{model.count_params():,} parameters", fontsize=11, pad=14)
    return finish(fig, path)
