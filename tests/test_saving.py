"""The model file: round trips, exact resumption, atomic writes, hostile files, pickling."""
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import saving
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential, load_model


def make_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    return x, (x @ rng.normal(size=(8, 3))).argmax(axis=1)


def make_model(optimizer="nadam", seed=0):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(16, activation="relu", input_shape=(8,)), Dropout(0.25),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", fastnn.metrics.SparseTopKCategoricalAccuracy(k=2)])
    return model


@pytest.fixture
def trained(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "m.fnn"
    model.save(path)
    return model, path


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and np.array_equal(u, v)


# ---------------------------------------------------------------------------- round trips
def test_round_trip_keeps_everything(trained):
    model, path = trained
    loaded = load_model(path)
    assert_same_weights(model, loaded)
    assert loaded.get_config() == model.get_config()
    assert type(loaded.optimizer) is fastnn.optimizers.Nadam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    assert loaded.optimizer._u_product == model.optimizer._u_product
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        assert np.array_equal(a, b)
    assert loaded.layers[1].step == model.layers[1].step == 12
    assert loaded.layers[1].seed == model.layers[1].seed
    x, y = make_data(n=20, seed=1)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert [m.name for m in loaded.compiled_metrics] == ["accuracy",
                                                         "sparse_top_k_categorical_accuracy"]


def test_float64_and_unbuilt_and_uncompiled_models(tmp_path):
    fastnn.config.set_floatx("float64")
    try:
        model = Sequential([Dense(4, input_dim=3)])
    finally:
        fastnn.config.set_floatx("float32")
    model.save(tmp_path / "a.fnn")
    loaded = load_model(tmp_path / "a.fnn")
    assert loaded.get_weights()[0].dtype == np.float64 and loaded.optimizer is None
    assert_same_weights(model, loaded)
    unbuilt = Sequential([Dense(4), Dense(2)])
    unbuilt.save(tmp_path / "b.fnn")
    assert not load_model(tmp_path / "b.fnn").built


def test_load_model_without_compile(trained):
    _, path = trained
    assert load_model(path, compile=False).optimizer is None


def test_weights_only_files(trained, tmp_path):
    model, _ = trained
    model.save_weights(tmp_path / "w.fnn")
    other = make_model(seed=9)
    other.load_weights(tmp_path / "w.fnn")
    assert_same_weights(model, other)
    with pytest.raises(ValueError, match="only weights"):
        load_model(tmp_path / "w.fnn")
    small = Sequential([Dense(4, input_shape=(8,)), Dense(3)])
    with pytest.raises(ValueError, match="w.fnn"):
        small.load_weights(tmp_path / "w.fnn")


def test_pickle_goes_through_the_format(trained):
    model, _ = trained
    data = pickle.dumps(model)
    assert b"fastnn.json" in data and b"model.json" in data
    clone = pickle.loads(data)
    assert_same_weights(model, clone)
    assert clone.optimizer.iterations == model.optimizer.iterations


def _predict_in_worker(model, x):
    return model.predict(x, verbose=0)


def test_model_travels_to_a_worker_process(trained):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    model, _ = trained
    x, _ = make_data(n=10, seed=3)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = pool.submit(_predict_in_worker, model, x).result(timeout=60)
    np.testing.assert_array_equal(remote, model.predict(x, verbose=0))


# ---------------------------------------------------------------------------- resumption
@pytest.mark.parametrize("optimizer", ["nadam", "adam"])
def test_resume_after_load_equals_an_uninterrupted_run(tmp_path, optimizer):
    x, y = make_data()
    straight = make_model(optimizer)
    fastnn.utils.set_random_seed(123)
    full = straight.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)

    first = make_model(optimizer)
    fastnn.utils.set_random_seed(123)
    part = first.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    first.save(tmp_path / "half.fnn")
    resumed = load_model(tmp_path / "half.fnn")
    fastnn.utils.set_random_seed(123)
    rest = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, validation_split=0.25,
                       verbose=0)
    assert part.history["loss"] + rest.history["loss"] == full.history["loss"]
    assert part.history["val_loss"] + rest.history["val_loss"] == full.history["val_loss"]
    assert_same_weights(straight, resumed)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 20


def test_resume_without_the_optimizer_state_differs(tmp_path):
    """The saved optimizer state matters: dropping it changes the continuation."""
    x, y = make_data()
    model = make_model("adam")
    fastnn.utils.set_random_seed(1)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.fnn")
    with_state = load_model(tmp_path / "m.fnn")
    without = load_model(tmp_path / "m.fnn", compile=False)
    without.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    for m in (with_state, without):
        fastnn.utils.set_random_seed(2)
        m.fit(x, y, epochs=2, initial_epoch=1, batch_size=16, verbose=0)
    assert not np.array_equal(with_state.get_weights()[0], without.get_weights()[0])


# ---------------------------------------------------------------------------- atomic writes
def test_failed_save_leaves_the_previous_file(trained, monkeypatch):
    model, path = trained
    before = path.read_bytes()
    model.fit(*make_data(), epochs=1, verbose=0)
    written = []
    original = saving.archive._write_member

    def failing(zf, name, data):
        written.append(name)
        if len(written) == 3:
            raise OSError("disk full")
        original(zf, name, data)

    monkeypatch.setattr(saving.archive, "_write_member", failing)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == ["m.fnn"]  # the temporary file is gone too
    monkeypatch.undo()
    load_model(path)


def test_killed_save_leaves_the_previous_file(trained):
    model, path = trained
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import sys, time
        import fastnn
        from fastnn import saving
        from fastnn.models import load_model
        model = load_model({str(path)!r})
        original = saving.archive._write_member
        def slow(zf, name, data):
            original(zf, name, data)
            if name == "model.json":
                print("writing", flush=True)
                time.sleep(60)
        saving.archive._write_member = slow
        model.save({str(path)!r})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # run outside the source tree: `python -c` puts the working directory on sys.path
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env,
                            cwd=path.parent)
    try:
        assert proc.stdout.readline().strip() == b"writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert path.read_bytes() == before
    assert_same_weights(model, load_model(path))


# ---------------------------------------------------------------------------- hostile files
def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info.filename) for info in zf.infolist()}


def _rewrite(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _edit_json(members, name, edit):
    doc = json.loads(members[name])
    edit(doc)
    members[name] = json.dumps(doc).encode()


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


class Exploit:
    triggered = False

    def __reduce__(self):
        return (setattr, (Exploit, "triggered", True))


def _huge_header(members):
    # a .npy header declaring a 10^12 x 10^6 array, followed by a few bytes
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 10 ** 6)})
    members["weights/0000.npy"] = header.getvalue() + b"\0" * 64


def _hostile_cases():
    def version(m):
        _edit_json(m, "fastnn.json", lambda d: d.update(format_version=99))

    def shape(m):
        m["weights/0000.npy"] = _npy(np.zeros((3, 16), np.float32))

    def declared_shape(m):
        _edit_json(m, "model.json", lambda d: d["weights"][0].update(shape=[9, 16]))

    def dtype(m):
        m["weights/0000.npy"] = _npy(np.zeros((8, 16), np.int64))

    def pickled(m):
        m["weights/0000.npy"] = _npy(np.array([Exploit()] * 128, dtype=object).reshape(8, 16))

    def traversal(m):
        m["../../evil.npy"] = m.pop("weights/0001.npy")

    def extra(m):
        m["code.py"] = b"import os"

    def missing(m):
        del m["weights/0002.npy"]

    def unknown_layer(m):
        _edit_json(m, "model.json",
                   lambda d: d["model"]["config"]["layers"][0].update(class_name="Lambda"))

    def bad_config(m):
        _edit_json(m, "model.json",
                   lambda d: d["model"]["config"]["layers"][0]["config"].update(units=-4))

    def bad_json(m):
        m["model.json"] = b'{"model": NaN'

    def optimizer_slots(m):
        _edit_json(m, "model.json",
                   lambda d: d["optimizer_state"].update(slots=[["m"]] * 4))

    def bad_step(m):
        _edit_json(m, "model.json",
                   lambda d: d["layer_state"].update({"dense": {"step": 3}}))

    def unknown_optimizer(m):
        _edit_json(m, "model.json",
                   lambda d: d["compile"]["optimizer"].update(class_name="Evil"))

    return {"version": (version, "format_version"), "shape": (shape, "shape"),
            "declared_shape": (declared_shape, "weight 0"), "dtype": (dtype, "float32"),
            "pickled": (pickled, "float32"), "traversal": (traversal, "evil"),
            "extra": (extra, "code.py"), "missing": (missing, "missing"),
            "unknown_layer": (unknown_layer, "Lambda"), "bad_config": (bad_config, "units"),
            "bad_json": (bad_json, "JSON"), "optimizer_slots": (optimizer_slots, "slots"),
            "bad_step": (bad_step, "Dropout"), "huge_header": (_huge_header, "shape"),
            "unknown_optimizer": (unknown_optimizer, "config")}


@pytest.mark.parametrize("case", sorted(_hostile_cases()))
def test_hostile_file_raises_one_value_error(trained, case):
    _, path = trained
    edit, fault = _hostile_cases()[case]
    members = _members(path)
    edit(members)
    _rewrite(path, members)
    with pytest.raises(ValueError, match="m.fnn") as info:
        load_model(path)
    assert fault in str(info.value)
    assert not Exploit.triggered


def test_truncated_and_corrupted_files(trained):
    _, path = trained
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="zip"):
        load_model(path)
    corrupted = bytearray(data)
    start = data.index(b"\x93NUMPY")  # inside the first stored array
    corrupted[start + 200:start + 210] = b"\xff" * 10
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match="corrupted"):
        load_model(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="m.fnn"):
        load_model(path)


def test_zip_bomb_is_refused_before_decompression(trained):
    _, path = trained
    members = _members(path)
    members["model.json"] = b" " * (64 * 2 ** 20)  # 64 MiB that deflate to ~64 KiB
    _rewrite(path, members, compress=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2 ** 20
    with pytest.raises(ValueError, match="declares 67108864 bytes"):
        load_model(path)
