"""Attributions from gradients: saliency, gradient x input, integrated gradients and
SmoothGrad."""
import functools

import numpy

from fastnn import _validation
from fastnn.explain._common import (_baseline, _check_positive, _finish, _gradients,
                                    _inputs, _outputs, _targets)


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
