"""ONNX export (fastnn.onnx, model.export): every layer and activation, in float32 and
float64, run by onnxruntime and compared with model.predict, on random data and on the
bundled digits; each file passes onnx.checker (full check) and strict shape inference,
and runs with batch sizes 1 and 257 (the batch dimension is dynamic)."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.onnx
from fastnn import _codes, layers
from fastnn.layers import Layer
from fastnn.models import Sequential
from session_python import run_python

onnx = pytest.importorskip("onnx", reason="the ONNX checker needs `onnx` (pip install "
                                          "fastnn[onnx])")
ort = pytest.importorskip("onnxruntime", reason="running the files needs onnxruntime "
                                                "(pip install fastnn[onnx])")

# onnxruntime against model.predict, per element (assert_close):
#     |onnx - predict| <= rtol |predict| + atol max(1, max |predict|)
# float32: ~80 ulps relative (Gemm and the fastnn kernels sum in different orders, and
# the elementary functions round differently), and atol for a result that cancels to
# near 0 from terms of the outputs' size; float64: the same in float64 ulps.
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6),
             np.float64: dict(rtol=1e-12, atol=1e-13)}
DTYPES = [np.float32, np.float64]
BATCHES = (1, 257)
ACTIVATION_NAMES = [a.name for a in _codes.ACTIVATIONS] + list(_codes.ACTIVATION_ALIASES)


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    """float32 and float64 models (built, exported and run under floatx = dtype)."""
    with fastnn.config.floatx_scope(np.dtype(request.param).name):
        yield request.param


def assert_close(got, expected, dtype, tolerance=None):
    """`got` within `tolerance` (by default TOLERANCE[dtype]) of `expected`."""
    tol = tolerance or TOLERANCE[dtype]
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(got, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)


def _session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def check(model, x, dtype, tolerance=None):
    """Export `model`, check the file, run it on `x` (an array or a list of arrays of
    257 rows) at every batch size of BATCHES and compare with model.predict; returns
    (onnx outputs, predict outputs) of all the rows."""
    data = fastnn.onnx.to_bytes(model)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    out_type = inferred.graph.output[0].type.tensor_type
    dims = [d.dim_param or d.dim_value for d in out_type.shape.dim]
    assert dims == [fastnn.onnx.BATCH, *model.output_shape[1:]]
    elem = {np.float32: onnx.TensorProto.FLOAT, np.float64: onnx.TensorProto.DOUBLE}[dtype]
    assert out_type.elem_type == elem
    assert all(i.type.tensor_type.elem_type == elem for i in proto.graph.input)
    assert [o.name for o in proto.graph.output] == [fastnn.onnx.OUTPUT_NAME]
    assert proto.opset_import[0].version == fastnn.onnx.OPSET == 18
    session = _session(data)
    xs = [np.asarray(a, dtype=dtype) for a in (x if isinstance(x, list) else [x])]
    names = [i.name for i in session.get_inputs()]
    for n in BATCHES:
        parts = [a[:n] for a in xs]
        got = session.run(None, dict(zip(names, parts)))[0]
        expected = model.predict(parts if isinstance(x, list) else parts[0], verbose=0)
        assert got.shape == expected.shape and got.dtype == expected.dtype == dtype
        assert_close(got, expected, dtype, tolerance)
    return got, expected


def randomize(model, seed=0):
    """Random weights for every layer (positive ones for variances), so that no
    parameter sits at its initial 0 or 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = [rng.uniform(0.5, 2.0, w.shape) if "variance" in name
                   else rng.normal(0.0, 0.5, w.shape)
                   for name, w in zip(layer.weight_names, layer.get_weights())]
        layer.set_weights(weights)
    return model


def rows(*shape, seed=1, scale=2.0):
    """257 random samples of `shape`."""
    return np.random.default_rng(seed).normal(0.0, scale, (257,) + shape)


# ----------------------------------------------------------------- activations
def test_every_activation_of_the_table_has_an_onnx_form():
    from fastnn.onnx import _activations
    assert set(_activations.CONVERTERS) == {a.name for a in _codes.ACTIVATIONS}


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_dense_and_activation_layer_with_each_activation(name, dtype):
    model = randomize(Sequential([layers.Input(shape=(16,)),
                                  layers.Dense(32, activation=name), layers.Activation(name),
                                  layers.Dense(8, activation=name)]))
    check(model, rows(16), dtype)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_each_activation_at_extreme_inputs(name, dtype):
    model = Sequential([layers.Input(shape=(14,)), layers.Activation(name)])
    x = np.array([[-1e4, -700.0, -100.0, -30.0, -10.0, -1.0, -1e-3, 0.0, 1e-8, 3.0, 10.0,
                   30.0, 100.0, 1e4]] * 257)
    check(model, x, dtype)


def test_float64_gelu_keeps_float64_accuracy_against_math_erfc():
    # onnxruntime has no float64 Erf: fastnn writes erfc out of elementary ops
    x = np.concatenate([np.linspace(-40, 40, 40001), -np.geomspace(1e-12, 1, 500),
                        np.geomspace(1e-12, 1, 500)])[:, None]
    with fastnn.config.floatx_scope("float64"):
        model = Sequential([layers.Input(shape=(1,), name="x"), layers.Activation("gelu")])
        got = _session(fastnn.onnx.to_bytes(model)).run(None, {"x": x})[0]
        predicted = model.predict(x, verbose=0)
    # the argument rounded as fastnn rounds it (erfc's condition number, 2 v^2, would
    # amplify a different rounding of it)
    exact = np.array([0.5 * v * math.erfc(v * -math.sqrt(0.5)) for v in x[:, 0]])[:, None]
    np.testing.assert_allclose(got, exact, rtol=4e-15, atol=1e-300)
    assert_close(got, predicted, np.float64)


def test_leaky_relu_slope_not_exact_in_float32_is_written_in_float64_ops():
    with fastnn.config.floatx_scope("float64"):
        model = Sequential([layers.Input(shape=(3,)), layers.LeakyReLU(negative_slope=0.1)])
        ops = [n.op_type for n in onnx.load_from_string(fastnn.onnx.to_bytes(model))
               .graph.node]
        assert "LeakyRelu" not in ops
        check(model, rows(3), np.float64, tolerance=dict(rtol=0, atol=0))
    model = Sequential([layers.Input(shape=(3,)), layers.LeakyReLU(negative_slope=0.1)])
    assert [n.op_type for n in onnx.load_from_string(fastnn.onnx.to_bytes(model))
            .graph.node] == ["LeakyRelu"]


# ----------------------------------------------------------------------- layers
def _activation_layers():
    return Sequential([layers.Input(shape=(8,)), layers.Dense(8), layers.ReLU(),
                       layers.Dense(8), layers.ReLU(negative_slope=0.1), layers.Dense(8),
                       layers.LeakyReLU(), layers.Dense(8), layers.ELU(alpha=0.5),
                       layers.Dense(8), layers.PReLU(), layers.Dense(3), layers.Softmax()])


def _noise_layers():
    return Sequential([layers.Input(shape=(10,)), layers.Dense(16, activation="selu"),
                       layers.Dropout(0.3), layers.GaussianNoise(0.2),
                       layers.GaussianDropout(0.2), layers.AlphaDropout(0.1),
                       layers.Dense(4)])


def _reshapes():
    return Sequential([layers.Input(shape=(3, 4)), layers.Flatten(), layers.Dense(12),
                       layers.Reshape((4, 3)), layers.PReLU(shared_axes=[1]),
                       layers.Reshape((-1,)),
                       layers.Dense(5)])


def _batch_normalization():
    return Sequential([layers.Input(shape=(6,)), layers.Dense(8),
                       layers.BatchNormalization(), layers.Dense(8, activation="relu"),
                       layers.BatchNormalization(center=False, scale=False, epsilon=0.01),
                       layers.Dense(3)])


def _batch_normalization_axes():
    return Sequential([layers.Input(shape=(3, 4)), layers.BatchNormalization(axis=1),
                       layers.BatchNormalization(axis=-1, scale=False), layers.Flatten(),
                       layers.Dense(2)])


def _layer_normalization():
    return Sequential([layers.Input(shape=(3, 4)), layers.LayerNormalization(axis=1),
                       layers.LayerNormalization(), layers.Flatten(), layers.Dense(8),
                       layers.LayerNormalization(center=False, scale=False),
                       layers.Dense(3)])


def _preprocessing():
    return Sequential([layers.Input(shape=(5,)), layers.Rescaling(1 / 255),
                       layers.Rescaling(2.0, offset=-1.0),
                       layers.Normalization(mean=[1, 2, 3, 4, 5], variance=[1, 4, 9, 0, 2]),
                       layers.Dense(5), layers.Normalization(axis=None, mean=0.5,
                                                             variance=3.0, invert=True),
                       layers.Dense(2)])


def _nested_sequential():
    inner = Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="gelu"),
                        layers.Dense(8, activation="silu")])
    return Sequential([inner, layers.Dense(4), Sequential([layers.Dense(2)])])


def _identity_only():
    # no node computes anything: the output is the input through an Identity node
    return Sequential([layers.Input(shape=(3,)), layers.Dropout(0.5),
                       layers.GaussianNoise(1.0)])


MODELS = {"activation_layers": _activation_layers, "identity_only": _identity_only, "noise_layers": _noise_layers,
          "reshapes": _reshapes, "batch_normalization": _batch_normalization,
          "batch_normalization_axes": _batch_normalization_axes,
          "layer_normalization": _layer_normalization, "preprocessing": _preprocessing,
          "nested_sequential": _nested_sequential}


@pytest.mark.parametrize("make", MODELS.values(), ids=list(MODELS))
def test_layers(make, dtype):
    model = randomize(make())
    check(model, rows(*model.input_shape[1:]), dtype)


def test_normalization_adapted_to_data(dtype):
    data = rows(3, 4, seed=5) * [1.0, 10.0, 0.1, 3.0] + [5.0, -2.0, 0.0, 100.0]
    first = layers.Normalization()
    first.adapt(data)
    per_axis = layers.Normalization(axis=1)
    per_axis.adapt(data)
    model = Sequential([layers.Input(shape=(3, 4)), first, per_axis, layers.Flatten(),
                        layers.Dense(3)])
    check(randomize(model), data, dtype)
    assert abs(model.predict(data, verbose=0)).max() > 0


def test_every_layer_class_is_covered():
    # each class of fastnn.layers has a converter (its own or its base class's) and a
    # model in these tests
    from fastnn.onnx import _layers
    public = {getattr(layers, n) for n in layers.__all__
              if isinstance(getattr(layers, n), type)
              and issubclass(getattr(layers, n), Layer)} - {Layer}
    assert all(any(base in _layers.CONVERTERS for base in cls.__mro__) for cls in public)
    used = {type(l) for make in MODELS.values() for l in make().layers}
    used |= {layers.Activation, layers.Concatenate, layers.Add,   # tested below and above
             layers.QuantizedDense}
    assert public <= used


# ------------------------------------------------------------- functional models
def _two_inputs():
    a = layers.Input(shape=(4,), name="numbers")
    b = layers.Input(shape=(2, 3), name="grid")
    left = layers.Dense(6, activation="relu")(a)
    right = layers.Dense(5)(layers.Flatten()(b))
    joined = layers.Concatenate()([left, right])
    summed = layers.Add()([layers.Dense(4, activation="tanh")(joined),
                           layers.Dense(4)(a), layers.Dense(4)(joined)])
    return fastnn.Model([a, b], layers.Dense(3, activation="softmax")(
        layers.LayerNormalization()(summed)))


def test_functional_graph_with_several_inputs_concatenate_and_add(dtype):
    model = randomize(_two_inputs())
    check(model, [rows(4), rows(2, 3, seed=2)], dtype)
    names = [i.name for i in onnx.load_from_string(fastnn.onnx.to_bytes(model)).graph.input]
    assert names == ["numbers", "grid"]


def test_functional_chain_and_subclassed_model(dtype):
    inputs = layers.Input(shape=(5,), name="features")
    chain = fastnn.Model(inputs, layers.Dense(2)(layers.Dense(7, activation="elu")(inputs)))
    check(randomize(chain), rows(5), dtype)
    assert onnx.load_from_string(fastnn.onnx.to_bytes(chain)).graph.input[0].name == \
        "features"

    class Residual(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(5, activation="relu")
            self.add_layer = layers.Add()
            self.head = layers.Dense(2)

        def call(self, x):
            return self.head(self.add_layer([x, self.hidden(x)]))

    model = Residual()
    model.build((None, 5))
    check(randomize(model), rows(5), dtype)


def test_graph_model_inside_a_sequential(dtype):
    a, b = layers.Input(shape=(3,)), layers.Input(shape=(2,))
    graph = fastnn.Model([a, b], layers.Concatenate()([layers.Dense(4)(a), b]))
    model = Sequential([graph, layers.Dense(2)])
    model.build((None, 5))
    check(randomize(model), rows(5), dtype)


# ------------------------------------------------------------------ real data
def test_trained_model_on_the_digits():
    from fastnn.datasets import load_digits
    (x_train, y_train), (x_test, y_test) = load_digits()
    fastnn.utils.set_random_seed(0)
    model = Sequential([layers.Input(shape=(8, 8), name="image"), layers.Rescaling(1 / 255),
                        layers.Flatten(), layers.Dense(64, activation="relu"),
                        layers.BatchNormalization(), layers.Dropout(0.2),
                        layers.Dense(32, activation="gelu"),
                        layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    session = _session(fastnn.onnx.to_bytes(model))
    got = session.run(None, {"image": x_test.astype(np.float32)})[0]
    expected = model.predict(x_test, verbose=0)
    assert_close(got, expected, np.float32)
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert (got.argmax(1) == y_test).mean() > 0.9
    moving = model.layers[3].get_weights()[2]
    assert np.abs(moving).max() > 0   # the moving statistics were trained, and exported


# ---------------------------------------------------------- the export entry points
def _small():
    return Sequential([layers.Input(shape=(4,), name="x"),
                       layers.Dense(3, activation="relu")])


def test_model_export_writes_the_file(tmp_path, capsys):
    model = randomize(_small())
    model.export(tmp_path / "m.onnx")
    assert "Saved artifact at" in capsys.readouterr().out
    model.export(str(tmp_path / "n.bin"), format="onnx", verbose=False, opset_version=18)
    assert capsys.readouterr().out == ""
    fastnn.onnx.export(model, tmp_path / "f.onnx", verbose=False)
    data = (tmp_path / "m.onnx").read_bytes()
    assert data == (tmp_path / "n.bin").read_bytes() == (tmp_path / "f.onnx").read_bytes()
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x = rows(4).astype(np.float32)
    assert_close(session.run(None, {"x": x})[0], model.predict(x, verbose=0),
                 np.float32)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.producer_name == "fastnn" and proto.ir_version == 8
    assert {p.key: p.value for p in proto.metadata_props}["fastnn_model_name"] == model.name


def test_export_refuses_bad_arguments(tmp_path):
    model = _small()
    with pytest.raises(ValueError, match="`format` must be 'onnx'.*'tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(ValueError, match="`format` cannot be inferred .*m.keras"):
        model.export(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="`opset_version` must be None or 18 .*; got 17"):
        model.export(tmp_path / "m.onnx", opset_version=17)
    with pytest.raises(ValueError, match="`input_signature` must be None"):
        model.export(tmp_path / "m.onnx", input_signature=[(None, 4)])
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['dynamic'\]"):
        model.export(tmp_path / "m.onnx", dynamic=True)
    with pytest.raises(TypeError, match="`filepath` must be a str"):
        fastnn.onnx.export(model, 3)
    with pytest.raises(TypeError, match="`model` must be a fastnn Sequential or Model"):
        fastnn.onnx.to_bytes(layers.Dense(3))
    assert not list(tmp_path.iterdir())


def test_a_sequential_without_input_layer_names_its_input_input():
    model = randomize(Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)]))
    graph = onnx.load_from_string(fastnn.onnx.to_bytes(model)).graph
    assert [i.name for i in graph.input] == ["input"]
    check(model, rows(4), np.float32)


def test_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="model .* must be built before it is exported"):
        fastnn.onnx.to_bytes(Sequential([layers.Dense(3)]))


def test_a_users_own_layer_is_refused_by_name():
    class Doubler(Layer):
        def forward(self, x, training, workspace):
            return x * 2

    model = Sequential([layers.Input(shape=(3,)), Doubler(name="twice")])
    with pytest.raises(ValueError, match=r"layer 'twice' \(Doubler\) cannot be exported "
                                         r"to ONNX: it is not one of fastnn's layers"):
        fastnn.onnx.to_bytes(model)

    class NoisyDense(layers.Dense):
        def forward(self, x, training, workspace):
            return super().forward(x, training, workspace) + 1

    model = Sequential([layers.Input(shape=(3,)), NoisyDense(2, name="noisy")])
    with pytest.raises(ValueError, match=r"'noisy' \(NoisyDense\).*extends Dense with its "
                                         r"own Python \(NoisyDense.forward\)"):
        fastnn.onnx.to_bytes(model)

    class NamedDense(layers.Dense):   # configuration only: converts as a Dense
        pass

    check(randomize(Sequential([layers.Input(shape=(3,)), NamedDense(2)])), rows(3),
          np.float32)


def test_a_mixed_precision_layer_is_refused_by_name():
    model = randomize(_small())
    if not hasattr(model, "quantize"):
        pytest.skip("this fastnn has no model.quantize")
    model.quantize("bfloat16")
    with pytest.raises(ValueError, match=r"layer '.*' computes in bfloat16 .*export the "
                                         r"model before quantizing it"):
        fastnn.onnx.to_bytes(model)


def test_export_imports_neither_onnx_nor_onnxruntime(tmp_path):
    code = ("import sys, fastnn\n"
            "from fastnn import layers\n"
            "m = fastnn.Sequential([layers.Input(shape=(4,)), layers.Dense(2)])\n"
            "m.export('m.onnx', verbose=False)\n"
            "print(sorted(n for n in ('onnx', 'onnxruntime', 'google.protobuf') "
            "if n in sys.modules))\n")
    result = run_python(code, cwd=tmp_path, check=True)
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_int8_quantized_model_matches_predict():
    # model.quantize("int8"): each row quantized with its own scale, the integer product
    # exact, the epilogue in float32; ONNX follows the same ops
    model = randomize(Sequential([layers.Input(shape=(20,)), layers.Dense(16, activation="relu"),
                                  layers.Dense(5, activation="softmax")]))
    model.quantize("int8")
    assert {type(l) for l in model.layers} == {layers.QuantizedDense}
    x = rows(20)
    x[3] = 0.0                                  # an all-zero row: scale 127 / 1e-7
    got, want = check(model, x, np.float32)
    assert np.abs(got - want).max() < 1e-6
