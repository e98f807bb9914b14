"""bfloat16: the GEMM against its portable definition (src_c/bf16.h), the rounding, the
dtype policies (Keras 3's names and semantics), mixed-precision training and
model.quantize("bfloat16").

The vdpbf16ps kernel must equal the oracle bit for bit; the float32 route (a CPU without
AVX512_BF16, or the AVX2 / generic kernels forced with FASTNN_ISA) within the bound stated
in src_c/bf16.h. CI runs this file under each FASTNN_ISA as it runs the float kernels'.
"""
import json

import numpy
import pytest

import fastnn
from fastnn import layers, models
from fastnn.mixed_precision import (DTypePolicy, Policy, global_policy, round_to_bfloat16,
                                    set_global_policy)
from session_python import run_python

compiled = pytest.importorskip("fastnn._kernels.compiled",
                               reason="the compiled kernels are not built")

U = 2.0 ** -24
# edges of the 12 x 32 tile and of the k-pairs: 0, 1, odd k, MR/NR - 1, MR/NR + 1, many
# k-blocks (KC = 256 values), and a T1 layer
SHAPES = [(1, 1, 1), (3, 5, 7), (11, 31, 2), (12, 32, 256), (13, 33, 257), (25, 10, 1),
          (5, 3, 600), (200, 70, 513), (128, 128, 784), (128, 784, 128), (784, 128, 128),
          (1, 200, 784), (2, 129, 33), (3, 300, 257)]   # a few rows: their own tiles


@pytest.fixture(autouse=True)
def default_policy():
    yield
    set_global_policy(None)
    compiled.bf16_set_native(True)


def operands(m, n, k, ta, tb, seed=0):
    rng = numpy.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(numpy.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(numpy.float32)
    return a, b


def bound(a, b, ta, tb):
    """src_c/bf16.h's bound of the float32 route: 2 k u sum_p |A B| of the rounded
    operands."""
    ar, br = round_to_bfloat16(a).astype(numpy.float64), round_to_bfloat16(b).astype(numpy.float64)
    ar, br = (ar.T if ta else ar), (br.T if tb else br)
    return 2 * ar.shape[1] * U * (numpy.abs(ar) @ numpy.abs(br)) + 1e-30


def same_bits(x, y):
    return numpy.array_equal(x.view(numpy.uint32), y.view(numpy.uint32))


needs_native = pytest.mark.skipif(not compiled.bf16_native(),
                                  reason="vdpbf16ps does not run here (no AVX512_BF16, or "
                                         "FASTNN_ISA chose other kernels): the float32 "
                                         "route is checked against the bound instead")


# ---------------------------------------------------------------- the kernels
@needs_native
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("n_threads", [1, 2, 3])   # 2, 3: a team sharing A~ (few rows)
def test_vdpbf16ps_matches_oracle_bit_for_bit(m, n, k, ta, tb, n_threads):
    a, b = operands(m, n, k, ta, tb)
    got = compiled.bf16_matmul(a, b, ta, tb, n_threads)
    assert same_bits(got, compiled.bf16_matmul_ref(a, b, ta, tb))


@needs_native
def test_vdpbf16ps_flushes_and_rounds_as_the_oracle():
    # magnitudes where products and sums underflow, overflow and cancel
    rng = numpy.random.default_rng(1)
    exps = rng.integers(-70, 70, size=(24, 66))
    a = (rng.standard_normal((24, 66)) * 2.0 ** exps).astype(numpy.float32)
    b = (rng.standard_normal((66, 40)) * 2.0 ** rng.integers(-70, 70, (66, 40))).astype(
        numpy.float32)
    a[0, :4] = [1e-39, -1e-40, numpy.inf, numpy.nan]   # denormals read as zero
    got, ref = compiled.bf16_matmul(a, b), compiled.bf16_matmul_ref(a, b)
    nan = numpy.isnan(ref)
    assert numpy.array_equal(nan, numpy.isnan(got))
    assert same_bits(got[~nan], ref[~nan])


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1)])
def test_float32_route_within_the_stated_bound(m, n, k, ta, tb):
    compiled.bf16_set_native(False)
    a, b = operands(m, n, k, ta, tb, seed=2)
    got = compiled.bf16_matmul(a, b, ta, tb, 2).astype(numpy.float64)
    ref = compiled.bf16_matmul_ref(a, b, ta, tb).astype(numpy.float64)
    assert numpy.all(numpy.abs(got - ref) <= bound(a, b, ta, tb))


def test_oracle_is_the_bfloat16_product_summed_in_float32():
    # against NumPy: the products of the rounded operands (exact) summed in float64
    a, b = operands(37, 19, 301, 0, 0, seed=3)
    ar, br = round_to_bfloat16(a).astype(numpy.float64), round_to_bfloat16(b).astype(numpy.float64)
    ref = compiled.bf16_matmul_ref(a, b)
    assert numpy.all(numpy.abs(ref - ar @ br) <= bound(a, b, 0, 0))
    # not float32's product: the operands were rounded
    assert numpy.abs(ref - a.astype(numpy.float64) @ b).max() > 1e-3


def test_epilogue_bias_and_relu():
    a, b = operands(50, 40, 33, 0, 0, seed=4)
    bias = numpy.linspace(-1, 1, 40, dtype=numpy.float32)
    relu = fastnn.activations.get("relu").code
    got = compiled.bf16_matmul(a, b, bias=bias, activation=relu)
    want = numpy.maximum(compiled.bf16_matmul_ref(a, b) + bias, 0)
    if compiled.bf16_native():
        numpy.testing.assert_array_equal(got, want)
    else:
        assert numpy.all(numpy.abs(got - want) <= bound(a, b, 0, 0) + 1e-7)


def test_rounding_ties_to_even_flushes_denormals_and_agrees_with_the_kernels():
    specials = numpy.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1e-39, -1e-40,
                            numpy.inf, -numpy.inf, 3.4e38, 0.0, -0.0], numpy.float32)
    want = numpy.array([1.0, 1 + 2 ** -6, -1.0, 0.0, -0.0, numpy.inf, -numpy.inf,
                        numpy.inf, 0.0, -0.0], numpy.float32)
    assert same_bits(round_to_bfloat16(specials), want)
    x = numpy.random.default_rng(5).integers(0, 2 ** 32, 100_000, dtype=numpy.uint64)
    x = x.astype(numpy.uint32).view(numpy.float32)
    assert same_bits(round_to_bfloat16(x), compiled.bf16_round(x))
    assert numpy.isnan(round_to_bfloat16(numpy.float32(numpy.nan)))


def test_bad_operands_raise():
    with pytest.raises(ValueError, match="inner sizes"):
        compiled.bf16_matmul(numpy.ones((2, 3), numpy.float32), numpy.ones((4, 2), numpy.float32))


@pytest.mark.parametrize("isa", ["avx2", "generic", "avx512"])
def test_every_isa_forced(isa):
    code = """
import numpy, fastnn
from fastnn._kernels import compiled
from fastnn.mixed_precision import round_to_bfloat16
if not compiled.isa_available(%r):
    print("SKIP"); raise SystemExit
rng = numpy.random.default_rng(0)
a = rng.standard_normal((70, 300)).astype(numpy.float32)
b = rng.standard_normal((300, 45)).astype(numpy.float32)
got = compiled.bf16_matmul(a, b, n_threads=2).astype(numpy.float64)
ref = compiled.bf16_matmul_ref(a, b).astype(numpy.float64)
ar, br = round_to_bfloat16(a).astype(float), round_to_bfloat16(b).astype(float)
ok = bool((abs(got - ref) <= 2 * 300 * 2.0 ** -24 * (abs(ar) @ abs(br))).all())
print(compiled.isa_name(), compiled.bf16_native(), ok, (got == ref).all())
print(fastnn._info.config_dict()["bfloat16"])
""" % isa
    out = run_python(code, check=True, FASTNN_ISA=isa).stdout.split("\n")
    if out[0] == "SKIP":
        pytest.skip(f"{isa} does not run on this CPU")
    name, native, ok, exact = out[0].split()
    assert name == isa and ok == "True"
    if native == "True":
        assert exact == "True" and out[1] == "vdpbf16ps (AVX512_BF16)"
    else:
        assert isa != "avx512" or not compiled.bf16_cpu_has_avx512bf16()
        assert out[1].startswith("float32 kernels on bfloat16-rounded operands, float32 speed")


def test_show_config_says_how_bfloat16_runs(capsys):
    fastnn.show_config()
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("bfloat16")]
    assert len(line) == 1
    assert ("vdpbf16ps" in line[0]) == compiled.bf16_native()


# ---------------------------------------------------------------- policies (Keras 3)
def test_policy_names_and_dtypes_as_keras():
    p = DTypePolicy("mixed_bfloat16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_bfloat16", "bfloat16",
                                                           "float32")
    assert repr(p) == '<DTypePolicy "mixed_bfloat16">' and Policy is DTypePolicy
    assert DTypePolicy.from_config(p.get_config()) == p and p.quantization_mode is None
    assert global_policy() == DTypePolicy("float32")
    for bad in ("bfloat16", "mixed_float16", "int4"):
        with pytest.raises(ValueError, match="mixed_bfloat16"):
            DTypePolicy(bad)
    with pytest.raises(ValueError, match="policy"):
        set_global_policy(3)


def test_layer_policy_variable_and_compute_dtypes():
    set_global_policy("mixed_bfloat16")
    assert fastnn.mixed_precision.global_policy().name == "mixed_bfloat16"
    layer = layers.Dense(4)
    layer.build((3,))
    assert layer.dtype_policy == DTypePolicy("mixed_bfloat16")
    assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
    assert layer.kernel.dtype == numpy.float32        # variables stay float32
    assert layer.get_config()["dtype"] == "mixed_bfloat16"
    set_global_policy(None)
    explicit = layers.Dense(4, dtype="mixed_bfloat16")
    assert explicit.compute_dtype == "bfloat16"
    assert layers.Dense(4).compute_dtype == "float32" and "dtype" not in layers.Dense(4).get_config()


def t1_like(policy, n_in=64, seed=0, units=32):
    fastnn.utils.set_random_seed(seed)
    model = models.Sequential([layers.Dense(units, activation="relu", input_shape=(n_in,),
                                            dtype=policy),
                               layers.Dropout(0.2 if units > 32 else 0.1),
                               layers.Dense(10, activation="softmax", dtype=policy)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def digits():
    (x, y), (xt, yt) = fastnn.datasets.load_digits()
    return (x.reshape(len(x), -1).astype(numpy.float32) / 255, y.astype(numpy.int64),
            xt.reshape(len(xt), -1).astype(numpy.float32) / 255, yt.astype(numpy.int64))


def test_mixed_step_runs_bfloat16_products_with_float32_master_weights():
    # one SGD step of a linear-relu-linear stack against NumPy with the oracle's products
    rng = numpy.random.default_rng(6)
    x = rng.standard_normal((64, 20)).astype(numpy.float32)
    y = rng.standard_normal((64, 3)).astype(numpy.float32)
    fastnn.utils.set_random_seed(1)
    model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(20,),
                                            dtype="mixed_bfloat16"),
                               layers.Dense(3, dtype="mixed_bfloat16")])
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    w1, b1, w2, b2 = model.get_weights()
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    mm = compiled.bf16_matmul_ref
    h = numpy.maximum(mm(x, w1) + b1, 0)
    out = mm(h, w2) + b2
    dz2 = (2 * (out - y) / out.size).astype(numpy.float32)
    dh = mm(dz2, w2, transpose_b=True) * (h > 0)
    want = [w1 - 0.1 * mm(x, dh, transpose_a=True), b1 - 0.1 * dh.sum(0),
            w2 - 0.1 * mm(h, dz2, transpose_a=True), b2 - 0.1 * dz2.sum(0)]
    for got, w in zip(model.get_weights(), want):
        assert got.dtype == numpy.float32
        numpy.testing.assert_allclose(got, w, rtol=2e-5, atol=2e-6)
    assert "compiled" in model.executor.description


def test_mixed_training_reaches_float32_accuracy_on_the_digits():
    # T1's shape on the digits (64 -> 128 -> 10, dropout 0.2), trained to convergence;
    # the mean over three seeds (one test image is 0.28 points)
    x, y, xt, yt = digits()
    accs = {"float32": [], "mixed_bfloat16": []}
    for seed in range(3):
        for policy in accs:
            model = t1_like(policy, n_in=x.shape[1], seed=seed, units=128)
            model.fit(x, y, batch_size=32, epochs=40, verbose=0)
            accs[policy].append(model.evaluate(xt, yt, verbose=0)[1])
    assert numpy.mean(accs["float32"]) > 0.95
    assert numpy.mean(accs["mixed_bfloat16"]) >= numpy.mean(accs["float32"]) - 0.005


def quantized_gap(x, y, xt, yt, epochs):
    model = t1_like("float32", n_in=x.shape[1], units=128)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    before = model.evaluate(xt, yt, verbose=0)[1]
    p32 = model.predict(xt, verbose=0)
    model.quantize("bfloat16")
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"
    kernel = model.layers[0].kernel
    assert numpy.array_equal(kernel, round_to_bfloat16(kernel))
    p16 = model.predict(xt, verbose=0)
    assert not numpy.array_equal(p16, p32) and numpy.abs(p16 - p32).max() < 0.05
    return before, model.evaluate(xt, yt, verbose=0)[1]


def test_quantize_bfloat16_keeps_digits_accuracy():
    before, after = quantized_gap(*digits(), epochs=20)
    assert before > 0.93 and abs(after - before) <= 0.005


def test_quantize_bfloat16_keeps_tabular_accuracy():
    datasets = pytest.importorskip("sklearn.datasets",
                                   reason="scikit-learn gives the tabular set: "
                                          "pip install fastnn[sklearn]")
    x, y = datasets.load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(numpy.float32)
    order = numpy.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order].astype(numpy.int64)
    before, after = quantized_gap(x[:450], y[:450], x[450:], y[450:], epochs=30)
    assert before > 0.93 and abs(after - before) <= 0.005


def test_quantize_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        t1_like("float32").quantize("bf16")
    with pytest.raises(ValueError, match="built"):
        models.Sequential([layers.Dense(2)]).quantize("bfloat16")


def test_saved_mixed_model_loads_with_its_policy(tmp_path):
    x, y, xt, _ = digits()
    model = t1_like("mixed_bfloat16", n_in=x.shape[1])
    model.fit(x[:256], y[:256], batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "mixed.fnn"
    model.save(path)
    loaded = models.load_model(path)
    assert [l.dtype_policy.name for l in loaded.layers] == [l.dtype_policy.name
                                                            for l in model.layers]
    assert loaded.layers[0].compute_dtype == "bfloat16"
    numpy.testing.assert_array_equal(loaded.predict(xt, verbose=0), model.predict(xt, verbose=0))
    assert json.dumps(loaded.layers[0].get_config())


from fastnn.models.thread_choice import ThreadChoice  # noqa: E402


class _StepByStep(fastnn.callbacks.Callback):
    """A batch hook: fit then runs every step as its own compiled call."""

    def on_train_batch_end(self, batch, logs=None):
        pass


def _mixed_fit(x, y, n_threads, callbacks, new_weights=None):
    fastnn.utils.set_random_seed(3)
    model = models.Sequential([
        layers.Dense(33, activation="relu", input_shape=(x.shape[1],), dtype="mixed_bfloat16"),
        layers.Dropout(0.2),
        layers.Dense(17, activation="tanh", dtype="mixed_bfloat16"),
        layers.Dense(5, activation="softmax", dtype="mixed_bfloat16")])
    model.compile(optimizer=fastnn.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy")
    with fastnn.threads(n_threads):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=callbacks)
        if new_weights is not None:   # changed between fits: the next fit must see them
            model.set_weights(new_weights(model.get_weights()))
            model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    return model.get_weights()


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_updates_that_pack_the_bfloat16_weights_give_the_bits_of_a_forward_pack(
        n_threads, monkeypatch):
    # An epoch's steps in one compiled loop let each update pack W for the next forward
    # (each thread its rows: 37 rows split at odd rows on 2 and 3 threads); step by step,
    # every forward packs W itself. Both must train the same bits, also after set_weights.
    def no_trial(self, n):   # every step on n threads, in blocks from the first
        self.candidates, self.chosen = (n,), n
        self._start_trial(0)
    monkeypatch.setattr(ThreadChoice, "__init__", no_trial)
    rng = numpy.random.default_rng(8)
    x = rng.standard_normal((160, 37)).astype(numpy.float32)
    y = rng.integers(0, 5, 160)

    def halve(weights):
        return [w * 0.5 for w in weights]
    for change in (None, halve):
        blocks = _mixed_fit(x, y, n_threads, [], change)
        single = _mixed_fit(x, y, n_threads, [_StepByStep()], change)
        for a, b in zip(blocks, single):
            assert same_bits(a, b)


@pytest.mark.parametrize("k,n", [(784, 128), (37, 33), (5, 3), (1, 40), (9, 64)])
def test_packing_rows_by_ranges_writes_the_bytes_of_a_whole_pack(k, n):
    # ranges that split the k-pairs (odd bounds) write only their own 16-bit halves
    b = numpy.random.default_rng(k).standard_normal((k, n)).astype(numpy.float32)
    for splits in ([], [1], [k // 2], [k // 3, k // 2 + 1], list(range(1, k, 3))):
        by_ranges, whole = compiled.bf16_pack_b_rows(b, [s for s in splits if 0 < s < k])
        assert numpy.array_equal(by_ranges, whole)


@needs_native
@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "elu"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_a_few_rows_read_b_unpacked_with_the_bits_of_the_packed_route(m, activation,
                                                                      with_bias):
    # op(a) = a both times: row-major a reads B as it is, a stored transposed packs B
    from fastnn._codes import BY_NAME
    rng = numpy.random.default_rng(m)
    a = rng.standard_normal((m, 515)).astype(numpy.float32)
    b = rng.standard_normal((515, 150)).astype(numpy.float32)
    bias = rng.standard_normal(150).astype(numpy.float32) if with_bias else None
    code = BY_NAME[activation].code
    direct = compiled.bf16_matmul(a, b, False, False, 1, bias, code)
    packed = compiled.bf16_matmul(numpy.ascontiguousarray(a.T), b, True, False, 1, bias, code)
    assert same_bits(direct, packed)
    if activation == "linear" and not with_bias:
        assert same_bits(direct, compiled.bf16_matmul_ref(a, b))
