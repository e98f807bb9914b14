"""Dask: `predict` mapped over the blocks of a Dask array or DataFrame (lazily, on the
active scheduler), and `fit` / `evaluate` streaming a chunked array (Dask, HDF5) a block
of rows at a time, with the results of the same data in memory, bit for bit.

The tests named test_cluster_* start real Dask engines (a LocalCluster of 2 worker
processes) and take most of this file's time (about 20 s on 2 cores); deselect them with
``-k "not cluster"``.
"""
import logging
import os
import signal
import sys
import textwrap
import time

import numpy
import pytest

da = pytest.importorskip("dask.array", reason="the Dask tests need dask[array] "
                         "(pip install fastnn[dask])")
import dask  # noqa: E402

from fastnn import layers, models  # noqa: E402
from fastnn.distributed import dask_data, dask_predict  # noqa: E402
from session_python import run_python  # noqa: E402
import small_models  # noqa: E402

RNG = numpy.random.default_rng(0)
X = RNG.normal(size=(1000, 20)).astype(numpy.float32)
Y = RNG.integers(0, 3, 1000)
W = RNG.uniform(0.5, 2.0, 1000).astype(numpy.float32)
IRREGULAR = ((150, 250, 1, 99, 300, 200), (8, 12))    # rows and feature chunks of X


def make(n_features=20, seed=3, dtype="float32"):
    return small_models.classifier(n_features, seed, dtype)


def twins():
    return small_models.twins(make)


def same_weights(a, b):
    return all(numpy.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def t1_model():
    """The benchmarks' T1 network, 784 -> 128 relu -> 10 softmax."""
    return models.Sequential([layers.Input((784,)), layers.Dense(128, activation="relu"),
                              layers.Dense(10, activation="softmax")])


# ------------------------------------------------------------------ predict
def test_predict_of_a_dask_array_is_lazy_and_equals_numpy_predict():
    model = make()
    x = da.from_array(X, chunks=IRREGULAR)
    out = model.predict(x)
    assert isinstance(out, da.Array)
    assert out.shape == (1000, 3) and out.dtype == numpy.float32
    assert out.chunks == (IRREGULAR[0], (3,))          # rows as x's, features joined
    numpy.testing.assert_array_equal(out.compute(), model.predict(X, verbose=0))
    numpy.testing.assert_array_equal(model.predict(x, batch_size=7).compute(),
                                     model.predict(X, verbose=0))


def test_predict_in_float64_and_from_other_dtypes():
    model = make(dtype="float64")
    out = model.predict(da.from_array(X, chunks=300))
    assert out.dtype == numpy.float64
    numpy.testing.assert_array_equal(out.compute(), model.predict(X, verbose=0))
    ints = (X * 10).astype(numpy.int32)
    numpy.testing.assert_array_equal(model.predict(da.from_array(ints, 256)).compute(),
                                     model.predict(ints, verbose=0))


def test_predict_with_a_functional_model():
    inputs = layers.Input((20,))
    model = models.Model(inputs, layers.Dense(2)(layers.Dense(8, activation="relu")(inputs)))
    numpy.testing.assert_array_equal(model.predict(da.from_array(X, chunks=99)).compute(),
                                     model.predict(X, verbose=0))


def test_predict_uses_the_weights_of_the_call():
    model = make()
    expected = model.predict(X, verbose=0)
    out = model.predict(da.from_array(X, chunks=200))
    model.set_weights([w + 1 for w in model.get_weights()])
    numpy.testing.assert_array_equal(out.compute(), expected)


def test_the_model_is_one_key_of_the_graph_and_parsed_once_per_process():
    model = make()
    out = model.predict(da.from_array(X, chunks=100))
    keys = [k for k in dict(out.__dask_graph__())
            if str(k[0] if isinstance(k, tuple) else k).startswith("fastnn-model-")]
    assert len(keys) == 1
    token = dask_predict.ModelBytes(model).token
    dask_predict._MODELS.pop(token, None)
    out.compute(scheduler="threads")
    assert token in dask_predict._MODELS
    cached = dask_predict._MODELS[token]
    model.predict(da.from_array(X, chunks=100)).compute()
    assert dask_predict._MODELS[token] is cached          # not parsed again


def test_blocks_in_dask_s_thread_pool_share_the_threads():
    import dask.system
    from fastnn import get_num_threads
    in_pool = dask.delayed(dask_predict.task_threads)()
    assert in_pool.compute(scheduler="threads") == \
        max(1, get_num_threads() // dask.system.CPU_COUNT)
    with dask.config.set(num_workers=1):
        assert in_pool.compute(scheduler="threads") == get_num_threads()
    assert in_pool.compute(scheduler="synchronous") is None     # the caller's own


def test_predict_of_a_dask_dataframe():
    dd = pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")
    pandas = pytest.importorskip("pandas", reason="Dask DataFrames need pandas")
    model = make()
    frame = dd.from_pandas(pandas.DataFrame(X), npartitions=4)
    out = model.predict(frame)
    assert isinstance(out, da.Array) and out.shape[1] == 3
    numpy.testing.assert_array_equal(out.compute(), model.predict(X, verbose=0))


def test_predict_builds_a_model_from_the_dask_shape_and_expands_one_feature():
    model = models.Sequential([layers.Dense(4), layers.Dense(2)])
    out = model.predict(da.from_array(X, chunks=250)).compute()
    numpy.testing.assert_array_equal(out, model.predict(X, verbose=0))
    one = models.Sequential([layers.Input((1,)), layers.Dense(2)])
    column = X[:, 0]
    numpy.testing.assert_array_equal(one.predict(da.from_array(column, 300)).compute(),
                                     one.predict(column[:, None], verbose=0))


@pytest.mark.parametrize("bad, error, match", [
    (lambda: da.from_array(X[:, 0], 100), ValueError,
     r"`x` must have 20 features \(from input_shape=\(20,\)\); got a Dask array of "
     r"shape \(1000,\)"),
    (lambda: da.from_array(X[:, :5], 100), ValueError, "must have 20 features"),
    (lambda: da.from_array(X.astype(numpy.complex64), 100), TypeError, "real numbers"),
    (lambda: dask.delayed(X), TypeError, "must be a Dask array, DataFrame or Series"),
])
def test_predict_refuses_bad_dask_input(bad, error, match):
    with pytest.raises(error, match=match):
        make().predict(bad())


@pytest.mark.parametrize("kwargs, match", [
    ({"callbacks": [object()]}, "`callbacks` cannot be given"),
    ({"steps": 2}, "`steps` cannot be given"),
    ({"batch_size": 0}, "`batch_size` must be a positive"),
])
def test_predict_refuses_eager_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make().predict(da.from_array(X, 100), **kwargs)


def test_a_block_of_invalid_rows_raises_on_compute():
    bad = X.copy()
    bad[700, 3] = numpy.nan
    out = make().predict(da.from_array(bad, chunks=250))
    with pytest.raises(ValueError, match="finite"):
        out.compute()


# ------------------------------------------------------------------ fit
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("window_bytes", [dask_data.WINDOW_BYTES, 20 * 4 * 100])
def test_fit_from_a_dask_array_equals_fit_from_numpy(shuffle, window_bytes, monkeypatch):
    # a small window: shuffled epochs are read as several windows of batches
    monkeypatch.setattr(dask_data, "WINDOW_BYTES", window_bytes)
    a, b = twins()
    ha = a.fit(X, Y, batch_size=64, epochs=2, shuffle=shuffle, verbose=0,
               validation_split=0.1, sample_weight=W)
    hb = b.fit(da.from_array(X, chunks=IRREGULAR), Y, batch_size=64, epochs=2,
               shuffle=shuffle, verbose=0, validation_split=0.1, sample_weight=W)
    assert same_weights(a, b)
    assert ha.history == hb.history


def test_fit_with_dask_targets_and_dask_validation_data():
    a, b = twins()
    ha = a.fit(X[:800], Y[:800], batch_size=50, epochs=2, verbose=0,
               validation_data=(X[800:], Y[800:]))
    xd, yd = da.from_array(X, chunks=333), da.from_array(Y, chunks=333)
    hb = b.fit(xd[:800], yd[:800], batch_size=50, epochs=2, verbose=0,
               validation_data=(xd[800:], yd[800:]))
    assert same_weights(a, b)
    assert ha.history == hb.history
    assert b.evaluate(xd, Y, verbose=0) == b.evaluate(X, Y, verbose=0)


def test_fit_from_a_chunked_hdf5_dataset(tmp_path):
    h5py = pytest.importorskip("h5py", reason="an HDF5 dataset needs h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=X, chunks=(128, 20))
    a, b = twins()
    with h5py.File(tmp_path / "x.h5", "r") as f:
        hb = b.fit(f["x"], Y, batch_size=32, epochs=2, verbose=0)
        numpy.testing.assert_array_equal(b.predict(f["x"], verbose=0),
                                         b.predict(X, verbose=0))
    ha = a.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    assert same_weights(a, b)
    assert ha.history == hb.history


class Chunked:
    """The least a chunked array has (as a Zarr or HDF5 array): shape, dtype, chunks and
    slicing; it records the rows of each read."""

    def __init__(self, data, rows_per_chunk):
        self.data, self.rows_per_chunk, self.reads = data, rows_per_chunk, []

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    chunks = property(lambda self: (self.rows_per_chunk,) + self.data.shape[1:])

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        self.reads.append((key.start or 0, key.stop))
        return self.data[key]


def test_in_order_batches_read_each_chunk_once():
    a, b = twins()
    x = Chunked(X, 128)
    hb = b.fit(x, Y, batch_size=50, shuffle=False, verbose=0)
    ha = a.fit(X, Y, batch_size=50, shuffle=False, verbose=0)
    assert same_weights(a, b) and ha.history == hb.history
    chunks = [(s, min(s + 128, 1000)) for s in range(0, 1000, 128)]
    assert x.reads == [(0, 1)] + chunks          # the first row: the sample shape


def test_shuffled_batches_read_a_window_of_batches_at_a_time(monkeypatch):
    monkeypatch.setattr(dask_data, "WINDOW_BYTES", 300 * 20 * 4)     # 300 rows
    a, b = twins()
    x = Chunked(X, 128)
    hb = b.fit(x, Y, batch_size=50, verbose=0)
    ha = a.fit(X, Y, batch_size=50, verbose=0)
    assert same_weights(a, b) and ha.history == hb.history
    reads = x.reads[1:]
    windows, blocks = 4, 8                # 20 batches, 6 (300 rows) a window; 8 chunks
    assert windows < len(reads) <= windows * blocks
    assert max(stop - start for start, stop in reads) <= 128


def test_block_bounds_follow_the_chunks_and_cap_a_block():
    x = da.zeros((1000, 4), chunks=((600, 400), 4))
    assert dask_data.block_bounds(x, 250).tolist() == [0, 250, 500, 600, 850, 1000]
    assert dask_data.block_bounds(x, 10_000).tolist() == [0, 600, 1000]


def test_a_dask_array_of_unknown_length_is_refused_with_dask_s_advice():
    x = da.from_array(X, chunks=100)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        make().fit(x[x[:, 0] > 0], Y, verbose=0)


DASK_FIT_SCRIPT = small_models.STREAMED_FIT_CHILD + textwrap.dedent("""
    import dask, dask.array as da
    dask.config.set(scheduler="synchronous")
    rows, cols = 100_000, 784
    x = da.random.default_rng(0).random((rows, cols), chunks=(5_000, cols),
                                        dtype=numpy.float32)
    print(fit_growth_kib(x, numpy.arange(rows) % 10, shuffle=False), x.nbytes)
""")


def test_fit_streams_a_dask_array_larger_than_the_memory_it_uses():
    if not sys.platform.startswith("linux"):
        pytest.skip("reads VmHWM from /proc")
    done = run_python(DASK_FIT_SCRIPT, check=True)
    growth_kib, nbytes = map(int, done.stdout.split())
    growth_mib = growth_kib / 1024
    assert nbytes / 2**20 > 290
    assert growth_mib < nbytes / 2**20 / 3, (growth_mib, nbytes / 2**20)


# ------------------------------------------------------------------ LocalCluster
@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="the LocalCluster tests need "
                                      "distributed (pip install fastnn[dask])")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       memory_limit="200MB", dashboard_address=":0",
                                       silence_logs=logging.ERROR)
    # connected by address, as to a remote scheduler
    client = distributed.Client(cluster.scheduler_address)
    yield cluster, client
    client.close()
    cluster.close()


def test_cluster_predicts_an_array_larger_than_a_worker_s_memory_limit(cluster):
    _, client = cluster
    limits = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
    assert len(limits) == 2
    model = t1_model()
    rows = 96_000                       # 301 MB of float32, made on the workers
    x = da.random.default_rng(11).random((rows, 784), chunks=(4_000, 784),
                                         dtype=numpy.float32)
    assert x.nbytes > 1.5 * max(limits.values())
    out = model.predict(x).compute()
    assert out.shape == (rows, 10)
    for i, start in enumerate(range(0, rows, 4_000)):
        block = x.blocks[i].compute(scheduler="synchronous")
        numpy.testing.assert_array_equal(out[start:start + 4_000],
                                         model.predict(block, verbose=0))
    token = dask_predict.ModelBytes(model).token
    # each worker process parsed the model once, from the one key it fetched
    cached = client.run(lambda: list(__import__(
        "fastnn.distributed.dask_predict", fromlist=["_MODELS"])._MODELS))
    assert all(token in tokens for tokens in cached.values())


def test_cluster_trains_from_a_dask_array_as_from_numpy(cluster):
    a, b = twins()
    ha = a.fit(X, Y, batch_size=64, epochs=2, verbose=0)
    hb = b.fit(da.from_array(X, chunks=IRREGULAR), Y, batch_size=64, epochs=2, verbose=0)
    assert same_weights(a, b)
    assert ha.history == hb.history


def test_cluster_losing_a_worker_mid_predict_still_gives_every_row_in_order():
    distributed = pytest.importorskip("distributed", reason="needs distributed")
    model = make(n_features=32)
    x = da.random.default_rng(5).random((100_000, 32), chunks=(2_500, 32))
    # 50 ms a block, so that the predict is still running when a worker dies
    slow = x.map_blocks(lambda b: (time.sleep(0.05), b)[1], dtype=x.dtype)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL) \
            as local, distributed.Client(local) as client:
        out = model.predict(slow).persist()
        futures = distributed.futures_of(out)
        pids = client.run(os.getpid)
        deadline = time.monotonic() + 60
        while sum(f.done() for f in futures) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        holders = {}
        for worker in sum(client.who_has(futures).values(), ()):
            holders[worker] = holders.get(worker, 0) + 1
        assert holders and sum(f.done() for f in futures) < len(futures)
        victim = max(holders, key=holders.get)      # results on it are lost too
        os.kill(pids[victim], signal.SIGKILL)
        result = out.compute()
        assert victim not in client.scheduler_info()["workers"]
    expected = model.predict(x.compute(scheduler="synchronous"), verbose=0)
    numpy.testing.assert_array_equal(result, expected)
