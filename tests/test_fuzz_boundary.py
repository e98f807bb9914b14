"""Property-based fuzzing of fastnn's public boundary (hypothesis).

Every call ends in a correct result (compared with NumPy or the reference backend where
there is one to compare with) or a ValueError / TypeError whose message names the
argument (a backticked name, or the argument's own name) -- never a crash, a hang, a
bare internal error or a silently wrong result.

The default run draws about 2,800 examples in all (seconds; well under two minutes).
Scale it with an environment variable giving the total:

    FASTNN_FUZZ_EXAMPLES=50000 python -m pytest -q -p no:cacheprovider tests/test_fuzz_boundary.py

Runs are derandomized (the same examples every run, deadline off) unless
FASTNN_FUZZ_RANDOM=1 asks for fresh ones.
"""
import io
import os
import tempfile
import zipfile

import numpy
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _threads  # noqa: E402
from fastnn.layers import Dense, Dropout  # noqa: E402
from fastnn.models import Sequential, load_model  # noqa: E402

TOTAL = int(os.environ.get("FASTNN_FUZZ_EXAMPLES", "2400"))
settings.register_profile(
    "fastnn-fuzz", deadline=None, derandomize=not os.environ.get("FASTNN_FUZZ_RANDOM"),
    database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large, HealthCheck.large_base_example])
ALLOWED = (ValueError, TypeError)


def fuzz(share):
    """The settings of a test drawing `share` of the TOTAL examples."""
    return settings(settings.get_profile("fastnn-fuzz"), max_examples=max(10, int(TOTAL * share)))


def check_error(exc, *names):
    """The exception is allowed and its message names an argument."""
    assert isinstance(exc, ALLOWED), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert "`" in message or any(n in message for n in names), message


class Outcome:
    """`with Outcome("x", "y") as o:` -- a block that may raise only an allowed error
    naming one of the arguments; o.error says whether it did."""

    def __init__(self, *names):
        self.names, self.error = names, None

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None:
            return False
        if not isinstance(exc, Exception):
            return False
        check_error(exc, *self.names)
        self.error = exc
        return True


# ------------------------------------------------------------------- strategies
junk_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
    st.sampled_from([0, 1, 2, 3, -1, 10 ** 6, 10 ** 12, 2 ** 63, 2 ** 64]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.5, 1.0, 0.999]),
    st.text(max_size=5), st.sampled_from(["relu", "adam", "mse", "softmax"]),
    st.builds(numpy.int64, st.integers(-2 ** 40, 2 ** 40)),
    st.builds(numpy.float32, st.floats(-10, 10, width=32)),
    st.builds(numpy.bool_, st.booleans()), st.just(1 + 2j))
junk = st.one_of(junk_scalars, st.lists(junk_scalars, max_size=3).map(tuple),
                 st.dictionaries(st.sampled_from(["class_name", "config", "foo", "name"]),
                                 junk_scalars, max_size=3))
dtypes = st.sampled_from([numpy.float64, numpy.float32, numpy.float16, numpy.int64,
                          numpy.int8, numpy.uint8, numpy.bool_, numpy.complex128, object,
                          "U3"])


@st.composite
def arrays(draw, shape=None, finite=False, dtype=None, max_side=6):
    """Arrays of any of `dtypes` (or `dtype`), 0-D to 3-D (or `shape`), with NaN and
    infinities unless `finite`, in C, Fortran or strided layout."""
    dtype = draw(dtypes) if dtype is None else dtype
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=max_side))
    kind = numpy.dtype(dtype).kind
    if kind in "OU":
        base = numpy.empty(shape, dtype=object if kind == "O" else dtype)
        base[...] = draw(st.sampled_from(["a", 1, None])) if kind == "O" else "ab"
        return base
    elements = None
    if kind == "f":
        elements = st.floats(-4, 4, width=min(64, 8 * numpy.dtype(dtype).itemsize)) \
            if finite else st.floats(width=16, allow_nan=True, allow_infinity=True)
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "F":
        arr = numpy.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        big = numpy.repeat(arr, 2, axis=-1)
        arr = big[..., ::2]
    return arr


# ------------------------------------------------------------- constructors
@fuzz(0.08)
@given(units=junk, activation=junk, input_shape=junk, use_bias=st.booleans())
def test_dense_constructor(units, activation, input_shape, use_bias):
    with Outcome("units", "activation", "input_shape") as o:
        layer = Dense(units, activation=activation, input_shape=input_shape,
                      use_bias=use_bias)
    if o.error is None:
        assert isinstance(layer.units, int) and layer.units > 0
        assert all(isinstance(s, int) and s > 0 for s in layer.input_shape or ())


@fuzz(0.05)
@given(rate=junk, seed=junk)
def test_dropout_constructor(rate, seed):
    with Outcome("rate", "seed") as o:
        layer = Dropout(rate, seed=seed)
    if o.error is None:
        assert 0 <= layer.rate < 1 and 0 <= layer.seed < 2 ** 64


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam"]
OPT_ARGS = ["learning_rate", "beta_1", "beta_2", "epsilon", "momentum", "rho",
            "weight_decay", "clipnorm", "clipvalue", "initial_accumulator_value"]


@fuzz(0.12)
@given(name=st.sampled_from(OPTIMIZERS),
       kwargs=st.dictionaries(st.sampled_from(OPT_ARGS), junk_scalars, max_size=3))
def test_optimizer_constructor_then_a_step(name, kwargs):
    cls = getattr(fastnn.optimizers, name)
    with Outcome(*OPT_ARGS, "keyword") as o:
        opt = cls(**kwargs)
    if o.error is not None:
        return
    # a constructed optimizer takes a step without an internal error and stays finite
    param = numpy.ones((3, 4), numpy.float32)
    grad = numpy.full((3, 4), 0.5, numpy.float32)
    for _ in range(2):
        opt.apply([param], [grad])
    # huge hyper-parameters may overflow float32, as in Keras; moderate ones may not
    if all(abs(float(v)) < 1e3 for v in kwargs.values() if v is not None):
        assert numpy.isfinite(param).all()


@fuzz(0.05)
@given(identifier=junk, module=st.sampled_from(["optimizers", "losses", "initializers",
                                               "regularizers", "activations", "metrics"]))
def test_get_by_name_or_config(identifier, module):
    with Outcome(module.rstrip("s"), "identifier", "activation", "metrics", "loss"):
        getattr(fastnn, module).get(identifier)


# ------------------------------------------------------------------- models
def _model(loss="sparse_categorical_crossentropy"):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(5, activation="relu", input_shape=(4,)), Dropout(0.2),
                        Dense(3, activation="softmax")])
    model.compile("adam", loss, metrics=["accuracy"])
    return model


_PREDICTOR = _model()


def _reference_predict(model, x):
    """The model's forward pass in NumPy."""
    (w1, b1), (w2, b2) = model.layers[0].get_weights(), model.layers[2].get_weights()
    h = numpy.maximum(x.astype(numpy.float64) @ w1 + b1, 0) @ w2 + b2
    e = numpy.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@fuzz(0.12)
@given(x=arrays(max_side=5), batch_size=st.one_of(st.none(), junk_scalars))
def test_predict(x, batch_size):
    with Outcome("x", "batch_size") as o:
        out = _PREDICTOR.predict(x, batch_size=batch_size, verbose=0)
    if o.error is None:
        assert out.shape == (len(x), 3)
        expected = _reference_predict(_PREDICTOR, numpy.asarray(x, dtype=numpy.float32))
        numpy.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@fuzz(0.08)
@given(x=st.one_of(arrays(shape=(6, 4), finite=True), arrays(max_side=6)),
       y=st.one_of(arrays(shape=(6,), dtype=numpy.int64), arrays(max_side=6),
                   st.integers(-3, 6).map(lambda v: numpy.full(6, v))),
       sample_weight=st.one_of(st.none(), arrays(max_side=6)),
       batch_size=st.one_of(st.none(), junk_scalars), epochs=st.sampled_from([1, 0, -1, 2.5]))
def test_fit(x, y, sample_weight, batch_size, epochs):
    model = _model()
    with Outcome("x", "y", "sample_weight", "batch_size", "epochs"):
        history = model.fit(x, y, sample_weight=sample_weight, batch_size=batch_size,
                            epochs=epochs, verbose=0)
        assert len(history.history["loss"]) == epochs


@fuzz(0.06)
@given(x=st.one_of(arrays(shape=(5, 4), finite=True), arrays(max_side=5)),
       y=st.one_of(arrays(shape=(5,), dtype=numpy.int64), arrays(max_side=5)),
       sample_weight=st.one_of(st.none(), arrays(max_side=5)),
       batch_size=st.one_of(st.none(), junk_scalars))
def test_evaluate(x, y, sample_weight, batch_size):
    with Outcome("x", "y", "sample_weight", "batch_size"):
        loss, accuracy = _PREDICTOR.evaluate(x, y, sample_weight=sample_weight,
                                             batch_size=batch_size, verbose=0)
        assert 0 <= accuracy <= 1 and loss >= 0


@fuzz(0.05)
@given(optimizer=junk, loss=junk, metrics=st.one_of(junk, st.lists(junk, max_size=2)))
def test_compile(optimizer, loss, metrics):
    model = Sequential([Dense(2, input_shape=(3,))])
    with Outcome("optimizer", "loss", "metrics"):
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


# ------------------------------------------------------------ losses, metrics
LOSSES = ["mse", "mae", "huber", "hinge", "kld", "binary_crossentropy",
          "categorical_crossentropy", "sparse_categorical_crossentropy"]


@fuzz(0.1)
@given(name=st.sampled_from(LOSSES), rows=st.integers(1, 6), cols=st.integers(1, 4),
       data=st.data())
def test_losses_match_the_reference(name, rows, cols, data):
    y_pred = data.draw(st.one_of(arrays(shape=(rows, cols), finite=True, dtype=numpy.float64)
                                 .map(lambda a: 1 / (1 + numpy.exp(-a))), arrays()))
    sparse = name.startswith("sparse")
    y_true = data.draw(st.one_of(
        st.lists(st.integers(-1, cols), min_size=rows, max_size=rows).map(numpy.array)
        if sparse else arrays(shape=(rows, cols), finite=True, dtype=numpy.float64).map(abs).map(
            lambda a: numpy.minimum(a, 1)), arrays()))
    weight = data.draw(st.one_of(st.none(), arrays(shape=(rows,), finite=True,
                                                   dtype=numpy.float64).map(abs),
                                 arrays()))
    loss = fastnn.losses.get(name)
    with Outcome("y_true", "y_pred", "sample_weight", "y") as o:
        value = loss(y_true, y_pred, sample_weight=weight)
    if o.error is None:
        with fastnn.backend.use_backend("reference"):
            expected = fastnn.losses.get(name)(y_true, y_pred, sample_weight=weight)
        numpy.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


METRICS = ["accuracy", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "mse", "mae"]


@fuzz(0.06)
@given(name=st.sampled_from(METRICS), y_true=arrays(max_side=4), y_pred=arrays(max_side=4),
       sample_weight=st.one_of(st.none(), arrays(max_side=4)))
def test_metrics(name, y_true, y_pred, sample_weight):
    metric = fastnn.metrics.get(name)
    with Outcome("y_true", "y_pred", "sample_weight") as o:
        metric.update_state(y_true, y_pred, sample_weight=sample_weight)
    if o.error is None:
        result = metric.result()
        assert isinstance(result, float)


# ------------------------------------------------------------------- ops, backend
@fuzz(0.1)
@given(a=arrays(max_side=5), b=arrays(max_side=5), ta=st.booleans(), tb=st.booleans(),
       out_kind=st.sampled_from([None, "right", "wrong", "a", "b"]))
def test_ops_matmul(a, b, ta, tb, out_kind):
    with Outcome("a", "b", "out") as o:
        expected = fastnn.ops.matmul(a, b, transpose_a=ta, transpose_b=tb)
    if o.error is not None:
        return
    a64, b64 = numpy.asarray(a, numpy.float64), numpy.asarray(b, numpy.float64)
    ref = numpy.matmul(numpy.swapaxes(a64, -1, -2) if ta and a.ndim > 1 else a64,
                       numpy.swapaxes(b64, -1, -2) if tb and b.ndim > 1 else b64)
    finite = numpy.isfinite(ref)
    numpy.testing.assert_allclose(numpy.where(finite, expected, 0), numpy.where(finite, ref, 0),
                                  rtol=2e-2, atol=1e-2)
    if out_kind is None:
        return
    out = {"right": numpy.empty_like(expected), "wrong": numpy.empty(expected.shape + (1,)),
           "a": a, "b": b}[out_kind]
    if out_kind in "ab" and (out.shape != expected.shape or out.dtype != expected.dtype):
        return
    before = expected.copy()
    with Outcome("out") as o:
        result = fastnn.ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out)
    if o.error is None:
        numpy.testing.assert_array_equal(numpy.isnan(result), numpy.isnan(before))
        numpy.testing.assert_allclose(result, before, rtol=1e-5, atol=1e-5)


def test_ops_matmul_of_a_huge_result_fails_before_allocating():
    a, b = numpy.ones((10 ** 6, 1)), numpy.ones((1, 10 ** 6))   # an 8 TB result
    with pytest.raises(ValueError, match="`a` and `b`"):
        fastnn.ops.matmul(a, b)


def _call_kernel(backend, method, arrays_, rng):
    relu = fastnn.activations.get(rng.choice(["relu", "tanh", "softmax", "gelu"]))
    x, y, z, idx = arrays_
    calls = {
        "matmul": lambda: backend.matmul(x, y),
        "dense_forward": lambda: backend.dense_forward(x, y, z.reshape(-1), relu),
        "dense_backward_input": lambda: backend.dense_backward_input(x, y, relu, z),
        "bias_grad": lambda: backend.bias_grad(x, out=z.reshape(-1) if z.ndim else z),
        "activation_forward": lambda: backend.activation_forward(x, relu),
        "activation_backward": lambda: backend.activation_backward(relu, x, y),
        "take_rows": lambda: backend.take_rows(x, idx),
        "dropout": lambda: backend.dropout(x, 0.5, 3, 0, 0),
        "dropout_backward": lambda: backend.dropout_backward(
            x, (y > 0).astype(numpy.uint8) if y.dtype.kind == "f" else y, 0.5),
        "loss_grad": lambda: backend.loss_grad(1, 0.0, x, y, None),
        "adam_update": lambda: backend.adam_update(x, y, z, z.copy(), None, 0.1, 0.9, 0.99,
                                                   1e-7, 0.0),
    }
    return calls[method]()


@fuzz(0.13)
@given(method=st.sampled_from(["matmul", "dense_forward", "dense_backward_input",
                               "bias_grad", "activation_forward", "activation_backward",
                               "take_rows", "dropout", "dropout_backward", "loss_grad",
                               "adam_update"]),
       shapes=st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                       min_size=3, max_size=3),
       dtype=st.sampled_from([numpy.float32, numpy.float64, numpy.int64]),
       indices=st.lists(st.integers(-3, 10 ** 9), max_size=4), seed=st.integers(0, 99),
       fortran=st.booleans())
def test_backend_methods_match_the_reference(method, shapes, dtype, indices, seed, fortran):
    rng = numpy.random.default_rng(seed)
    arrs = [numpy.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]
    if fortran:
        arrs[0] = numpy.asfortranarray(arrs[0])
    idx = numpy.array(indices, dtype=numpy.int64)
    copies = [a.copy() for a in arrs]
    with fastnn.backend.use_backend("cpu") as cpu, Outcome("x", "w") as o:
        got = _call_kernel(cpu, method, arrs + [idx], numpy.random.default_rng(seed))
    if o.error is None:
        with fastnn.backend.use_backend("reference") as ref:
            expected = _call_kernel(ref, method, copies + [idx],
                                    numpy.random.default_rng(seed))
        numpy.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)


# ---------------------------------------------------------------- process settings
@fuzz(0.03)
@given(n=junk_scalars)
def test_set_num_threads(n):
    before = fastnn.get_num_threads()
    with Outcome("n") as o:
        fastnn.set_num_threads(n)
    try:
        if o.error is None:
            assert 1 <= fastnn.get_num_threads() <= _threads.MAX_THREADS
        else:
            assert fastnn.get_num_threads() == before
            with Outcome("n"):
                with fastnn.threads(n):
                    pass
    finally:
        fastnn.set_num_threads(before)


@fuzz(0.02)
@given(name=junk)
def test_set_backend(name):
    if name == "cupy" and "cupy" not in fastnn.backend.available_backends():
        with pytest.raises(ImportError, match="CuPy"):   # an optional dependency
            fastnn.backend.use_backend(name).__enter__()
        return
    with Outcome("backend"):
        with fastnn.backend.use_backend(name):
            pass


# ------------------------------------------------------------------ model files
def _good_file():
    model = _model()
    model.fit(numpy.ones((4, 4)), numpy.array([0, 1, 2, 0]), verbose=0)
    buf = io.BytesIO()
    path = os.path.join(tempfile.mkdtemp(), "m.fnn")
    model.save(path)
    with open(path, "rb") as f:
        buf.write(f.read())
    return buf.getvalue()


_GOOD = _good_file()


def _try_load(data):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fuzzed.fnn")
        with open(path, "wb") as f:
            f.write(data)
        with Outcome("filepath", "fuzzed.fnn") as o:
            load_model(path)
        if o.error is not None:
            assert isinstance(o.error, ValueError) and "fuzzed.fnn" in str(o.error)


@fuzz(0.04)
@given(data=st.binary(max_size=2000))
def test_load_model_on_random_bytes(data):
    _try_load(data)


@fuzz(0.06)
@given(edits=st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(0, 255)),
                      min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, len(_GOOD))))
def test_load_model_on_damaged_files(edits, cut):
    raw = bytearray(_GOOD)
    for at, value in edits:
        raw[at] = value
    _try_load(bytes(raw[:cut]))


@fuzz(0.02)
@given(names=st.lists(st.sampled_from(["fastnn.json", "model.json", "../evil",
                                       "weights/0000.npy", "/abs", "weights/0000.npy",
                                       "optimizer/0000.npy", "x" * 300]), max_size=5),
       payload=st.binary(max_size=200), stored=st.booleans())
def test_load_model_on_hostile_zips(names, payload, stored):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, payload, compress_type=zipfile.ZIP_STORED if stored
                       else zipfile.ZIP_DEFLATED)
    _try_load(buf.getvalue())
