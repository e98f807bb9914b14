"""Tests of fastnn.datasets: the bundled digits and the synthetic generators."""
import numpy as np
import pytest

from fastnn.datasets import load_digits, make_blobs, make_spirals, make_tabular

N_DIGITS = 1797
CLASS_COUNTS = np.array([178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


@pytest.fixture(scope="module")
def digits8():
    return load_digits()


@pytest.fixture(scope="module")
def digits28():
    return load_digits(size=28)


def _area_downsample(images, n_out):
    """Average (n, s, s) images over an n_out x n_out grid of equal cells."""
    n_in = images.shape[1]
    edges_in = np.arange(n_in + 1)
    edges_out = np.linspace(0, n_in, n_out + 1)
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    weights = np.clip(hi - lo, 0, None) / (n_in / n_out)
    return np.einsum("ij,njk,lk->nil", weights, images.astype(np.float64), weights)


def _correlations(a, b):
    """Pearson correlation of each image in `a` with the same image in `b`."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


# --------------------------------------------------------------------------- load_digits

def test_digits_shapes_dtypes_ranges(digits8):
    (x_train, y_train), (x_test, y_test) = digits8
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert y_train.shape == (1438,) and y_test.shape == (359,)
    for arr in (x_train, y_train, x_test, y_test):
        assert arr.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 255
    # 0..16 rescaled by 255/16 and rounded: only 17 distinct levels
    levels = np.unique(np.concatenate([x_train.ravel(), x_test.ravel()]))
    assert set(levels.tolist()) <= set(np.rint(np.arange(17) * 255 / 16).astype(int).tolist())
    assert y_train.max() == 9 and y_test.max() == 9


def test_digits_split_is_a_stratified_partition(digits8):
    (x_train, y_train), (x_test, y_test) = digits8
    train_counts = np.bincount(y_train, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, CLASS_COUNTS)
    assert np.all(test_counts > 0) and np.all(train_counts > 0)
    assert np.all(np.abs(test_counts - 0.2 * CLASS_COUNTS) <= 1)
    # no image lost or duplicated: the pooled images match the other seed's pool
    (x2_train, _), (x2_test, _) = load_digits(seed=5)
    pooled = np.sort(np.concatenate([x_train, x_test]).reshape(N_DIGITS, -1), axis=0)
    pooled2 = np.sort(np.concatenate([x2_train, x2_test]).reshape(N_DIGITS, -1), axis=0)
    np.testing.assert_array_equal(pooled, pooled2)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_digits_test_fraction(fraction):
    (_, y_train), (_, y_test) = load_digits(test_fraction=fraction, seed=1)
    test_counts = np.bincount(y_test, minlength=10)
    assert np.all(np.abs(test_counts - fraction * CLASS_COUNTS) <= 1)
    assert np.all(np.bincount(y_train, minlength=10) > 0)


def test_digits_deterministic_per_seed(digits8):
    (x_train, y_train), (x_test, y_test) = digits8
    (x2_train, y2_train), (x2_test, y2_test) = load_digits(seed=0)
    np.testing.assert_array_equal(x_train, x2_train)
    np.testing.assert_array_equal(y_train, y2_train)
    np.testing.assert_array_equal(x_test, x2_test)
    (x3_train, y3_train), _ = load_digits(seed=1)
    assert not np.array_equal(y_train, y3_train)
    assert not np.array_equal(x_train, x3_train)


def test_digits_labels_match_images(digits8):
    """A nearest-centroid classifier only works if labels belong to their images."""
    (x_train, y_train), (x_test, y_test) = digits8
    x_train = x_train.reshape(len(x_train), -1) / 255.0
    x_test = x_test.reshape(len(x_test), -1) / 255.0
    centroids = np.stack([x_train[y_train == c].mean(axis=0) for c in range(10)])
    distances = ((x_test[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = np.mean(distances.argmin(axis=1) == y_test)
    assert accuracy > 0.8


def test_digits_28_is_mnist_shaped(digits28, digits8):
    (x_train, y_train), (x_test, y_test) = digits28
    assert x_train.shape == (1438, 28, 28) and x_test.shape == (359, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() == 255 and x_train.min() == 0
    # same split and labels as at size 8
    np.testing.assert_array_equal(y_train, digits8[0][1])
    np.testing.assert_array_equal(y_test, digits8[1][1])
    x = np.concatenate([x_train, x_test])
    # the digit lies in the central 20x20 box: a 4-pixel empty border
    assert not x[:, :4].any() and not x[:, -4:].any()
    assert not x[:, :, :4].any() and not x[:, :, -4:].any()
    # ink is centred on average, like MNIST
    ink = x.astype(np.float64)
    grid = np.arange(28)
    rows = (ink.sum(axis=2) @ grid) / ink.sum(axis=(1, 2))
    cols = (ink.sum(axis=1) @ grid) / ink.sum(axis=(1, 2))
    assert abs(rows.mean() - 13.5) < 1.0 and abs(cols.mean() - 13.5) < 1.0
    # MNIST-style preprocessing runs
    flat = x_train.reshape(-1, 784).astype(np.float32) / 255
    assert flat.shape == (1438, 784) and 0.0 <= flat.min() and flat.max() <= 1.0


def test_digits_28_downsampled_resembles_original(digits28, digits8):
    (x28, _), _ = digits28
    (x8, _), _ = digits8
    corr = _correlations(_area_downsample(x28[:, 4:24, 4:24], 8), x8)
    assert corr.min() > 0.9
    assert corr.mean() > 0.95


@pytest.mark.parametrize("size", [8, 9, 16, 32])
def test_digits_other_sizes(size, digits8):
    (x_train, y_train), (x_test, _) = load_digits(size=size)
    assert x_train.shape == (1438, size, size) and x_test.shape == (359, size, size)
    assert x_train.dtype == np.uint8
    np.testing.assert_array_equal(y_train, digits8[0][1])
    if size == 8:
        np.testing.assert_array_equal(x_train, digits8[0][0])
    else:  # resampled back to 8x8, the image resembles the original
        assert _correlations(_area_downsample(x_train, 8), digits8[0][0]).min() > 0.9


@pytest.mark.parametrize("kwargs, error, name", [
    ({"size": 7}, ValueError, "size"),
    ({"size": 28.0}, TypeError, "size"),
    ({"size": "28"}, TypeError, "size"),
    ({"size": True}, TypeError, "size"),
    ({"test_fraction": 0}, ValueError, "test_fraction"),
    ({"test_fraction": 1.0}, ValueError, "test_fraction"),
    ({"test_fraction": -0.2}, ValueError, "test_fraction"),
    ({"test_fraction": "0.2"}, TypeError, "test_fraction"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_digits_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=f"`{name}`") as info:
        load_digits(**kwargs)
    assert "got" in str(info.value)


# --------------------------------------------------------------------------- generators

GENERATORS = [make_spirals, make_blobs, make_tabular]


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_deterministic_per_seed(make):
    x1, y1 = make(n_samples=200, seed=3)
    x2, y2 = make(n_samples=200, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x3, _ = make(n_samples=200, seed=4)
    assert not np.array_equal(x1, x3)


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_dtypes(make):
    x, y = make(seed=0)
    assert x.dtype == np.float32 and np.issubdtype(y.dtype, np.integer)
    assert x.ndim == 2 and y.shape == (len(x),)
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("n_samples, n_classes", [(1000, 2), (301, 3), (5, 5)])
def test_make_spirals_shapes_and_classes(n_samples, n_classes):
    x, y = make_spirals(n_samples=n_samples, n_classes=n_classes, seed=0)
    assert x.shape == (n_samples, 2) and y.shape == (n_samples,)
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    assert np.abs(x).max() < 1.0 + 1e-6
    # shuffled, not grouped by class
    assert n_samples < 10 or np.any(np.diff(y) < 0)


def test_make_spirals_noise_free_arms_are_separate():
    """Without noise each arm is a curve r = theta / 3pi rotated by 2pi k / K."""
    x, y = make_spirals(n_samples=500, n_classes=3, noise=0.0, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    angle = np.arctan2(x[:, 0], x[:, 1])
    expected = 2 * np.pi * y / 3 + 3 * np.pi * radius
    residual = np.angle(np.exp(1j * (angle - expected)))
    assert np.abs(residual).max() < 1e-4


def test_make_blobs_shapes_and_clusters():
    x, y = make_blobs(n_samples=600, n_features=5, centers=4, cluster_std=0.5, seed=0)
    assert x.shape == (600, 5)
    np.testing.assert_array_equal(np.bincount(y), [150, 150, 150, 150])
    for label in range(4):
        members = x[y == label]
        assert np.allclose(members.std(axis=0), 0.5, atol=0.1)


def test_make_blobs_explicit_centers_and_stds():
    centers = [[0.0, 0.0], [10.0, -10.0]]
    x, y = make_blobs(n_samples=2001, centers=centers, cluster_std=[0.5, 2.0], seed=1)
    assert x.shape == (2001, 2) and sorted(np.unique(y).tolist()) == [0, 1]
    for label, std in enumerate([0.5, 2.0]):
        members = x[y == label]
        np.testing.assert_allclose(members.mean(axis=0), centers[label], atol=0.2)
        np.testing.assert_allclose(members.std(axis=0), std, rtol=0.1)


def test_make_tabular_is_pima_like():
    x, y = make_tabular(seed=0)
    assert x.shape == (768, 8) and set(np.unique(y).tolist()) == {0, 1}
    big_x, big_y = make_tabular(n_samples=20000, n_features=10, n_informative=3, seed=2)
    assert big_x.shape == (20000, 10)
    assert 0.30 < big_y.mean() < 0.40
    np.testing.assert_allclose(big_x.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(big_x.std(axis=0), 1.0, atol=0.05)
    # only the informative columns carry signal beyond what they share
    corr = [abs(np.corrcoef(big_x[:, j], big_y)[0, 1]) for j in range(10)]
    assert max(corr[:3]) > 0.2


def test_make_tabular_is_learnable_but_noisy():
    """Logistic regression by gradient descent lands in the 70-88% band."""
    x, y = make_tabular(n_samples=4000, seed=0)
    x_train, y_train, x_test, y_test = x[:3000], y[:3000], x[3000:], y[3000:]
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(300):
        p = 1 / (1 + np.exp(-(x_train @ w + b)))
        w -= 0.5 * x_train.T @ (p - y_train) / len(y_train)
        b -= 0.5 * np.mean(p - y_train)
    accuracy = np.mean(((x_test @ w + b) > 0) == y_test)
    assert 0.70 < accuracy < 0.88


@pytest.mark.parametrize("make, kwargs, error, name", [
    (make_spirals, {"n_samples": 1}, ValueError, "n_samples"),
    (make_spirals, {"n_classes": 1}, ValueError, "n_classes"),
    (make_spirals, {"n_classes": 2.5}, TypeError, "n_classes"),
    (make_spirals, {"noise": -0.1}, ValueError, "noise"),
    (make_spirals, {"seed": "a"}, TypeError, "seed"),
    (make_blobs, {"n_samples": 2}, ValueError, "n_samples"),
    (make_blobs, {"n_features": 0}, ValueError, "n_features"),
    (make_blobs, {"centers": 0}, ValueError, "centers"),
    (make_blobs, {"centers": [[0, 0, 0]]}, ValueError, "centers"),
    (make_blobs, {"cluster_std": 0.0}, ValueError, "cluster_std"),
    (make_blobs, {"cluster_std": [1.0, 2.0]}, ValueError, "cluster_std"),
    (make_tabular, {"n_samples": 0}, ValueError, "n_samples"),
    (make_tabular, {"n_features": 3, "n_informative": 4}, ValueError, "n_informative"),
    (make_tabular, {"n_informative": 0}, ValueError, "n_informative"),
    (make_tabular, {"n_features": None}, TypeError, "n_features"),
])
def test_generators_bad_arguments(make, kwargs, error, name):
    with pytest.raises(error, match=f"`{name}`") as info:
        make(**kwargs)
    assert "got" in str(info.value)
