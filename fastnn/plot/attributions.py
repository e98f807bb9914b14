"""plot_attributions: saliency maps beside their images, or feature bars for tabular data."""
import numpy

from fastnn.plot._common import (DIVERGING, NEGATIVE, POSITIVE, finish, image_shape_for,
                                 new_figure, symmetric_limit)


def _as_methods(attributions):
    """{method name: array} from an array, a dict of arrays or a PermutationImportance."""
    if hasattr(attributions, "importances_mean"):
        return {f"permutation importance ({attributions.metric})": attributions}
    if isinstance(attributions, dict):
        if not attributions:
            raise ValueError("`attributions` must not be an empty dict")
        return {str(k): numpy.asarray(v, dtype=numpy.float64) for k, v in attributions.items()}
    return {"attribution": numpy.asarray(attributions, dtype=numpy.float64)}


def plot_attributions(x, attributions, image_shape=None, feature_names=None,
                      sample_labels=None, max_samples=6, fig=None, path=None):
    """Draw attributions (from `fastnn.explain`) over the inputs they explain.

    Images: one row per sample, the input on the left and each method's map beside it
    (red where the input raises the explained output, blue where it lowers it; the
    digit's outline drawn over the map). Tabular data: one sample's attributions as bars
    sorted by size; several samples as one dot per sample and feature, coloured by the
    feature's value (low blue, high red); a `PermutationImportance` as bars with error bars.

    Args:
        x: the inputs explained, (n_samples, n_features) or (n_samples, h, w); may be None
            for a PermutationImportance.
        attributions: an array shaped like `x`, a dict {method name: array} to compare
            methods side by side, or a `fastnn.explain.PermutationImportance`.
        image_shape: (height, width) to show flat inputs as images; inferred for 2-D
            inputs, and for square feature counts >= 64 when no `feature_names` are given.
        feature_names: names of the tabular features.
        sample_labels: one caption per image row (e.g. 'true 3, predicted 3').
        max_samples: the most image rows drawn.
        fig: a Figure to draw into; default a new one.
        path: also save the figure to this file.

    Returns:
        The matplotlib Figure.

    Example:
        >>> ig = fastnn.explain.integrated_gradients(model, x_test[:4])
        >>> fig = fastnn.plot.plot_attributions(x_test[:4], ig, image_shape=(28, 28))
    """
    methods = _as_methods(attributions)
    first = next(iter(methods.values()))
    if hasattr(first, "importances_mean"):
        return _importance_bars(first, feature_names, new_figure(fig, (7, 4.2)), path)
    if x is None:
        raise ValueError("`x` must be given for attribution arrays; got None")
    x = numpy.asarray(x, dtype=numpy.float64)
    for name, a in methods.items():
        if a.shape != x.shape:
            raise ValueError(f"`attributions` ({name}) must have the shape of `x` {x.shape}; "
                             f"got {a.shape}")
    if x.ndim == 1:  # one flat sample
        x = x[None]
        methods = {k: v[None] for k, v in methods.items()}
    n_features = int(numpy.prod(x.shape[1:]))
    shape = tuple(x.shape[1:]) if x.ndim == 3 else \
        (image_shape_for(None, n_features, image_shape) if feature_names is None else None)
    if shape is not None:
        return _image_rows(x, methods, shape, sample_labels, max_samples, fig, path)
    names = list(feature_names) if feature_names is not None else \
        [f"feature {i}" for i in range(n_features)]
    if len(names) != n_features:
        raise ValueError(f"`feature_names` must have {n_features} names; got {len(names)}")
    fig = new_figure(fig, figsize=(5.6 * len(methods), 0.8 + 0.42 * min(n_features, 30)))
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    for ax, (name, a) in zip(axes, methods.items()):
        if len(x) == 1:
            _bars(ax, x[0].reshape(-1), a[0].reshape(-1), names, name)
        else:
            _strips(fig, ax, x.reshape(len(x), -1), a.reshape(len(x), -1), names, name)
    return finish(fig, path)


def _image_rows(x, methods, shape, sample_labels, max_samples, fig, path):
    n = min(len(x), max_samples)
    cols = 1 + len(methods)
    fig = new_figure(fig, figsize=(2.1 * cols, 2.15 * n + 0.6))
    axes = numpy.atleast_2d(fig.subplots(n, cols, squeeze=False))
    for r in range(n):
        image = x[r].reshape(shape)
        axes[r, 0].imshow(image, cmap="gray_r", interpolation="nearest")
        caption = sample_labels[r] if sample_labels is not None else f"sample {r}"
        axes[r, 0].set_ylabel(caption, fontsize=9)
        level = image.min() + 0.5 * (image.max() - image.min())
        for c, (name, a) in enumerate(methods.items(), start=1):
            amap = a[r].reshape(shape)
            lim = symmetric_limit(amap)
            axes[r, c].imshow(amap, cmap=DIVERGING, vmin=-lim, vmax=lim,
                              interpolation="nearest")
            if image.max() > image.min():
                axes[r, c].contour(image, levels=[level], colors="#444444", linewidths=0.6,
                                   alpha=0.6)
            if r == 0:
                axes[r, c].set_title(name, fontsize=10)
    axes[0, 0].set_title("input", fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    # on two lines where the figure is too narrow for one (fewer than 5 columns)
    fig.suptitle("red: raises the explained output, blue: lowers it" +
                 ("\n" if cols < 5 else " ") + "(each map on its own scale)", fontsize=9)
    return finish(fig, path)


def _order(values, names, limit=30):
    order = numpy.argsort(values)[::-1][:limit]
    return order[::-1], [names[i] for i in order[::-1]]


def _bars(ax, x, a, names, title):
    order, labels = _order(numpy.abs(a), names)
    labels = [f"{n} = {x[i]:.3g}" for n, i in zip(labels, order)]
    ax.barh(range(len(order)), a[order], color=[POSITIVE if v > 0 else NEGATIVE
                                                 for v in a[order]])
    ax.set_yticks(range(len(order)), labels, fontsize=8)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_xlabel("attribution (red raises the output, blue lowers it)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)


def _strips(fig, ax, x, a, names, title):
    order, labels = _order(numpy.abs(a).mean(axis=0), names)
    rng = numpy.random.default_rng(0)
    # colour by rank, so a few outliers do not wash out the others
    scaled = x.argsort(axis=0).argsort(axis=0) / max(len(x) - 1, 1)
    for row, j in enumerate(order):
        jitter = rng.uniform(-0.25, 0.25, len(a))
        points = ax.scatter(a[:, j], row + jitter, c=scaled[:, j], cmap="coolwarm", vmin=0,
                            vmax=1, s=9, alpha=0.8, edgecolors="none")
    ax.set_yticks(range(len(order)), labels, fontsize=8)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_xlabel("attribution per sample")
    ax.set_title(f"{title} ({len(a)} samples, sorted by mean |attribution|)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    bar = fig.colorbar(points, ax=ax, shrink=0.8, ticks=[0, 1])
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value (rank)")


def _importance_bars(result, feature_names, fig, path):
    mean, std = result.importances_mean, result.importances_std
    names = list(feature_names) if feature_names is not None else \
        [f"feature {i}" for i in range(len(mean))]
    if len(names) != len(mean):
        raise ValueError(f"`feature_names` must have {len(mean)} names; got {len(names)}")
    order, labels = _order(mean, names)
    ax = fig.subplots()
    ax.barh(range(len(order)), mean[order], xerr=std[order], color="#4c72b0",
            ecolor="#555555", capsize=3)
    ax.set_yticks(range(len(order)), labels, fontsize=8)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_xlabel(f"drop in {result.metric} when the feature is shuffled")
    ax.set_title(f"permutation importance (baseline {result.metric} "
                 f"{result.baseline_score:.3g}, {result.importances.shape[1]} repeats)")
    ax.grid(axis="x", alpha=0.3)
    return finish(fig, path)
