"""The public boundary on inputs that once crashed the process or gave a bare internal
error: each case ends in a correct result or a ValueError / TypeError naming the
argument."""
import io
import json
import zipfile

import numpy
import pytest

import fastnn
from fastnn import _threads
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential, load_model
from session_python import run_python


# ------------------------------------------------------------------------ threads
@pytest.mark.parametrize("n", [0, -1, 10 ** 6, True, 2.0, "4"])
def test_set_num_threads_rejects_a_bad_count_and_keeps_the_setting(n):
    before = fastnn.get_num_threads()
    with pytest.raises((ValueError, TypeError), match="`n`"):
        fastnn.set_num_threads(n)
    assert fastnn.get_num_threads() == before


def test_threads_block_rejects_an_absurd_count():
    with pytest.raises(ValueError, match=f"<= {_threads.MAX_THREADS}"):
        with fastnn.threads(10 ** 6):
            pass


def test_thread_counts_take_numpy_ints():
    before = fastnn.get_num_threads()
    with fastnn.threads(numpy.int64(1)):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == before


def test_a_huge_omp_num_threads_is_capped():
    code = ("import numpy, fastnn; from fastnn import _threads\n"
            "assert fastnn.get_num_threads() <= _threads.MAX_THREADS\n"
            "x = numpy.ones((1000, 100), numpy.float32)\n"
            "fastnn.get_backend().activation_forward(x, fastnn.activations.get('tanh'))\n")
    run = run_python(code, timeout=120, OMP_NUM_THREADS="1000000")
    assert run.returncode == 0, run.stderr[-2000:]


# ------------------------------------------------------------------------- losses
def test_loss_with_more_predictions_than_targets_raises():
    with pytest.raises(ValueError, match="`y_true` must have 300000 samples"):
        fastnn.losses.get("hinge")(numpy.ones((1, 2)), numpy.ones((300000, 2)))


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "hinge", "kld",
                                  "binary_crossentropy", "categorical_crossentropy"])
def test_losses_check_y_true_and_sample_weight_against_y_pred(name):
    loss = fastnn.losses.get(name)
    y_pred = numpy.full((8, 3), 0.5)
    with pytest.raises(ValueError, match="`y_true`"):
        loss(numpy.ones((7, 3)) * 0.5, y_pred)
    with pytest.raises(ValueError, match="`sample_weight`"):
        loss(numpy.ones((8, 3)) * 0.5, y_pred, sample_weight=numpy.ones(3))


def test_sparse_loss_rejects_labels_out_of_range():
    loss = fastnn.losses.get("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        loss(numpy.array([0, 1, 3]), numpy.full((3, 3), 1 / 3))


def test_metric_top_k_of_zero_raises():
    with pytest.raises(ValueError, match="`k`"):
        fastnn.metrics.TopKCategoricalAccuracy(k=0)


def test_sparse_top_k_rejects_labels_out_of_range():
    metric = fastnn.metrics.SparseTopKCategoricalAccuracy(k=2)
    with pytest.raises(ValueError, match="`y_true`"):
        metric.update_state(numpy.array([0, 7]), numpy.ones((2, 3)))


# ------------------------------------------------------------------------ backend
def _cpu():
    return fastnn.backend.use_backend("cpu")


def test_take_rows_rejects_indices_out_of_range():
    with _cpu() as backend, pytest.raises(ValueError, match="`indices`"):
        backend.take_rows(numpy.ones((3, 2)), numpy.array([0, 10 ** 9]))


def test_take_rows_and_bias_grad_reject_a_small_out():
    with _cpu() as backend:
        with pytest.raises(ValueError, match="`out`"):
            backend.take_rows(numpy.ones((3, 2)), numpy.array([0, 1, 2]),
                              out=numpy.empty((1, 2)))
        with pytest.raises(ValueError, match="`out`"):
            backend.bias_grad(numpy.ones((4, 300)), out=numpy.empty(3))


def test_matmul_and_dense_forward_reject_mismatched_inner_dimensions():
    relu = fastnn.activations.get("relu")
    with _cpu() as backend:
        with pytest.raises(ValueError, match="inner dimensions"):
            backend.matmul(numpy.ones((4, 3)), numpy.ones((5, 2)))
        with pytest.raises(ValueError, match="`w`"):
            backend.dense_forward(numpy.ones((4, 3)), numpy.ones((5, 2)), None, relu)


def test_activation_backward_and_dropout_reject_short_arrays():
    relu = fastnn.activations.get("relu")
    grad = numpy.ones((300, 100))
    with _cpu() as backend:
        with pytest.raises(ValueError, match="`saved`"):
            backend.activation_backward(relu, grad, numpy.ones((1, 100)))
        with pytest.raises(ValueError, match="`mask`"):
            backend.dropout_backward(grad, numpy.ones((1, 100), numpy.uint8), 0.5)
        with pytest.raises(ValueError, match="`mask`"):
            backend.dropout(grad, 0.5, 1, 0, 0, mask=numpy.empty((1, 100), numpy.uint8))


def test_backend_rejects_mixed_dtypes_with_a_named_argument():
    with _cpu() as backend, pytest.raises(TypeError, match="`b`"):
        backend.matmul(numpy.ones((2, 2), numpy.float32), numpy.ones((2, 2)))


@pytest.mark.parametrize("shape", [(64, 64), (200, 200)])
def test_matmul_into_an_input_equals_numpy(shape):
    rng = numpy.random.default_rng(0)
    a = rng.random(shape)
    expected = a @ a
    assert numpy.allclose(fastnn.ops.matmul(a, a, out=a), expected)
    a, b = rng.random((3,) + shape), rng.random(shape)
    expected = a @ b
    assert numpy.allclose(fastnn.ops.matmul(a, b, out=a), expected)


# ------------------------------------------------------------- configs and layers
@pytest.mark.parametrize("module", ["optimizers", "losses", "initializers", "regularizers",
                                    "activations"])
def test_dict_configs_with_unknown_keys_raise_value_error(module):
    with pytest.raises(ValueError, match="`"):
        getattr(fastnn, module).get({"foo": 1})


def test_layer_config_with_unknown_keys_raises_value_error():
    with pytest.raises(ValueError, match="`config`"):
        fastnn.layers.get({"foo": 1})


def test_optimizer_hyper_parameters_are_checked_at_construction():
    for kwargs in ({"beta_1": 1.0}, {"beta_2": -0.1}, {"epsilon": 0.0}):
        with pytest.raises(ValueError, match=f"`{next(iter(kwargs))}`"):
            fastnn.optimizers.Adam(**kwargs)
    with pytest.raises(ValueError, match="`rho`"):
        fastnn.optimizers.RMSprop(rho=2.0)
    with pytest.raises(TypeError, match="`momentum`"):
        fastnn.optimizers.SGD(momentum="a")


@pytest.mark.parametrize("seed", [-1, 2 ** 64, 1.5, True])
def test_dropout_seed_out_of_range_raises(seed):
    with pytest.raises((ValueError, TypeError), match="`seed`"):
        Dropout(0.5, seed=seed)


def test_numpy_scalars_are_accepted_like_python_numbers():
    assert Dense(numpy.int64(4)).units == 4
    assert Dense(4, input_dim=numpy.int32(3)).input_shape == (3,)
    assert Dropout(numpy.float32(0.5), seed=numpy.uint64(7)).seed == 7
    assert fastnn.optimizers.Adam(numpy.float32(0.01), beta_1=numpy.float64(0.8)).beta_1 == 0.8


@pytest.mark.parametrize("shape", [(1.5,), (True,), (0,), ("3",), ()])
def test_non_integral_input_shapes_raise(shape):
    with pytest.raises((ValueError, TypeError), match="`input_shape`"):
        Dense(4, input_shape=shape)


def test_set_backend_names_the_valid_backends():
    with pytest.raises(ValueError, match="`backend` must be one of"):
        fastnn.set_backend("nope")


def test_plot_confusion_matrix_takes_model_x_y():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    x, y = numpy.random.rand(10, 4), numpy.arange(10) % 3
    fig = fastnn.plot.plot_confusion_matrix(model, x, y)
    assert fig is not None
    with pytest.raises(ValueError, match="`y_true`"):
        fastnn.plot.plot_confusion_matrix(y, model.predict(x, verbose=0), labels=["a", "b"])


# --------------------------------------------------------------------- model files
@pytest.fixture
def saved(tmp_path):
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile("adam", "mse")
    model.fit(numpy.ones((4, 4)), numpy.ones((4, 3)), verbose=0)
    path = tmp_path / "m.fnn"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        members = {info.filename: z.read(info.filename) for info in z.infolist()}
    return tmp_path, members


def _write(tmp_path, members, name="x.fnn"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, data in members.items():
            z.writestr(key, data, compress_type=zipfile.ZIP_DEFLATED
                       if key.endswith(".json") else zipfile.ZIP_STORED)
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


def _rejected(path):
    with pytest.raises(ValueError, match=str(path.name)):
        load_model(path)


def test_load_model_rejects_huge_iterations(saved):
    tmp_path, members = saved
    doc = json.loads(members["model.json"])
    doc["optimizer_state"]["iterations"] = 10 ** 400
    _rejected(_write(tmp_path, dict(members, **{"model.json": json.dumps(doc).encode()})))


def test_load_model_rejects_deeply_nested_json(saved):
    tmp_path, members = saved
    deep = ('{"model": ' + "[" * 100000 + "]" * 100000 + "}").encode()
    _rejected(_write(tmp_path, dict(members, **{"model.json": deep})))


def test_load_model_rejects_corrupt_deflate_data(saved):
    tmp_path, members = saved
    path = _write(tmp_path, members)
    raw = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("model.json")
    start = info.header_offset + 30 + len("model.json") + 5
    raw[start:start + 20] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    _rejected(path)


def test_load_model_rejects_a_flipped_version_byte(saved):
    tmp_path, members = saved
    path = _write(tmp_path, members)
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")   # the last central directory entry
    raw[central + 6] = 0xeb              # "version needed to extract": 23.5
    path.write_bytes(bytes(raw))
    _rejected(path)


@pytest.mark.parametrize("field, value", [
    (("compile",), {}), (("optimizer_state",), 5), (("compile", "metrics"), [1]),
    (("model", "config", "layers"), [{"class_name": "Dense"}]),
    (("compile", "optimizer"), {"foo": 1})])
def test_load_model_rejects_malformed_documents(saved, field, value):
    tmp_path, members = saved
    doc = json.loads(members["model.json"])
    target = doc
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    _rejected(_write(tmp_path, dict(members, **{"model.json": json.dumps(doc).encode()})))
