"""Attributions from perturbed inputs: occlusion sensitivity."""
import numbers

import numpy

from fastnn.explain._common import _baseline, _finish, _inputs, _outputs, _targets


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
