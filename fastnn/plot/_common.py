"""Shared helpers of fastnn.plot: the lazy matplotlib import, figure creation and saving,
colours, and reading models and histories."""
import numpy

# Positive weights/attributions red, negative blue, everywhere in fastnn.plot.
DIVERGING = "RdBu_r"
POSITIVE, NEGATIVE = "#c0392b", "#2e6fb7"
TRAIN, VALIDATION = "#1f77b4", "#ff7f0e"


def pyplot():
    """matplotlib.pyplot, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("fastnn.plot needs matplotlib: pip install fastnn[plot]") from None
    return plt


def new_axes(ax=None, figsize=(6.4, 4.4)):
    """(figure, axes): the given axes' figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, ax


def new_figure(fig=None, figsize=(8, 5), layout="constrained"):
    """The given figure (cleared), or a new one (with constrained layout by default)."""
    if fig is not None:
        fig.clear()
        return fig
    return pyplot().figure(figsize=figsize, layout=layout)


def finish(fig, path=None, dpi=120):
    """Save `fig` to `path` when given; return it."""
    if path is not None:
        fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return fig


def symmetric_limit(values):
    """max |values|, never 0, for a colour scale centred on zero."""
    m = float(numpy.nanmax(numpy.abs(values))) if numpy.size(values) else 0.0
    return m if m > 0 else 1.0


def history_dict(history):
    """(dict of lists, 1-based epoch numbers) from a History or its `.history` dict."""
    data = getattr(history, "history", history)
    if not isinstance(data, dict) or not data:
        raise ValueError("`history` must be a History (as returned by fit) or its non-empty "
                         f".history dict; got {history!r}")
    n = max(len(v) for v in data.values())
    epochs = getattr(history, "epoch", None)
    epochs = numpy.asarray(epochs) + 1 if epochs is not None and len(epochs) == n \
        else numpy.arange(1, n + 1)
    return data, epochs


def check_model(model):
    """A ValueError unless `model` is a built fastnn model."""
    if not hasattr(model, "layers") or not hasattr(model, "input_shape"):
        raise TypeError(f"`model` must be a fastnn Sequential model; got {model!r}")
    if not getattr(model, "built", False):
        raise ValueError("`model` must be built (give the first layer input_shape= or fit "
                         "it) before it can be plotted")


def dense_layers(model):
    """[(index, layer, kernel, bias or None)] for each layer with a kernel, as NumPy."""
    check_model(model)
    out = []
    for i, layer in enumerate(model.layers):
        if getattr(layer, "kernel", None) is not None:
            weights = layer.get_weights()
            out.append((i, layer, weights[0], weights[1] if len(weights) > 1 else None))
    if not out:
        raise ValueError(f"`model` must have at least one Dense layer; got layers "
                         f"{[l.name for l in model.layers]}")
    return out


def activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "name", None)


def image_shape_for(model, n_features, image_shape=None):
    """(h, w) to show `n_features` inputs as an image, or None for tabular inputs."""
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 2 or shape[0] * shape[1] != n_features:
            raise ValueError(f"`image_shape` must be (height, width) with height * width = "
                             f"{n_features} (the input features); got {image_shape!r}")
        return shape
    if model is not None and len(model.input_shape) == 3:
        return tuple(model.input_shape[1:])
    side = int(round(n_features ** 0.5))
    return (side, side) if side * side == n_features and side >= 8 else None


def grid(n, max_cols=10):
    """(rows, cols) of a near-square grid holding n tiles."""
    cols = min(max_cols, max(1, int(numpy.ceil(numpy.sqrt(n * 1.6)))))
    return int(numpy.ceil(n / cols)), cols


def class_labels(y, name="y"):
    """Integer class labels from labels, one-hot rows or probabilities."""
    from fastnn import _validation
    y = _validation.numeric_array(y, name)
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(f"`{name}` must be class labels (n_samples,) or rows of class "
                         f"scores (n_samples, n_classes); got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if numpy.issubdtype(y.dtype, numpy.floating) and not numpy.all(y == numpy.round(y)):
        return (y > 0.5).astype(numpy.int64)
    return y.astype(numpy.int64)


def matplotlib_module():
    """The matplotlib package, with pyplot (and so patches, collections, colors) loaded."""
    pyplot()
    import matplotlib
    return matplotlib
