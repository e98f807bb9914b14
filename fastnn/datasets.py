"""Small datasets for examples and tests: real handwritten digits and synthetic generators.

`load_digits` returns the UCI optical recognition of handwritten digits (1,797 images,
8x8, bundled with the package) split like `keras.datasets.mnist.load_data()`; with
`size=28` the images are upscaled and placed the way MNIST places its digits, so programs
written for MNIST run unchanged. `make_spirals`, `make_blobs` and `make_tabular` generate
classification problems from a seed.
"""
import numbers
from pathlib import Path

import numpy as np

from fastnn import _validation

__all__ = ["load_digits", "make_spirals", "make_blobs", "make_tabular"]

_DIGITS_PATH = Path(__file__).resolve().parent / "data" / "digits.npz"
_DIGITS_MAX = 16  # the UCI pixels count "on" pixels in 4x4 blocks: 0..16
_MNIST_SIZE, _MNIST_BOX = 28, 20  # MNIST fits each digit into a 20x20 box centred in 28x28


# --------------------------------------------------------------------------- validation

def _check_int(name, value, minimum):
    return _validation.integer(value, name, minimum=minimum)


def _check_real(name, value, expected, is_valid):
    as_float = _validation.real(value, name)
    if not is_valid(as_float):
        raise ValueError(f"`{name}` must be {expected}; got {value!r}")
    return as_float


def _check_seed(seed):
    return np.random.default_rng(None if seed is None else _validation.seed(seed))


# --------------------------------------------------------------------------- digits

def _resample_matrix(n_in, n_out):
    """Bilinear weights (n_out, n_in), n_in >= 2, mapping pixel centres, edges clamped."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    left = np.minimum(np.floor(src).astype(np.intp), n_in - 2)
    frac = src - left
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    weights[rows, left] = 1.0 - frac
    weights[rows, left + 1] = frac
    return weights


def _resize(images, size):
    """Bilinear resize of (n, h, w) float images to (n, size, size)."""
    rows = _resample_matrix(images.shape[1], size)
    cols = _resample_matrix(images.shape[2], size)
    return np.einsum("ij,njk,lk->nil", rows, images, cols, optimize=True)


def _to_uint8(images):
    """Rescale 0..16 intensities to 0..255 and round to uint8."""
    scaled = np.rint(images * (255.0 / _DIGITS_MAX))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _render(images, size):
    """The 8x8 0..16 images at `size`, as uint8 0..255 (MNIST placement for 28)."""
    images = images.astype(np.float64)
    if size == _MNIST_SIZE:
        pad = (_MNIST_SIZE - _MNIST_BOX) // 2
        out = np.zeros((len(images), size, size))
        out[:, pad:pad + _MNIST_BOX, pad:pad + _MNIST_BOX] = _resize(images, _MNIST_BOX)
        return _to_uint8(out)
    if size != images.shape[1]:
        images = _resize(images, size)
    return _to_uint8(images)


def _stratified_split(labels, test_fraction, rng):
    """Shuffled train and test indices with each class split in proportion."""
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(np.clip(np.rint(test_fraction * len(members)), 1, len(members) - 1))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(size=8, test_fraction=0.2, seed=0):
    """Loads the UCI handwritten digits (1,797 images of 0-9), split into train and test.

    The images are the 8x8 "optical recognition of handwritten digits" data of
    Alpaydin & Kaynak (UCI Machine Learning Repository, CC BY 4.0), bundled with fastnn.
    Each pixel counts the ink in a 4x4 block of a 32x32 bitmap (0..16); it is rescaled to
    0..255 like MNIST. With `size=28` each digit is upscaled to 20x20 and centred in a
    28x28 frame with a 4-pixel empty border, as MNIST does, so MNIST programs
    (`x.reshape(-1, 784) / 255`) run on real handwriting. The split is stratified: every
    class is split in the same proportion.

    Args:
        size: Side of the returned images, an int >= 8. 8 gives the original pixels,
            28 the MNIST layout; any other size resamples the 8x8 image bilinearly.
        test_fraction: Share of each class held out for testing, in (0, 1).
        seed: Seed of the shuffle and split (`numpy.random.default_rng`); the same seed
            gives the same split. None draws a fresh one.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 of shape `(n, size, size)`
        with values 0..255, `y` uint8 labels 0..9. With the defaults, 1,438 training and
        359 test images.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits(size=28)
    >>> x_train.shape, x_train.dtype, y_train[:5].dtype
    ((1438, 28, 28), dtype('uint8'), dtype('uint8'))
    >>> x = x_train.reshape(-1, 784).astype("float32") / 255
    """
    size = _check_int("size", size, 8)
    test_fraction = _check_real("test_fraction", test_fraction, "in (0, 1)",
                                lambda v: 0 < v < 1)
    rng = _check_seed(seed)
    with np.load(_DIGITS_PATH, allow_pickle=False) as data:
        images, labels = data["images"], data["labels"]
    train, test = _stratified_split(labels, test_fraction, rng)
    x = _render(images, size)
    return (x[train], labels[train]), (x[test], labels[test])


# --------------------------------------------------------------------------- generators

def _class_sizes(n_samples, n_classes):
    """Split n_samples as evenly as possible; the first classes take the remainder."""
    sizes = np.full(n_classes, n_samples // n_classes)
    sizes[: n_samples % n_classes] += 1
    return sizes


def make_spirals(n_samples=1000, n_classes=2, noise=0.2, seed=None):
    """Generates interleaved 2-D spirals, one arm per class.

    Each arm turns 1.5 times from the origin out to radius 1; the arms are rotated
    evenly around the origin. Points are spread along each arm uniformly, and Gaussian
    noise of standard deviation `noise` is added to their angle (in radians), which
    blurs the arms most near the centre. A small MLP separates the classes; a linear
    classifier cannot.

    Args:
        n_samples: Total number of points, an int >= `n_classes`; split as evenly as
            possible between the classes.
        n_classes: Number of arms (classes), an int >= 2.
        noise: Standard deviation of the angular noise in radians, >= 0.
        seed: Seed for `numpy.random.default_rng`; None draws a fresh one.

    Returns:
        `(x, y)`: `x` float32 of shape `(n_samples, 2)` with coordinates in about
        [-1, 1], `y` int64 labels in `0..n_classes - 1`, in shuffled order.

    Example:

    >>> x, y = make_spirals(n_samples=600, n_classes=3, seed=0)
    >>> x.shape, x.dtype, sorted(set(y.tolist()))
    ((600, 2), dtype('float32'), [0, 1, 2])
    """
    n_classes = _check_int("n_classes", n_classes, 2)
    n_samples = _check_int("n_samples", n_samples, n_classes)
    noise = _check_real("noise", noise, ">= 0", lambda v: v >= 0)
    rng = _check_seed(seed)
    sizes = _class_sizes(n_samples, n_classes)
    y = np.repeat(np.arange(n_classes), sizes)
    radius = rng.uniform(0.0, 1.0, n_samples)
    angle = (2 * np.pi * y / n_classes + 3 * np.pi * radius
             + noise * rng.standard_normal(n_samples))
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order].astype(np.int64)


def _blob_centers(centers, n_features, rng):
    """An array (n_centers, n_features) from an int count or explicit coordinates."""
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        n_centers = _check_int("centers", centers, 1)
        return rng.uniform(-10.0, 10.0, size=(n_centers, n_features))
    try:
        coords = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError):
        coords = None
    if coords is None or coords.ndim != 2 or coords.shape[1] != n_features \
            or len(coords) == 0 or not np.all(np.isfinite(coords)):
        shape = getattr(coords, "shape", None)
        raise ValueError(f"`centers` must be an int >= 1 or an array of shape "
                         f"(n_centers, {n_features}) (n_features={n_features}); "
                         f"got {centers!r}" + (f" with shape {shape}" if shape else ""))
    return coords


def make_blobs(n_samples=1000, n_features=2, centers=3, cluster_std=1.0, seed=None):
    """Generates isotropic Gaussian blobs, one class per blob.

    Args:
        n_samples: Total number of points, an int >= the number of centres; split as
            evenly as possible between the blobs.
        n_features: Dimension of each point, an int >= 1.
        centers: Number of blobs (their centres drawn uniformly in [-10, 10] per
            coordinate), or their coordinates as an array `(n_centers, n_features)`.
        cluster_std: Standard deviation of every blob, > 0, or one per blob.
        seed: Seed for `numpy.random.default_rng`; None draws a fresh one.

    Returns:
        `(x, y)`: `x` float32 of shape `(n_samples, n_features)`, `y` int64 blob
        indices in `0..n_centers - 1`, in shuffled order.

    Example:

    >>> x, y = make_blobs(n_samples=300, centers=[[0, 0], [5, 5]], seed=0)
    >>> x.shape, int(y.max())
    ((300, 2), 1)
    """
    n_features = _check_int("n_features", n_features, 1)
    rng = _check_seed(seed)
    coords = _blob_centers(centers, n_features, rng)
    n_centers = len(coords)
    n_samples = _check_int("n_samples", n_samples, n_centers)
    std = np.asarray(cluster_std, dtype=np.float64) \
        if not isinstance(cluster_std, bool) else np.array(np.nan)
    if std.ndim > 1 or (std.ndim == 1 and len(std) != n_centers) \
            or not np.all(np.isfinite(std)) or np.any(std <= 0):
        raise ValueError(f"`cluster_std` must be a positive number or {n_centers} positive "
                         f"numbers (one per centre); got {cluster_std!r}")
    std = np.broadcast_to(std, (n_centers,))
    y = np.repeat(np.arange(n_centers), _class_sizes(n_samples, n_centers))
    x = coords[y] + std[y, None] * rng.standard_normal((n_samples, n_features))
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order].astype(np.int64)


# Scale and offset of the logit in make_tabular, chosen so that about 35% of the labels
# are positive and the best possible accuracy is about 0.81.
_TABULAR_SCALE, _TABULAR_BIAS, _TABULAR_INTERACTION = 2.0, -0.9, 0.5


def make_tabular(n_samples=768, n_features=8, n_informative=4, seed=None):
    """Generates a binary tabular problem shaped like the Pima diabetes data.

    The first `n_informative` columns are independent standard normals; the label is
    drawn from a logistic model of them (a weighted sum plus one interaction of the
    first two), so labels are noisy: even the true model is right only about 81% of
    the time, and a small MLP reaches about 75-85% test accuracy. About 35% of the
    labels are 1. The other columns carry no information of their own; half of their
    variance is shared with an informative column, as correlated measurements are in
    real tabular data. Every column has mean 0 and variance 1.

    Args:
        n_samples: Number of rows, an int >= 1. The default matches Pima (768).
        n_features: Number of columns, an int >= 1.
        n_informative: Number of columns the label depends on, `1..n_features`.
        seed: Seed for `numpy.random.default_rng`; None draws a fresh one.

    Returns:
        `(x, y)`: `x` float32 of shape `(n_samples, n_features)`, `y` int64 labels 0/1.

    Example:

    >>> x, y = make_tabular(seed=0)
    >>> x.shape, x.dtype, sorted(set(y.tolist()))
    ((768, 8), dtype('float32'), [0, 1])
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_features = _check_int("n_features", n_features, 1)
    n_informative = _check_int("n_informative", n_informative, 1)
    if n_informative > n_features:
        raise ValueError(f"`n_informative` must be <= n_features ({n_features}); "
                         f"got {n_informative}")
    rng = _check_seed(seed)
    informative = rng.standard_normal((n_samples, n_informative))
    weights = np.linspace(1.0, 0.4, n_informative) * rng.choice([-1.0, 1.0], n_informative)
    logit = informative @ (weights / np.linalg.norm(weights))
    if n_informative >= 2:
        # Signed by the two weights so that the label rate does not depend on the seed.
        sign = np.sign(weights[0] * weights[1])
        logit = logit + sign * _TABULAR_INTERACTION * informative[:, 0] * informative[:, 1]
    probability = 1.0 / (1.0 + np.exp(-(_TABULAR_SCALE * logit + _TABULAR_BIAS)))
    y = (rng.uniform(size=n_samples) < probability).astype(np.int64)
    n_other = n_features - n_informative
    shared = informative[:, np.arange(n_other) % n_informative]
    other = np.sqrt(0.5) * (shared + rng.standard_normal((n_samples, n_other)))
    x = np.concatenate([informative, other], axis=1)
    return x.astype(np.float32), y
