"""Weight constraints, Normalization and the noise layers (GaussianNoise, GaussianDropout,
AlphaDropout) in the cpu backend's compiled step: one fused call per training step, with
the bits of the layer-by-layer executor (weights, losses, predictions) in float32 and
float64, the same bits on 1 and 2 threads, the reference backend's values within
rounding; the constraint kernels bit for bit fastnn/constraints.py, and the noise the
counter-based normal draw of fastnn/_philox.py (its compiled twin the same bits, its
values a standard normal sample)."""
import math
import os

import numpy as np
import pytest

import fastnn
from fastnn import _philox, constraints as C, layers as L, models
from conftest import BACKENDS, needs_openmp
from fastpath_common import (COMPILED, SCC, check_one_and_two_threads,
                             check_reference_backend, compiled_and_layered, data, fit_stack,
                             same_bits)

pytestmark = pytest.mark.skipif("cpu" not in BACKENDS, reason="the cpu backend is not built")

STACKS = {
    "max_norm_non_neg": lambda w: [
        L.Dense(w, "relu", input_shape=(8,), kernel_constraint=C.MaxNorm(0.5),
                bias_constraint="non_neg"),
        L.Dropout(0.2), L.Dense(3, "softmax", kernel_constraint=C.MaxNorm(3))],
    "unit_norm_rows_min_max_all": lambda w: [
        L.Dense(w, "tanh", input_shape=(8,), kernel_constraint=C.UnitNorm(axis=1)),
        L.Dense(w, "elu", kernel_constraint=C.MinMaxNorm(0.2, 0.9, rate=0.6, axis=[0, 1]),
                bias_constraint=C.MaxNorm(0.1)),
        L.Dense(3, "softmax", kernel_constraint=C.MinMaxNorm(0.5, 1.0))],
    "normalization_adapted_and_inverted": lambda w: [
        L.Normalization(input_shape=(8,)), L.Dense(w, "relu"),
        L.Normalization(mean=0.25, variance=2.0, axis=None, invert=True),
        L.Dense(w),
        L.Normalization(mean=np.linspace(-1, 1, w), variance=np.linspace(0.5, 2, w)),
        L.Activation("gelu"), L.Dense(3, "softmax")],
    "noise_layers": lambda w: [
        L.Dense(w, "relu", input_shape=(8,)), L.GaussianNoise(0.3),
        L.Dense(w, "elu"), L.GaussianDropout(0.3), L.Dense(w, "selu"),
        L.AlphaDropout(0.2), L.Dense(3, "softmax")],
    "noise_first_then_batchnorm": lambda w: [
        L.GaussianNoise(0.5, input_shape=(8,)), L.Dense(w), L.BatchNormalization(),
        L.AlphaDropout(0.1), L.GaussianDropout(0.4), L.Dense(3, "softmax",
                                                                kernel_constraint="non_neg")],
}


def _data(n, seed=0):
    return data(SCC, n, seed)


def _fit(case, **kw):
    """Train STACKS[case] (fastpath_common.fit_stack); returns (model, losses, predictions)."""
    return fit_stack(STACKS[case], SCC, **kw)


# ------------------------------------------------------------------ the normal draws
@pytest.mark.parametrize("seed, layer, step, first, n", [
    (0, 0, 0, 0, 1), (1, 2, 3, 5, 17), (2 ** 63 + 5, 3, 7, 0, 100_003),
    (99, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 33 + 3, 1000)])
def test_compiled_normal_draws_are_the_numpy_definition(seed, layer, step, first, n):
    from fastnn._kernels import compiled
    out = np.empty(n)
    compiled.philox_normal(seed, layer, step, first, out)
    assert out.tobytes() == _philox.normal(seed, layer, step, n, first=first).tobytes()
    # a draw depends on its element alone: any window of the stream is the same values
    assert out[3:].tobytes() == _philox.normal(seed, layer, step, n - 3,
                                               first=first + 3).tobytes()


def test_the_normal_draws_are_a_standard_normal_sample():
    z = _philox.normal(12345, 1, 0, 1_000_000)
    assert abs(z.mean()) < 0.003 and abs(z.std() - 1.0) < 0.003
    assert abs((z ** 3).mean()) < 0.01 and abs((z ** 4).mean() - 3.0) < 0.03
    # Kolmogorov-Smirnov distance to the normal CDF (5% critical value: 1.36 / sqrt(n))
    s = np.sort(z[:200_000])
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(s / math.sqrt(2.0)))
    i = np.arange(1, len(s) + 1) / len(s)
    assert max(np.abs(i - cdf).max(), np.abs(i - 1 / len(s) - cdf).max()) < 1.36 / math.sqrt(
        len(s))
    # the polynomials are the functions they stand for, to a few units of 1e-16
    words = np.arange(0, 2 ** 32, 9973, dtype=np.uint64).astype(np.uint32)
    np.testing.assert_allclose(_philox._log_unit(words, np),
                               np.log((words + 1.0) / 2 ** 32), rtol=1e-15, atol=1e-15)
    cos, sin = _philox._cos_sin(words, np)
    angle = 2 * np.pi * words / 2 ** 32
    np.testing.assert_allclose(cos, np.cos(angle), atol=2e-15)
    np.testing.assert_allclose(sin, np.sin(angle), atol=2e-15)


# ------------------------------------------------------------------ the constraint kernels
CONSTRAINTS = [C.MaxNorm(0.5), C.MaxNorm(3, axis=1), C.MaxNorm(2, axis=[0, 1]), C.NonNeg(),
               C.UnitNorm(), C.UnitNorm(axis=-1), C.MinMaxNorm(0.3, 0.6, rate=0.7),
               C.MinMaxNorm(0.3, 0.6, rate=1, axis=1)]


@needs_openmp
@pytest.mark.parametrize("shape, constraint", [
    (shape, c) for shape in [(784, 128), (5, 3), (3000, 1), (1, 7), (200,), (40000,)]
    for c in CONSTRAINTS if len(shape) == 2 or c.get_config().get("axis", 0) in (0, -1)],
    ids=repr)
def test_constraint_kernels_are_the_numpy_code_bit_for_bit(shape, constraint, dtype):
    from fastnn._kernels import compiled
    from fastnn.backend.compiled_constraints import compiled_constraints
    w = (np.random.default_rng(0).standard_normal(shape) * 0.1).astype(dtype)
    w.flat[0] = -0.0
    w.flat[-1] = np.nan if w.size > 1000 else 0.0     # a NaN spreads as NumPy spreads it
    layer = L.Dense(3, kernel_constraint=constraint)
    layer._params, layer._param_names = [w], ["kernel"]
    want = np.asarray(constraint(w.copy()))
    for n_threads in (1, 2):
        got = w.copy()
        layer._params = [got]
        compiled_constraints([layer], compiled).apply(n_threads)
        assert got.tobytes() == want.tobytes(), n_threads


# ------------------------------------------------------------------ whole models
@pytest.mark.parametrize("case", sorted(STACKS))
def test_the_models_run_compiled_and_summary_says_so(case):
    model, _, _ = _fit(case)
    assert model.executor.compiled, model.executor.description
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Executor (cpu): {COMPILED}" in "\n".join(lines)


@pytest.mark.parametrize("case", sorted(STACKS))
@pytest.mark.parametrize("batch_size", [8, 256])
def test_weights_are_the_layer_paths_bit_for_bit(case, batch_size, dtype, monkeypatch):
    (compiled, c_loss, _), (layered, l_loss, _) = compiled_and_layered(
        _fit, case, batch_size, dtype, monkeypatch)
    assert c_loss == l_loss
    steps = [getattr(layer, "step", None) for layer in compiled.layers]
    assert steps == [getattr(layer, "step", None) for layer in layered.layers]


@needs_openmp
@pytest.mark.parametrize("case", sorted(STACKS))
def test_one_and_two_threads_give_the_same_bits(case):
    check_one_and_two_threads(_fit, case)


@pytest.mark.parametrize("case", sorted(STACKS))
def test_the_reference_backend_takes_the_same_steps(case, dtype):
    check_reference_backend(_fit, case, dtype)


def test_constraints_hold_after_compiled_training():
    model, _, _ = _fit("max_norm_non_neg", width=32, n=600, batch_size=32)
    kernel, bias = (np.asarray(w) for w in model.layers[0].weights)
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 * (1 + 1e-6)
    assert bias.min() >= 0.0
    model, _, _ = _fit("unit_norm_rows_min_max_all", width=32, n=600, batch_size=32)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(model.layers[0].kernel), axis=1),
                               1.0, rtol=1e-5)
    norms = np.linalg.norm(np.asarray(model.layers[2].kernel), axis=0)   # rate 1
    assert norms.min() >= 0.5 * (1 - 1e-6) and norms.max() <= 1.0 + 1e-6


def test_noise_resumes_exactly_from_a_saved_model(tmp_path):
    x, y = _data(200)
    with fastnn.use_backend("cpu"):
        fastnn.utils.set_random_seed(3)
        model = models.Sequential(STACKS["noise_layers"](16))
        model.compile("adam", SCC)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        path = os.path.join(tmp_path, "noise.fastnn")
        model.save(path)
        loaded = models.load_model(path)
        h1 = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        h2 = loaded.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        assert loaded.executor.compiled
    assert h1.history["loss"] == h2.history["loss"]
    assert same_bits(model.get_weights(), loaded.get_weights())
    assert [getattr(l, "step", None) for l in model.layers] == [
        getattr(l, "step", None) for l in loaded.layers]


def test_noise_is_off_in_inference_and_scaled_as_keras_in_training():
    x = np.full((100_000, 1), 2.0)
    with fastnn.config.floatx_scope("float64"):
        noise = L.GaussianNoise(0.5, seed=1)
        dropout = L.GaussianDropout(0.2, seed=1)
        alpha = L.AlphaDropout(0.2, seed=1)
        for layer in (noise, dropout, alpha):
            np.testing.assert_array_equal(layer(x), x)
        y = np.asarray(noise(x, training=True))
        np.testing.assert_array_equal(y, x + 0.5 * _philox.normal(1, 0, 0, x.size)[:, None])
        y = np.asarray(dropout(x, training=True))
        np.testing.assert_array_equal(
            y, x * (1.0 + math.sqrt(0.25) * _philox.normal(1, 0, 0, x.size)[:, None]))
        y = np.asarray(alpha(x, training=True))
        kept = _philox.dropout_keep_mask(1, 0, 0, 0.2, x.size)[:, None]
        alpha_p, a, b = alpha.affine()
        np.testing.assert_allclose(y, np.where(kept, a * 2.0 + b, a * alpha_p + b))
        assert abs(kept.mean() - 0.8) < 0.005


def test_what_stays_layer_by_layer_says_why():
    class Halve(C.Constraint):
        def __call__(self, w):
            return w * 0.5

    x, y = _data(16)
    cases = [
        ([L.Dense(4, input_shape=(8,), kernel_constraint=Halve()), L.Dense(3, "softmax")],
         "is the user's own Python (Halve)"),
        ([L.Dense(4, input_shape=(8,), kernel_constraint=C.MaxNorm(1.0, axis=())),
          L.Dense(3, "softmax")], "takes norms along axis ()"),
        ([L.Dense(4, input_shape=(8,)), L.AlphaDropout(0.2, noise_shape=(None, 1)),
          L.Dense(3, "softmax")], "has a noise_shape"),
        ([L.Normalization(input_shape=(8,), dtype="float64"), L.Dense(3, "softmax")],
         "holds its statistics in float64, the model computes in float32"),
    ]
    for stack, reason in cases:
        model = models.Sequential(stack)
        model.compile("adam", SCC)
        model.fit(x, y, verbose=0)
        assert reason in model.executor.description, model.executor.description
    images = models.Sequential([L.Normalization(input_shape=(2, 4)), L.Flatten(), L.Dense(3)])
    images.compile("adam", "mse")
    images.fit(x.reshape(16, 2, 4), np.ones((16, 3)), verbose=0)
    assert "normalises samples of more than one axis" in images.executor.description


def test_sharded_steps_apply_the_constraints_after_the_compiled_update():
    import threading
    from fastnn.backend import sharded
    from test_sharded import ThreadComm, _train

    def make():
        fastnn.utils.set_random_seed(5)
        model = models.Sequential([fastnn.Input((12,)), L.Dense(
            24, "relu", kernel_constraint=C.MaxNorm(0.3), bias_constraint="non_neg"),
            L.Dense(4, "softmax", kernel_constraint=C.UnitNorm(axis=1))])
        model.compile("adam", SCC)
        return model

    rng = np.random.default_rng(0)
    data = (rng.standard_normal((101, 12)).astype(np.float32), rng.integers(0, 4, 101), None)
    single = make()
    single._setup_training(data[1])
    assert single.executor.compiled
    want = _train(single, single.executor, data, 32)
    group = {"slots": [None] * 2, "barrier": threading.Barrier(2)}
    models_ = [make() for _ in range(2)]
    results = [None, None]

    def run(rank):
        models_[rank]._setup_training(data[1])
        executor = sharded.ShardedExecutor(models_[rank].executor, ThreadComm(rank, group))
        results[rank] = _train(models_[rank], executor, data, 32)

    threads = [threading.Thread(target=run, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        assert same_bits(got, want)
