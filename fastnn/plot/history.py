"""Training curves: the loss and metrics per epoch, and the statistics TrainingMonitor
records (weight and gradient norms, dead units)."""
import numpy

from fastnn.plot._common import (TRAIN, VALIDATION, finish, history_dict, new_figure,
                                 pyplot)


def _metric_names(data):
    names = [k for k in data if not k.startswith("val_") and "/" not in k]
    names += [k[4:] for k in data if k.startswith("val_") and "/" not in k
              and k[4:] not in names]
    return sorted(names, key=lambda k: (k != "loss", k))


def _best(name, values):
    lower = "loss" in name or "error" in name or name in ("mse", "mae")
    return int(numpy.nanargmin(values) if lower else numpy.nanargmax(values))


def plot_history(history, metrics=None, log_scale=False, fig=None, path=None):
    """Learning curves: the loss and each metric per epoch, training against validation.

    The best validation epoch is marked on each panel.

    Args:
        history: the History returned by `fit`, or its `.history` dict.
        metrics: the names to plot (default: 'loss' and every metric recorded).
        log_scale: a logarithmic y axis for the loss.
        fig: a matplotlib Figure to draw into (cleared); default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure, one panel per metric.

    Example:
        >>> history = model.fit(x, y, epochs=10, validation_split=0.1, verbose=0)
        >>> fig = fastnn.plot.plot_history(history, path="history.png")
    """
    data, epochs = history_dict(history)
    names = list(metrics) if metrics is not None else _metric_names(data)
    missing = [n for n in names if n not in data and "val_" + n not in data]
    if missing or not names:
        raise ValueError(f"`metrics` must name recorded values {_metric_names(data)}; "
                         f"got {missing or names}")
    fig = new_figure(fig, figsize=(5.2 * len(names), 4.0))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, color, style in ((name, "training", TRAIN, "-"),
                                         ("val_" + name, "validation", VALIDATION, "--")):
            if key in data:
                values = numpy.asarray(data[key], dtype=float)
                ax.plot(epochs[:len(values)], values, style, color=color, marker="o",
                        markersize=3.5, linewidth=2, label=label)
        if "val_" + name in data:
            values = numpy.asarray(data["val_" + name], dtype=float)
            best = _best(name, values)
            ax.scatter([epochs[best]], [values[best]], s=120, facecolor="none",
                       edgecolor="black", linewidth=1.5, zorder=5,
                       label=f"best validation: {values[best]:.4g} (epoch {epochs[best]})")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if log_scale and "loss" in name:
            ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    return finish(fig, path)


_STAT_TITLES = {"weight_norm": "kernel norm ‖W‖",
                "grad_norm": "gradient norm ‖∂L/∂W‖ (mean over batches)",
                "update_ratio": "relative update ‖ΔW‖ / ‖W‖ per epoch",
                "dead_fraction": "dead ReLU units (fraction)",
                "activation_std": "activation standard deviation"}
_LOG_STATS = ("grad_norm", "update_ratio")


def plot_training_stats(history, stats=None, fig=None, path=None):
    """The per-layer statistics recorded by `fastnn.callbacks.TrainingMonitor`, per epoch:
    one panel per statistic, one line per layer.

    Args:
        history: a History from `fit(..., callbacks=[TrainingMonitor(...)])`, or its dict.
        stats: which statistics to show (default every one recorded, e.g. 'weight_norm',
            'grad_norm', 'update_ratio', 'dead_fraction').
        fig: a Figure to draw into; default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> from fastnn.callbacks import TrainingMonitor
        >>> h = model.fit(x, y, epochs=5, callbacks=[TrainingMonitor(probe=x[:256])])
        >>> fig = fastnn.plot.plot_training_stats(h)
    """
    data, epochs = history_dict(history)
    series = {}
    for key, values in data.items():
        if "/" in key:
            layer, stat = key.rsplit("/", 1)
            series.setdefault(stat, {})[layer] = numpy.asarray(values, dtype=float)
    if not series:
        raise ValueError("`history` has no training statistics (keys like 'dense/weight_norm'):"
                         " pass callbacks=[fastnn.callbacks.TrainingMonitor()] to fit")
    known = [s for s in _STAT_TITLES if s in series]
    names = list(stats) if stats is not None else known + sorted(set(series) - set(known))
    unknown = [s for s in names if s not in series]
    if unknown:
        raise ValueError(f"`stats` must be among {sorted(series)}; got {unknown}")
    cols = min(2, len(names))
    rows = -(-len(names) // cols)
    fig = new_figure(fig, figsize=(5.6 * cols, 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    colors = pyplot().get_cmap("tab10")
    for ax, stat in zip(axes, names):
        for i, (layer, values) in enumerate(series[stat].items()):
            ax.plot(epochs[-len(values):], values, marker="o", markersize=3, linewidth=2,
                    color=colors(i % 10), label=layer)
        ax.set_title(_STAT_TITLES.get(stat, stat.replace("_", " ")))
        ax.set_xlabel("epoch")
        ax.set_ylabel(stat)
        if stat in _LOG_STATS and all((v[numpy.isfinite(v)] > 0).all()
                                      for v in series[stat].values()):
            ax.set_yscale("log")
        if stat == "dead_fraction":
            ax.set_ylim(-0.02, max(0.1, max(numpy.nanmax(v) for v in series[stat].values())
                                   * 1.15))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return finish(fig, path)
