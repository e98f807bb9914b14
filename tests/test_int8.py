"""int8 inference (model.quantize("int8")): Keras 3's semantics, the int8 kernels of every
ISA against the portable one, and quantized models against their float models.

The int8 kernels compute exact integers, so every kernel is compared with NumPy's int64
product and with the portable kernel for equality, and the float epilogue (one rounding
per operation in Keras' order) makes the quantized layer bit-identical to the reference
backend and to Keras 3 (tests/golden/int8.npz, written by
tests/golden/make_keras_int8_golden.py).
"""
import pathlib

import numpy as np
import pytest

import fastnn
from conftest import BACKENDS
from fastnn import layers
from fastnn.backend.reference_quantized import quantize_kernel, quantize_rows
from session_python import run_python

pytestmark = pytest.mark.skipif("cpu" not in BACKENDS, reason="compiled kernels missing")
GOLDEN = pathlib.Path(__file__).parent / "golden" / "int8.npz"
KERNELS = ["generic", "avx2", "avx2vnni", "avx512vnni", "neon_sdot"]
# m, k, n around the register tiles (4x8, 6x16, 12x32, 8x12), the k groups (2, 4) and
# the row blocks (192, 256 rows)
SHAPES = [(1, 1, 1), (1, 784, 10), (5, 3, 33), (13, 7, 5), (12, 64, 32), (37, 785, 129),
          (200, 130, 17), (257, 9, 48)]


@pytest.fixture(params=KERNELS)
def q8_kernel(request):
    """Each int8 kernel this CPU runs, chosen for the test (others skipped)."""
    from fastnn._kernels import compiled
    if not compiled.q8_kernel_available(request.param):
        pytest.skip(f"int8 kernel {request.param} not available on this CPU/build")
    compiled.set_q8_kernel(request.param)
    yield request.param
    compiled.set_q8_kernel(None)


def _gemm(a, b, n_threads=1):
    from fastnn._kernels import compiled
    out = np.empty((a.shape[0], b.shape[1]), np.int32)
    compiled.q8_gemm(a, b, out, n_threads)
    return out


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_integer_products_equal_the_portable_kernel(q8_kernel, m, k, n):
    from fastnn._kernels import compiled
    rng = np.random.default_rng(m * 7919 + k * 31 + n)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    a[0, :] = -128       # the extremes: q + 128 == 0 and the largest sums
    b[:, 0] = -128
    got = _gemm(a, b, 2)
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))
    compiled.set_q8_kernel("generic")
    np.testing.assert_array_equal(got, _gemm(a, b, 1))


def test_integer_sums_at_the_largest_k(q8_kernel):
    # |q| <= 127 on every row: 66,000 * 127 * 127 and the kernels' q + 128 stay in int32
    from fastnn._kernels import compiled
    k = compiled.Q8_MAX_K
    a = np.full((3, k), 127, np.int8)
    a[1] = -127
    b = np.full((k, 2), 127, np.int8)
    b[:, 1] = -128
    np.testing.assert_array_equal(_gemm(a, b), a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_quantized_dense_is_bit_identical_to_the_reference(q8_kernel, m, k, n):
    rng = np.random.default_rng(m + k + n)
    x = (3 * rng.standard_normal((m, k))).astype(np.float32)
    x[0] = 0.0                               # a zero row
    q, scale = quantize_kernel(rng.standard_normal((k, n)))
    b = rng.standard_normal(n).astype(np.float32)
    linear = fastnn.activations.get(None)
    with fastnn.use_backend("reference"):
        expected = fastnn.get_backend().quantized_dense_forward(x, q, scale, b, linear)
    cpu = fastnn.get_backend()
    for n_threads in (1, 2):
        fastnn.set_num_threads(n_threads)
        got = cpu.quantized_dense_forward(x, q, scale, b, linear)
        np.testing.assert_array_equal(got, expected)


def test_the_row_quantization_of_each_kernel_is_the_reference(q8_kernel):
    from fastnn._kernels import compiled
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((9, 301)) * rng.uniform(0.01, 100, (9, 1))).astype(np.float32)
    x[1, :4] = [0.5, -0.5, 1.5, 2.5]        # ties round to even: scale is 127 / max
    q = np.empty(x.shape, np.int8)
    scale = np.empty(len(x), np.float32)
    compiled.q8_quantize_rows(x, q, scale)
    expected_q, expected_scale = quantize_rows(np, x)
    np.testing.assert_array_equal(scale, expected_scale)
    np.testing.assert_array_equal(q, expected_q)


@pytest.mark.parametrize("activation", ["relu", "tanh", "softmax", "sigmoid"])
def test_activations_in_the_epilogue(activation):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((70, 40)).astype(np.float32)
    q, scale = quantize_kernel(rng.standard_normal((40, 23)))
    act = fastnn.activations.get(activation)
    with fastnn.use_backend("reference"):
        expected = fastnn.get_backend().quantized_dense_forward(x, q, scale, None, act)
    got = fastnn.get_backend().quantized_dense_forward(x, q, scale, None, act)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-7)


def test_bad_arguments_are_refused():
    cpu = fastnn.get_backend()
    x = np.ones((2, 3), np.float32)
    q, scale = quantize_kernel(np.ones((3, 4)))
    linear = fastnn.activations.get(None)
    with pytest.raises(TypeError, match="kernel"):
        cpu.quantized_dense_forward(x, q.astype(np.float32), scale, None, linear)
    with pytest.raises(ValueError, match="kernel"):
        cpu.quantized_dense_forward(x, q[:2], scale, None, linear)
    with pytest.raises(TypeError, match="x"):
        cpu.quantized_dense_forward(x.astype(np.float64), q, scale, None, linear)
    from fastnn._kernels import compiled
    with pytest.raises(ValueError, match="name"):
        compiled.set_q8_kernel("avx9")


@pytest.mark.parametrize("isa, kernels", [("generic", ["generic"]),
                                          ("avx2", ["avx2vnni", "avx2"]),
                                          ("avx512", ["avx512vnni", "avx2vnni", "avx2"]),
                                          ("neon", ["neon_sdot", "generic"])])
def test_forced_isa_selects_its_int8_kernel(isa, kernels):
    """FASTNN_ISA=isa in a fresh interpreter: the int8 kernel is that ISA's best, and
    gives the exact integers and the reference's quantized layer."""
    import fastnn._kernels as k
    if not k.isa_available(isa):
        pytest.skip(f"{isa} not available on this CPU/build")
    code = (
        "import numpy as np, fastnn\n"
        "from fastnn._kernels import compiled as k\n"
        "from fastnn.backend.reference_quantized import quantize_kernel\n"
        "rng = np.random.default_rng(1)\n"
        "a = rng.integers(-128, 128, (61, 300), dtype=np.int8)\n"
        "b = rng.integers(-128, 128, (300, 45), dtype=np.int8)\n"
        "c = np.empty((61, 45), np.int32); k.q8_gemm(a, b, c, 2)\n"
        "assert (c == a.astype(np.int64) @ b.astype(np.int64)).all()\n"
        "x = rng.standard_normal((61, 300)).astype(np.float32)\n"
        "q, s = quantize_kernel(rng.standard_normal((300, 45)))\n"
        "lin = fastnn.activations.get(None)\n"
        "got = fastnn.get_backend().quantized_dense_forward(x, q, s, None, lin)\n"
        "with fastnn.use_backend('reference'):\n"
        "    ref = fastnn.get_backend().quantized_dense_forward(x, q, s, None, lin)\n"
        "assert (got == ref).all()\n"
        "print(k.isa_name(), k.q8_kernel())\n")
    run = run_python(code, timeout=120, FASTNN_ISA=isa)
    assert run.returncode == 0, run.stderr
    isa_name, kernel = run.stdout.split()
    assert isa_name == isa
    from fastnn._kernels import compiled
    assert kernel == next(name for name in kernels if compiled.q8_kernel_available(name))


# ---------------------------------------------------------------------------- models
def test_quantize_matches_keras3():
    """The int8 kernels and scales of Keras 3's Dense.quantize("int8"), and its outputs,
    bit for bit (a zero input row included)."""
    g = np.load(GOLDEN)
    model = fastnn.models.Sequential([layers.Dense(19, activation="relu", input_shape=(37,)),
                                      layers.Dense(5)])
    model.set_weights([g[f"float_{i}"] for i in range(4)])
    np.testing.assert_allclose(model.predict(g["x"], verbose=0), g["float_out"], rtol=1e-5,
                               atol=1e-4)
    model.quantize("int8")
    for i, layer in enumerate(model.layers):
        np.testing.assert_array_equal(layer.kernel, g[f"kernel_{i}"])
        np.testing.assert_array_equal(layer.kernel_scale, g[f"kernel_scale_{i}"])
    for backend in ("cpu", "reference"):
        with fastnn.use_backend(backend):
            np.testing.assert_array_equal(model.predict(g["x"], verbose=0), g["out"])


def _digits():
    data = np.load(pathlib.Path(fastnn.__file__).parent / "data" / "digits.npz")
    x = (data["images"].reshape(len(data["images"]), -1) / 16).astype(np.float32)
    return x[:1400], data["labels"][:1400], x[1400:], data["labels"][1400:]


def _trained(x, y, n_classes, epochs):
    fastnn.utils.set_random_seed(0)
    model = fastnn.models.Sequential([
        layers.Dense(64, activation="relu", input_shape=(x.shape[1],)),
        layers.Dense(32, activation="relu"), layers.Dense(n_classes, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def _check_against_float(model, x_test, y_test):
    """int8 accuracy within 0.5 points of float32, probabilities within 0.05, and the
    quantized model on the cpu backend equal to the reference backend's."""
    p_float = model.predict(x_test, verbose=0)
    model.quantize("int8")
    p_int8 = model.predict(x_test, verbose=0)
    acc_float = (p_float.argmax(1) == y_test).mean()
    acc_int8 = (p_int8.argmax(1) == y_test).mean()
    assert abs(acc_int8 - acc_float) <= 0.005, (acc_float, acc_int8)
    assert np.abs(p_int8 - p_float).max() < 0.05
    return p_int8


def _check_reference(model, x_test, p_int8):
    """The quantized model on the reference backend: the cpu backend's outputs."""
    with fastnn.use_backend("reference"):
        p_ref = model.predict(x_test, verbose=0)
    np.testing.assert_allclose(p_int8, p_ref, rtol=1e-5, atol=1e-6)


def test_int8_digits_within_half_a_point_of_float():
    x, y, x_test, y_test = _digits()
    model = _trained(x, y, 10, 20)
    loss_float, acc_float = model.evaluate(x_test, y_test, verbose=0)
    p_int8 = _check_against_float(model, x_test, y_test)
    loss_int8, acc_int8 = model.evaluate(x_test, y_test, verbose=0)
    assert abs(loss_int8 - loss_float) < 0.02 and abs(acc_int8 - acc_float) <= 0.005
    _check_reference(model, x_test, p_int8)


def test_int8_tabular_within_half_a_point_of_float():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is needed for "
                                   "the tabular set (pip install fastnn[sklearn])")
    data = datasets.load_breast_cancer()
    x = data.data.astype(np.float32)
    x = (x - x[:400].mean(0)) / x[:400].std(0)
    y = data.target
    model = _trained(x[:400], y[:400], 2, 30)
    _check_reference(model, x[400:], _check_against_float(model, x[400:], y[400:]))


def test_a_quantized_model_file_round_trips(tmp_path):
    x, y, x_test, _ = _digits()
    model = _trained(x[:300], y[:300], 10, 1)
    model.quantize("int8")
    path = tmp_path / "q.fnn"
    model.save(path)
    loaded = fastnn.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["QuantizedDense"] * 3
    assert loaded.layers[0].kernel.dtype == np.int8
    np.testing.assert_array_equal(loaded.predict(x_test, verbose=0),
                                  model.predict(x_test, verbose=0))


def test_explanations_run_on_the_dequantized_kernels():
    """Saliency of a quantized model: the gradient through kernel / kernel_scale (Keras'
    int8 gradient) at the quantized forward pass; a float model with those kernels
    differs only where an int8 activation crossed a ReLU's kink or moved the softmax, so
    most samples' saliency points the same way (median cosine > 0.999, all > 0.8)."""
    x, y, x_test, _ = _digits()
    model = _trained(x[:300], y[:300], 10, 2)
    model.quantize("int8")
    twin = fastnn.models.Sequential([
        layers.Dense(l.units, activation=l.activation.name, input_shape=(l.kernel.shape[0],))
        for l in model.layers])
    twin.set_weights([w for l in model.layers for w in (l.dequantized_kernel(), l.bias)])
    got = fastnn.explain.saliency(model, x_test[:20], target=3)
    expected = fastnn.explain.saliency(twin, x_test[:20], target=3)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(
        expected, axis=1)
    assert np.median(cosine) > 0.999 and cosine.min() > 0.8, cosine


def test_quantize_refuses_what_it_cannot_do():
    model = fastnn.models.Sequential([layers.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="mode"):
        model.quantize("int4")
    with pytest.raises(ValueError, match="built"):
        fastnn.models.Sequential([layers.Dense(3)]).quantize("int8")
    fastnn.config.set_floatx("float64")
    wide = fastnn.models.Sequential([layers.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="float32"):
        wide.quantize("int8")


def test_predict_reports_non_finite_inputs():
    model = fastnn.models.Sequential([layers.Dense(8, input_shape=(5,)), layers.Dense(2)])
    model.quantize("int8")
    x = np.ones((40, 5), np.float32)
    x[3, 1], x[30, 4] = np.nan, np.inf
    with pytest.raises(ValueError, match="2"):
        model.predict(x, verbose=0)


def test_set_weights_after_predict_is_seen_and_the_kernel_stays_read_only():
    # the packed int8 weights are trusted while the kernel is read-only: set_weights must
    # drop them, so the next predict uses the new kernel (a hand-made one here: output =
    # the sum of the inputs' quantized values over the scale)
    model = fastnn.models.Sequential([layers.Dense(2, input_shape=(4,), use_bias=False)])
    model.quantize("int8")
    x = np.array([[1.0, 0.5, -0.25, 0.0]] * 3, np.float32)
    before = model.predict(x, verbose=0)
    layer = model.layers[0]
    kernel = np.array([[127, 0], [127, 0], [127, 0], [127, -127]], np.int8)
    layer.set_weights([kernel, np.ones(2, np.float32)])
    got = model.predict(x, verbose=0)
    # q(x) = round(x * 127 / (1 + 1e-7)) = [127, 63, -32, 0] (0.5 * 127 / (1 + 1e-7) is
    # just under 63.5); scale 127 / (1 + 1e-7)
    scale = np.float32(127) / (np.float32(1.0) + np.float32(1e-7))
    want = np.array([(127 * 127 + 63 * 127 - 32 * 127) / scale, 0.0], np.float32)
    np.testing.assert_allclose(got, np.tile(want, (3, 1)), rtol=1e-6)
    assert not np.array_equal(got, before)
    assert not layer.kernel.flags.writeable
