"""Which inputs a trained model relies on: gradients, attributions and activations.

Every method runs on the active backend: gradients come from the model's own backward
pass (`model.input_gradient`, a vector-Jacobian product in inference mode) and outputs
from its forward pass, so the results are the same on `reference`, `cpu` and `cupy`.
Attributions have the shape of `x`; a single sample (shaped like one input) gives an
attribution of that shape.

Example:
    >>> import fastnn
    >>> (x, y), _ = fastnn.datasets.load_digits(size=8)
    >>> x = x.reshape(-1, 64).astype("float32") / 255
    >>> model = fastnn.Sequential([fastnn.layers.Dense(32, activation="relu", input_dim=64),
    ...                            fastnn.layers.Dense(10, activation="softmax")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> _ = model.fit(x, y, epochs=2, verbose=0)
    >>> ig = fastnn.explain.integrated_gradients(model, x[:4])
    >>> ig.shape
    (4, 64)
"""
import functools
import numbers

import numpy

from fastnn import _validation
from fastnn.backend import get_backend
from fastnn.layers.base import Workspace

__all__ = ["saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "occlusion",
           "permutation_importance", "activations", "PermutationImportance"]

# Rows per gradient call when many perturbed copies of the inputs are batched together.
_MAX_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- validation
def _check_model(model):
    if not hasattr(model, "input_gradient") or not hasattr(model, "layers"):
        raise TypeError(f"`model` must be a fastnn Sequential model; got {model!r}")
    if not getattr(model, "built", False):
        raise ValueError("`model` must be built (give the first layer input_shape= or fit it) "
                         "before it can be explained")


def _inputs(model, x, name="x"):
    """(x as a batch of the model's dtype, whether a single sample was given)."""
    _check_model(model)
    sample_shape = tuple(model.input_shape[1:])
    arr = numpy.asarray(x)
    single = arr.ndim == len(sample_shape) and tuple(arr.shape) == sample_shape
    if single:
        arr = arr[None]
    return model._prepare_x(arr, name), single


def _n_outputs(model):
    return int(numpy.prod(model.output_shape[1:]))


def _targets(model, x, target):
    """One output index per sample: `target` (an int or one per sample), or by default the
    predicted class (the output itself for a single-output model)."""
    n_out = _n_outputs(model)
    if target is None:
        if n_out == 1:
            return numpy.zeros(len(x), dtype=numpy.int64)
        return model.predict(x, verbose=0).reshape(len(x), -1).argmax(axis=1)
    t = numpy.asarray(target)
    if t.ndim == 0:
        t = numpy.full(len(x), t)
    if t.shape != (len(x),) or not (numpy.issubdtype(t.dtype, numpy.integer)):
        raise ValueError(f"`target` must be an int or {len(x)} ints (one per sample) in "
                         f"[0, {n_out}); got {target!r}")
    if t.min() < 0 or t.max() >= n_out:
        raise ValueError(f"`target` must be in [0, {n_out}) for a model with {n_out} "
                         f"outputs; got {int(t.min() if t.min() < 0 else t.max())}")
    return t.astype(numpy.int64)


def _check_positive(value, name):
    return _validation.positive_int(value, name)


def _baseline(baseline, x, name="baseline"):
    """`baseline` broadcast to x's shape (a scalar, one sample, or one per sample)."""
    b = numpy.asarray(0.0 if baseline is None else baseline, dtype=x.dtype)
    try:
        return numpy.ascontiguousarray(numpy.broadcast_to(b, x.shape))
    except ValueError:
        raise ValueError(f"`{name}` must be a number or an array broadcastable to x's shape "
                         f"{x.shape}; got shape {b.shape}") from None


def _finish(result, single):
    return result[0] if single else result


# --------------------------------------------------------------------------- gradients
def _one_hot(model, targets, dtype):
    g = numpy.zeros((len(targets), _n_outputs(model)), dtype=dtype)
    g[numpy.arange(len(targets)), targets] = 1.0
    return g.reshape((len(targets),) + tuple(model.output_shape[1:]))


def _gradients(model, x, targets):
    """d output[target_i] / d x_i for each row, in chunks of bounded size."""
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    out = numpy.empty_like(x)
    for start in range(0, len(x), rows):
        sl = slice(start, start + rows)
        out[sl] = model.input_gradient(x[sl], _one_hot(model, targets[sl], x.dtype))
    return out


def saliency(model, x, target=None):
    """The gradient of one output with respect to the inputs (a signed saliency map).

    Args:
        model: a built fastnn model.
        x: inputs, (n_samples, *input_shape), or one sample shaped like an input.
        target: the output to explain: an int, one int per sample, or None for the
            predicted class (the single output of a one-output model).

    Returns:
        d f_target(x) / d x, a NumPy array shaped like `x`. Take `numpy.abs` for the
        classic unsigned map.

    Example:
        >>> s = fastnn.explain.saliency(model, x_test[:5], target=3)
    """
    x, single = _inputs(model, x)
    return _finish(_gradients(model, x, _targets(model, x, target)), single)


def gradient_x_input(model, x, target=None):
    """Gradient times input: each feature's first-order contribution to the output.

    Args and Returns as in `saliency`; the result is `x * saliency(model, x, target)`.

    Example:
        >>> a = fastnn.explain.gradient_x_input(model, x_test[:5])
    """
    x, single = _inputs(model, x)
    return _finish(x * _gradients(model, x, _targets(model, x, target)), single)


@functools.lru_cache(maxsize=32)
def _quadrature(steps, method, panels=1):
    """Nodes in [0, 1] and weights summing to 1 for integrating along the path: the rule
    of `steps` points repeated over `panels` equal pieces of the interval."""
    if method == "gausslegendre":
        nodes, weights = numpy.polynomial.legendre.leggauss(steps)
        nodes, weights = (nodes + 1) / 2, weights / 2
    elif method == "trapezoid":
        if steps < 2:
            raise ValueError(f"`steps` must be >= 2 for method='trapezoid'; got {steps}")
        nodes = numpy.linspace(0.0, 1.0, steps)
        weights = numpy.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
    elif method == "riemann_middle":
        nodes, weights = (numpy.arange(steps) + 0.5) / steps, numpy.full(steps, 1.0 / steps)
    else:
        raise ValueError("`method` must be one of ['gausslegendre', 'trapezoid', "
                         f"'riemann_middle']; got {method!r}")
    offsets = numpy.arange(panels)[:, None]
    return ((offsets + nodes) / panels).ravel(), numpy.tile(weights / panels, panels)


def _path_integral(model, x, base, targets, steps, method, panels=1):
    """(x - base) times the gradient averaged along the path, one batched model call."""
    nodes, weights = _quadrature(steps, method, panels)
    steps = len(nodes)
    shape = (-1,) + (1,) * x.ndim
    path = base[None] + nodes.astype(x.dtype).reshape(shape) * (x - base)[None]
    grads = _gradients(model, path.reshape((-1,) + x.shape[1:]),
                       numpy.tile(targets, steps)).reshape(path.shape)
    avg = numpy.tensordot(weights, grads.astype(numpy.float64), axes=1)
    return ((x - base) * avg).astype(x.dtype)


def integrated_gradients(model, x, target=None, baseline=None, steps=50,
                         method="gausslegendre", tolerance=0.01, return_delta=False):
    """Integrated Gradients (Sundararajan et al., 2017): the gradient averaged along the
    straight path from `baseline` to `x`, times `x - baseline`.

    The attributions of a sample add up to f(x) - f(baseline) (completeness), up to the
    quadrature error. All the points on the path are sent through the model in one
    batched call. The error is checked: samples whose attributions miss
    f(x) - f(baseline) by more than `tolerance` (relative) are integrated again with the
    rule repeated over 4, then 16, then 64 pieces of the path, which is what ReLU kinks
    on the path can need.

    Args:
        model: a built fastnn model.
        x: inputs, (n_samples, *input_shape), or one sample.
        target: as in `saliency`.
        baseline: the reference input: a number, one sample or one per sample (default 0,
            a black image / all-zero features).
        steps: the number of points on the path.
        method: 'gausslegendre' (default: the most accurate for a given `steps`),
            'riemann_middle', or 'trapezoid' (which evaluates the gradient at the
            baseline itself, where every ReLU of a zero baseline sits on its kink).
        tolerance: the completeness error allowed before refining, relative to
            |f(x) - f(baseline)|; None keeps exactly `steps` points.
        return_delta: also return, per sample, sum(attributions) - (f(x) - f(baseline)).

    Returns:
        Attributions shaped like `x` (and the completeness error if `return_delta`).

    Example:
        >>> ig = fastnn.explain.integrated_gradients(model, x_test[:5], steps=64)
    """
    x, single = _inputs(model, x)
    steps = _check_positive(steps, "steps")
    base = _baseline(baseline, x)
    targets = _targets(model, x, target)
    _quadrature(steps, method)  # validate before any work
    attr = _path_integral(model, x, base, targets, steps, method)
    if tolerance is not None or return_delta:
        change = _outputs(model, x, targets) - _outputs(model, base, targets)
        delta = attr.reshape(len(x), -1).sum(axis=1, dtype=numpy.float64) - change
        floor = 100 * numpy.finfo(x.dtype).eps * max(1.0, float(numpy.abs(change).max()))
        for panels in ((4, 16, 64) if tolerance is not None else ()):
            redo = numpy.flatnonzero(numpy.abs(delta) > tolerance * numpy.abs(change) + floor)
            if not len(redo):
                break
            attr[redo] = _path_integral(model, x[redo], base[redo], targets[redo],
                                        steps, method, panels)
            delta[redo] = attr[redo].reshape(len(redo), -1).sum(axis=1, dtype=numpy.float64) \
                - change[redo]
    if not return_delta:
        return _finish(attr, single)
    return _finish(attr, single), (delta[0] if single else delta)


def smoothgrad(model, x, target=None, n_samples=50, noise=0.1, seed=None):
    """SmoothGrad (Smilkov et al., 2017): the saliency averaged over noisy copies of `x`.

    Args:
        model, x, target: as in `saliency`.
        n_samples: noisy copies per input (all sent through the model in one batch).
        noise: the noise's standard deviation as a fraction of each sample's value
            range (max - min), as in the paper (0.1 to 0.2 works well).
        seed: seed of the noise (`numpy.random.default_rng`).

    Returns:
        The averaged gradient, shaped like `x`.

    Example:
        >>> s = fastnn.explain.smoothgrad(model, x_test[:5], n_samples=25, seed=0)
    """
    x, single = _inputs(model, x)
    n_samples = _check_positive(n_samples, "n_samples")
    noise = _validation.real(noise, "noise", 0)
    targets = _targets(model, x, target)
    flat = x.reshape(len(x), -1)
    sigma = noise * (flat.max(axis=1) - flat.min(axis=1))
    rng = numpy.random.default_rng(seed)
    eps = rng.standard_normal((n_samples,) + x.shape) * sigma.reshape((1, -1) + (1,) * (x.ndim - 1))
    noisy = (x[None] + eps).astype(x.dtype).reshape((-1,) + x.shape[1:])
    grads = _gradients(model, noisy, numpy.tile(targets, n_samples))
    return _finish(grads.reshape((n_samples,) + x.shape).mean(axis=0).astype(x.dtype), single)


def _outputs(model, x, targets):
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    pieces = [model.predict(x[s:s + rows], verbose=0).reshape(len(x[s:s + rows]), -1)
              for s in range(0, len(x), rows)]
    return numpy.concatenate(pieces)[numpy.arange(len(x)), targets]


def _patches(image_shape, window, stride):
    """Boolean masks (n_patches, h, w) of a window sliding over the image."""
    (h, w), (wh, ww), (sh, sw) = image_shape, window, stride
    rows = list(range(0, max(h - wh, 0) + 1, sh))
    cols = list(range(0, max(w - ww, 0) + 1, sw))
    rows += [h - wh] if rows[-1] != max(h - wh, 0) else []
    cols += [w - ww] if cols[-1] != max(w - ww, 0) else []
    masks = numpy.zeros((len(rows) * len(cols), h, w), dtype=bool)
    for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[i, r:r + wh, c:c + ww] = True
    return masks


def _pair(value, name):
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                             or v <= 0 for v in pair):
        raise ValueError(f"`{name}` must be a positive int or a pair of them; got {value!r}")
    return tuple(int(v) for v in pair)


def occlusion(model, x, target=None, window=None, stride=None, baseline=0, image_shape=None):
    """Occlusion sensitivity: how much the target output drops when part of the input is
    replaced by `baseline`.

    For images (`image_shape` given, or a model whose inputs are 2-D) a `window` slides
    over the image and each pixel gets the mean drop over the windows that cover it; for
    tabular inputs each feature is occluded on its own.

    Args:
        model, x, target: as in `saliency`.
        window: the patch size for images, an int or (height, width); default about a
            seventh of the image side (4 for 28x28).
        stride: the step between patches; default half the window.
        baseline: the value put in the occluded region (a number, or an array shaped
            like one sample).
        image_shape: (height, width) of flat image inputs, e.g. (28, 28).

    Returns:
        f(x) - f(occluded x) per feature, shaped like `x`: positive where hiding the input
        lowers the target output.

    Example:
        >>> occ = fastnn.explain.occlusion(model, x_test[:3], image_shape=(28, 28))
    """
    x, single = _inputs(model, x)
    targets = _targets(model, x, target)
    n_features = x[0].size
    if image_shape is None and x.ndim == 3:
        image_shape = x.shape[1:]
    if image_shape is None:
        masks = numpy.eye(n_features, dtype=bool)
    else:
        image_shape = _pair(image_shape, "image_shape")
        if image_shape[0] * image_shape[1] != n_features:
            raise ValueError(f"`image_shape` must multiply to the {n_features} input "
                             f"features; got {image_shape}")
        window = _pair(window or max(1, round(min(image_shape) / 7)), "window")
        stride = _pair(stride or tuple(max(1, w // 2) for w in window), "stride")
        masks = _patches(image_shape, window, stride).reshape(-1, n_features)
    fill = _baseline(baseline, x[:1]).reshape(-1)
    coverage = masks.sum(axis=0).astype(numpy.float64)
    base_out = _outputs(model, x, targets)
    result = numpy.zeros((len(x), n_features))
    for i, sample in enumerate(x.reshape(len(x), -1)):
        occluded = numpy.where(masks, fill[None], sample[None]).astype(x.dtype)
        drop = base_out[i] - _outputs(model, occluded.reshape((-1,) + x.shape[1:]),
                                      numpy.full(len(masks), targets[i]))
        result[i] = drop @ masks / numpy.maximum(coverage, 1)
    return _finish(result.reshape(x.shape).astype(x.dtype), single)


def activations(model, x):
    """Every layer's output for `x`, in inference mode.

    Args:
        model: a built fastnn model.
        x: inputs, (n_samples, *input_shape).

    Returns:
        A list with one NumPy array per layer (copies), in layer order.

    Example:
        >>> hidden, dropped, probs = fastnn.explain.activations(model, x_test[:100])
    """
    x, _ = _inputs(model, x)
    backend = get_backend()
    workspace = Workspace()
    outputs = [[] for _ in model.layers]
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    for start in range(0, len(x), rows):
        out = backend.asarray(x[start:start + rows])
        for i, layer in enumerate(model.layers):
            out = layer.forward(out, False, workspace)
            outputs[i].append(backend.to_numpy(out).copy())
    return [numpy.concatenate(parts) for parts in outputs]


# permutation importance lives in its own module; it uses the checks above
from fastnn._permutation import PermutationImportance, permutation_importance  # noqa: E402
