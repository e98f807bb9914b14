"""Keras 3 model files in and out: `.keras` and `.weights.h5` files written by Keras 3
(tests/golden/keras_files, made by tests/golden/make_keras_files.py) load into fastnn and
predict as Keras did; files fastnn writes load back into fastnn and into Keras 3 (where
a Keras interpreter is available); hostile files are refused with a ValueError naming
the file and the fault, without running anything."""
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import callbacks, layers, losses, models, optimizers
from session_python import run_python

h5py = pytest.importorskip("h5py", reason="Keras files need h5py (pip install "
                                          "fastnn[keras])")

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "golden", "keras_files")
PRED = np.load(os.path.join(FILES, "predictions.npz"))


def _inputs(name):
    return [PRED[f"{name}/a"], PRED[f"{name}/b"]] if f"{name}/a" in PRED else \
        PRED[f"{name}/x"]


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


# ---------------------------------------------------------------- files Keras 3 wrote
@pytest.mark.parametrize("name", ["mlp_dropout", "bn", "normalization", "functional"])
def test_keras_written_model_predicts_as_keras(name):
    model = models.load_model(os.path.join(FILES, f"{name}.keras"))
    _close(model.predict(_inputs(name), verbose=0), PRED[f"{name}/y"])


def test_keras_written_model_keeps_architecture_and_compile_settings():
    model = models.load_model(os.path.join(FILES, "mlp_dropout.keras"))
    dense, dropout, hidden, out = model.layers
    assert dense.kernel_regularizer.l2 == pytest.approx(1e-3)
    assert dense.kernel_constraint.max_value == 3.0
    assert dropout.rate == pytest.approx(0.3) and hidden.use_bias is False
    assert out.activation.name == "softmax"
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["optimizer"]["config"]["learning_rate"] == pytest.approx(0.01)
    assert config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert config["metrics"] == ["accuracy"]
    # Adam's moments were read: 3 epochs of 4 batches
    state = model.optimizer.get_state()
    assert state["iterations"] == 12
    assert [sorted(s) for s in state["slots"]] == [["m", "v"]] * 5
    assert np.abs(state["slots"][0]["v"]).max() > 0
    bn = models.load_model(os.path.join(FILES, "bn.keras")).layers[1]
    assert np.abs(bn.moving_mean).max() > 0.1      # trained moving statistics


def test_keras_optimizer_state_resumes_training_as_keras():
    model = models.load_model(os.path.join(FILES, "resume.keras"))
    assert model.optimizer.iterations == 3
    model.train_on_batch(PRED["resume/x"], PRED["resume/y"])
    _close(model.layers[0].get_weights()[0], PRED["resume/kernel0"])
    _close(model.layers[1].get_weights()[0], PRED["resume/kernel1"])


def test_keras_weights_file_loads_into_the_same_architecture():
    model = models.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="relu"),
                               layers.Dense(2)])
    model.load_weights(os.path.join(FILES, "mlp.weights.h5"))
    _close(model.predict(PRED["mlp/x"], verbose=0), PRED["mlp/y"])
    wrong = models.Sequential([layers.Input(shape=(3,)), layers.Dense(5), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"mlp\.weights\.h5.*shape \(3, 5\)"):
        wrong.load_weights(os.path.join(FILES, "mlp.weights.h5"))


class ScaledMSE(losses.Loss):
    """A user's own loss, named as in the file (Keras' ScaledMSE)."""

    def __init__(self, scale=2.0, name="scaled_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * ((y_true - y_pred) ** 2).mean(axis=-1)

    def gradient(self, y_true, y_pred):
        return self.scale * 2 * (y_pred - y_true) / y_pred.shape[-1]

    def get_config(self):
        return {"scale": self.scale, "name": self.name}


def test_custom_objects_resolve_a_users_loss():
    path = os.path.join(FILES, "custom_loss.keras")
    with pytest.raises(ValueError, match=r"custom_loss\.keras.*'fastnn_tests>ScaledMSE'.*"
                                         r"custom_objects=\{'ScaledMSE'"):
        models.load_model(path)
    assert models.load_model(path, compile=False).loss is None
    model = models.load_model(path, custom_objects={"ScaledMSE": ScaledMSE})
    assert isinstance(model.loss, ScaledMSE) and model.loss.scale == 3.0
    model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)


def test_custom_objects_in_fastnn_files(tmp_path):
    model = models.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile("sgd", ScaledMSE(1.5))
    for name in ("m.fnn", "m.keras"):
        model.save(tmp_path / name)
        with pytest.raises(ValueError, match="ScaledMSE"):
            models.load_model(tmp_path / name)
        again = models.load_model(tmp_path / name, custom_objects={"ScaledMSE": ScaledMSE})
        assert again.loss.scale == 1.5


@pytest.mark.parametrize("safe_mode", [True, False])
def test_lambda_layers_are_never_deserialized(safe_mode):
    with pytest.raises(ValueError, match=r"lambda\.keras.*Lambda layer \(serialized code\)"
                                         + (".*safe_mode=True" if safe_mode else "")):
        models.load_model(os.path.join(FILES, "lambda.keras"), safe_mode=safe_mode)


def test_unsupported_keras_layer_is_named():
    with pytest.raises(ValueError, match=r"conv\.keras.*layer 'conv1d'.*class 'Conv1D'"):
        models.load_model(os.path.join(FILES, "conv.keras"))


# ---------------------------------------------------------------- files fastnn writes
def _fastnn_models():
    fastnn.utils.set_random_seed(3)
    seq = models.Sequential([
        layers.Input(shape=(6,)), layers.Normalization(), layers.Rescaling(0.5, 0.1),
        layers.Dense(12, activation="relu", kernel_regularizer="l2"),
        layers.Dropout(0.25), layers.BatchNormalization(), layers.GaussianNoise(0.05),
        layers.Dense(8), layers.LayerNormalization(), layers.PReLU(), layers.ELU(),
        layers.Dense(3), layers.Softmax()])
    seq.layers[0].adapt(np.random.default_rng(0).normal(2, 3, (50, 6)))
    seq.compile(optimizers.Nadam(0.01), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
    a, b = fastnn.Input(shape=(4,), name="a"), fastnn.Input(shape=(2, 3), name="b")
    x = layers.Dense(6, activation="selu")(a)
    y = layers.GaussianDropout(0.1)(layers.Reshape((6,))(layers.Flatten()(b)))
    z = layers.Concatenate()([layers.Add()([x, y]), layers.LeakyReLU(0.1)(y)])
    func = fastnn.Model([a, b], layers.Dense(2)(layers.Activation("tanh")(z)))
    func.compile(optimizers.RMSprop(0.01, momentum=0.5, centered=True), "mse")
    rng = np.random.default_rng(1)
    data = {"seq": (rng.normal(2, 3, (40, 6)), rng.integers(0, 3, 40)),
            "func": ([rng.normal(size=(40, 4)), rng.normal(size=(40, 2, 3))],
                     rng.normal(size=(40, 2)))}
    seq.fit(*data["seq"], epochs=2, batch_size=8, verbose=0)
    func.fit(*data["func"], epochs=2, batch_size=8, verbose=0)
    return {"seq": seq, "func": func}, data


def test_fastnn_keras_file_round_trips_and_resumes_exactly(tmp_path):
    trained, data = _fastnn_models()
    for key, model in trained.items():
        path = tmp_path / f"{key}.keras"
        model.save(path)
        assert sorted(zipfile.ZipFile(path).namelist()) == [
            "config.json", "metadata.json", "model.weights.h5"]
        again = models.load_model(path)
        x, y = data[key]
        np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
        assert again.get_compile_config() == json.loads(json.dumps(model.get_compile_config()))
        # weights, optimizer slots and scalars, Dropout steps and seeds: the same next epoch
        fastnn.utils.set_random_seed(9)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        fastnn.utils.set_random_seed(9)
        again.fit(x, y, epochs=1, batch_size=8, verbose=0)
        for got, want in zip(again.get_weights(), model.get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_float64_model_round_trips_in_float64(tmp_path):
    with fastnn.config.floatx_scope("float64"):
        model = models.Sequential([layers.Input(shape=(3,)), layers.Dense(4),
                                   layers.BatchNormalization()])
    model.save(tmp_path / "m.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
    assert config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] == "float64"
    again = models.load_model(tmp_path / "m.keras")
    assert [w.dtype for w in again.get_weights()] == [np.float64] * 6
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_fastnn_weights_h5_file_has_keras_layout(tmp_path):
    trained, data = _fastnn_models()
    model = trained["seq"]
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert f["layers/dense/vars/0"].shape == (6, 12)
        assert f["layers/dense_1/vars/0"].shape == (12, 8)
        assert f["layers/normalization/vars/2"].dtype.kind == "i"   # Keras' count
        assert f["layers/dense"].get("vars").attrs["name"] == model.layers[2].name
        assert f["optimizer/vars"].attrs["name"] == "nadam"
    clone = models.Sequential.from_config(model.get_config())
    clone.load_weights(path)
    np.testing.assert_array_equal(clone.predict(data["seq"][0], verbose=0),
                                  model.predict(data["seq"][0], verbose=0))


def _keras_python():
    """An interpreter with Keras 3 (FASTNN_KERAS_PYTHON, the project's Keras venv, or
    this one), or None."""
    for candidate in (os.environ.get("FASTNN_KERAS_PYTHON"), "/tmp/kenv/bin/python"):
        if candidate and os.path.exists(candidate):
            return candidate
    import importlib.util
    return sys.executable if importlib.util.find_spec("keras") else None


KERAS_CHECK = """
import sys, numpy as np, keras
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)
    inputs = np.load(path + ".x.npz")
    x = [inputs[k] for k in sorted(inputs)] if len(inputs) > 1 else inputs["0"]
    got = model.predict(x, verbose=0)
    want = np.load(path + ".y.npy")
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5), (path, abs(got - want).max())
    opt = model.optimizer
    print(path, type(opt).__name__, int(np.asarray(opt.iterations)), len(opt.variables))
"""


def test_fastnn_keras_file_loads_in_keras(tmp_path):
    python = _keras_python()
    if python is None:
        pytest.skip("no Keras 3 interpreter: set FASTNN_KERAS_PYTHON to a Python with "
                    "keras>=3 and jax to run this check")
    trained, data = _fastnn_models()
    paths = []
    for key, model in trained.items():
        path = str(tmp_path / f"{key}.keras")
        model.save(path)
        x = data[key][0]
        xs = x if isinstance(x, list) else [x]
        np.savez(path + ".x.npz", **{str(i): a.astype("float32") for i, a in enumerate(xs)})
        np.save(path + ".y.npy", model.predict(x, verbose=0))
        paths.append(path)
    out = subprocess.run([python, "-c", KERAS_CHECK, *paths], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, KERAS_BACKEND="jax"))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.split()
    # Keras restored the optimizers after 2 epochs of 5 batches: iterations, learning
    # rate, then Nadam's 2 slots for each of 11 parameters and its u_product; RMSprop's
    # 3 slots (velocity, momentum, average gradient) for each of 4
    assert sum(len(layer.trainable_weights) for layer in trained["seq"].layers) == 11
    assert lines[1:4] == ["Nadam", "10", str(2 + 2 * 11 + 1)]
    assert lines[5:8] == ["RMSprop", "10", str(2 + 3 * 4)]
    assert "Skipping variable loading" not in out.stderr


def test_checkpoints_write_keras_files_by_suffix(tmp_path):
    trained, data = _fastnn_models()
    model = trained["seq"]
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch}.keras"))
    wts = callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"),
                                    save_weights_only=True)
    model.fit(*data["seq"], epochs=1, verbose=0, callbacks=[ckpt, wts])
    assert zipfile.ZipFile(tmp_path / "ck-1.keras").read("config.json").startswith(b"{")
    assert h5py.is_hdf5(tmp_path / "w-1.weights.h5")
    np.testing.assert_array_equal(
        models.load_model(tmp_path / "ck-1.keras").predict(data["seq"][0], verbose=0),
        model.predict(data["seq"][0], verbose=0))


def test_fastnn_format_under_keras_name_still_loads(tmp_path):
    trained, data = _fastnn_models()
    trained["seq"].save(tmp_path / "old.fnn")
    shutil.copy(tmp_path / "old.fnn", tmp_path / "old.keras")
    model = models.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(model.predict(data["seq"][0], verbose=0),
                                  trained["seq"].predict(data["seq"][0], verbose=0))


def test_h5py_is_imported_only_for_keras_files():
    out = run_python("import sys, fastnn, fastnn.models, fastnn.saving\n"
                     "print('h5py' in sys.modules)", check=True)
    assert out.stdout.strip() == "False"


def test_missing_h5py_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"fastnn\[keras\]"):
        models.load_model(os.path.join(FILES, "bn.keras"))


# ---------------------------------------------------------------- hostile files
def _good(tmp_path):
    model = models.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    model.compile("adam", "mse")
    path = tmp_path / "good.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _h5(build):
    """A weights file: Dense(2) of a (3,) input whose `build(file)` changes it."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=np.ones((3, 2), "float32"))
        group.create_dataset("1", data=np.zeros(2, "float32"))
        f.create_group("vars")
        build(f)
    return buf.getvalue()


def _config(members, edit):
    config = json.loads(members["config.json"])
    edit(config["config"]["layers"])
    return dict(members, **{"config.json": json.dumps(config)})


HOSTILE_H5 = {
    "external link": (lambda f: f.__setitem__("layers/x", h5py.ExternalLink(
        "/etc/passwd", "/")), "ExternalLink"),
    "soft link": (lambda f: f.__setitem__("layers/y", h5py.SoftLink("/vars")), "SoftLink"),
    "object reference": (lambda f: f["layers/dense/vars"].create_dataset(
        "2", data=np.array([f["vars"].ref], dtype=h5py.ref_dtype)), "reference"),
    "region reference": (lambda f: f["layers/dense/vars"].create_dataset(
        "2", (1,), dtype=h5py.regionref_dtype), "reference"),
    "reference attribute": (lambda f: f["vars"].attrs.create(
        "r", f["vars"].ref, dtype=h5py.ref_dtype), "references"),
    "external storage": (lambda f: f["vars"].create_dataset(
        "e", (4,), "float32", external=[("/etc/hostname", 0, 16)]), "external files"),
    "string dataset": (lambda f: f["vars"].create_dataset("s", data="text"), "dtype"),
}


@pytest.mark.parametrize("fault", sorted(HOSTILE_H5))
def test_hostile_hdf5_is_refused(tmp_path, fault):
    build, message = HOSTILE_H5[fault]
    path = _write(tmp_path / "bad.keras", dict(_good(tmp_path),
                                               **{"model.weights.h5": _h5(build)}))
    with pytest.raises(ValueError, match=rf"bad\.keras.*{message}"):
        models.load_model(path)


def _replace_kernel(dataset_args):
    def build(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", **dataset_args)
    return build


@pytest.mark.parametrize("args, message", [
    # declares 4 TB; only a fill value is stored, and nothing is read
    ({"shape": (10 ** 6, 10 ** 6), "dtype": "float32", "chunks": (1, 16)},
     r"shape \(3, 2\); got \(1000000, 1000000\)"),
    ({"data": np.ones((3, 2), "int32")}, "floating-point values; got dtype int32"),
])
def test_absurd_or_non_float_datasets_are_refused_before_reading(tmp_path, args, message):
    path = _write(tmp_path / "bad.keras", dict(
        _good(tmp_path), **{"model.weights.h5": _h5(_replace_kernel(args))}))
    with pytest.raises(ValueError, match=rf"bad\.keras.*{message}"):
        models.load_model(path)


def test_bad_zips_are_refused(tmp_path):
    good = _good(tmp_path)
    (tmp_path / "noise.keras").write_bytes(os.urandom(300))
    data = (tmp_path / "good.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[:len(data) // 2])
    cases = {"noise.keras": "not a readable zip",
             "cut.keras": "not a readable zip|corrupted",
             "extra.keras": "member 'assets/x.txt'",
             "nocfg.keras": "'config.json' is missing",
             "notjson.keras": "'config.json' is not valid JSON",
             "nan.keras": "'config.json' is not valid JSON"}
    _write(tmp_path / "extra.keras", dict(good, **{"assets/x.txt": b"x"}))
    _write(tmp_path / "nocfg.keras", {k: v for k, v in good.items() if k != "config.json"})
    _write(tmp_path / "notjson.keras", dict(good, **{"config.json": b"{"}))
    _write(tmp_path / "nan.keras", dict(good, **{"config.json": b'{"a": NaN}'}))
    for name, message in cases.items():
        with pytest.raises(ValueError, match=rf"{name}.*({message})"):
            models.load_model(tmp_path / name)


def test_zip_bomb_is_refused_before_decompression(tmp_path):
    path = _write(tmp_path / "bomb.keras", _good(tmp_path))
    data = bytearray(path.read_bytes())
    # declare a 1 TiB config.json in the central directory (what zipfile trusts)
    at = data.rfind(b"PK\x01\x02")
    while data[at + 46:at + 46 + 11] != b"config.json":
        at = data.rfind(b"PK\x01\x02", 0, at)
    data[at + 24:at + 28] = (2 ** 32 - 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"bomb\.keras.*'config\.json' declares \d+ bytes"):
        models.load_model(path)


@pytest.mark.parametrize("edit, message", [
    (lambda ls: ls[0]["config"].update(batch_shape=[None, 10 ** 12]), "batch_shape"),
    (lambda ls: ls[1]["config"].update(units=10 ** 11), "units"),
    (lambda ls: ls[1]["config"].update(renorm=True), "renorm=True"),
    (lambda ls: ls[1]["config"].update(activation={
        "class_name": "__lambda__", "config": {"value": "AAAA"}}), "lambda"),
    (lambda ls: ls[1]["config"].update(kernel_initializer={
        "module": "fastnn_never_imported", "class_name": "Evil", "config": {},
        "registered_name": "evil>Evil"}), "initializer of class 'evil>Evil'"),
    (lambda ls: ls[1]["config"]["dtype"]["config"].update(name="mixed_float16"),
     "'float32' or 'float64'"),
])
def test_hostile_configs_are_refused_without_imports(tmp_path, edit, message):
    path = _write(tmp_path / "bad.keras", _config(_good(tmp_path), edit))
    with pytest.raises(ValueError, match=rf"bad\.keras.*{message}"):
        models.load_model(path)
    assert "fastnn_never_imported" not in sys.modules


def test_functional_graph_faults_are_refused(tmp_path):
    trained, _ = _fastnn_models()
    trained["func"].save(tmp_path / "f.keras")
    with zipfile.ZipFile(tmp_path / "f.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    def cycle(ls):
        first = next(l for l in ls if l.get("inbound_nodes"))
        first["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = ls[-1]["name"]

    def shared(ls):
        node = next(l for l in ls if l.get("inbound_nodes"))
        node["inbound_nodes"].append(node["inbound_nodes"][0])

    for edit, message in ((cycle, "cycle"), (shared, "called exactly once")):
        path = _write(tmp_path / "g.keras", _config(members, edit))
        with pytest.raises(ValueError, match=rf"g\.keras.*{message}"):
            models.load_model(path)
