"""fit / evaluate / predict on data that is not one in-memory array: generators,
PyDataset-like objects, pandas objects and numpy.memmap files (Keras 3 semantics)."""
import sys
import textwrap
import warnings

import numpy
import pytest

from fastnn.callbacks import Callback
import small_models
from session_python import run_python

RNG = numpy.random.default_rng(0)
X = RNG.normal(size=(200, 8)).astype(numpy.float32)
Y = RNG.integers(0, 3, 200)
W = RNG.uniform(0.5, 2.0, 200).astype(numpy.float32)


def make(seed=1):
    return small_models.classifier(8, seed)


def twins():
    return small_models.twins(make)


def batches(batch=32, weights=False):
    for i in range(0, len(X), batch):
        yield (X[i:i + batch], Y[i:i + batch]) + ((W[i:i + batch],) if weights else ())


class Dataset:
    """A keras.utils.PyDataset-shaped object."""

    def __init__(self, batch=32):
        self.batch, self.epochs_ended = batch, 0

    def __len__(self):
        return -(-len(X) // self.batch)

    def __getitem__(self, i):
        if i >= len(self):
            raise IndexError(i)
        s = slice(i * self.batch, (i + 1) * self.batch)
        return X[s], Y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def close(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        numpy.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ generators
@pytest.mark.parametrize("weights", [False, True])
def test_a_generator_trains_as_the_same_unshuffled_arrays(weights):
    a, b = twins()
    ha = a.fit(X, Y, batch_size=32, shuffle=False, verbose=0,
               sample_weight=W if weights else None)
    hb = b.fit(batches(weights=weights), verbose=0)
    close(a, b)
    assert ha.history.keys() == hb.history.keys()
    numpy.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)


def test_generator_steps_per_epoch_and_running_out():
    model = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(batches(), epochs=5, steps_per_epoch=3, verbose=0)
    # 7 batches: two whole epochs of 3, a third of 1, then Keras' "ran out of data"
    assert len(history.history["loss"]) == 3
    assert any("ran out of data" in str(w.message) for w in caught)


def test_a_generator_without_steps_is_one_epoch_until_exhausted():
    seen = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = make().fit(batches(), epochs=2, verbose=0, callbacks=[Count()])
    assert seen == list(range(7)) and len(history.history["loss"]) == 1


def test_a_reiterable_gives_every_epoch_in_full():
    class Batches:
        def __iter__(self):
            return batches()
    assert len(make().fit(Batches(), epochs=3, verbose=0).history["loss"]) == 3


def test_pydataset_fit_validation_evaluate_predict():
    a, b = twins()
    a.fit(X, Y, batch_size=32, shuffle=False, epochs=2, verbose=0,
          validation_data=(X, Y))
    ds = Dataset()
    history = b.fit(ds, epochs=2, verbose=0, validation_data=Dataset(50), validation_steps=4)
    close(a, b)
    assert ds.epochs_ended == 2
    assert len(history.history["val_loss"]) == 2
    numpy.testing.assert_allclose(b.evaluate(Dataset(), verbose=0), b.evaluate(X, Y, verbose=0),
                                  rtol=1e-5)
    numpy.testing.assert_allclose(b.evaluate(Dataset(), steps=2, verbose=0),
                                  b.evaluate(X[:64], Y[:64], verbose=0), rtol=1e-5)
    numpy.testing.assert_allclose(b.predict(Dataset(), verbose=0), b.predict(X, verbose=0),
                                  rtol=1e-6)
    assert b.predict((x for x, _ in batches()), steps=2, verbose=0).shape == (64, 3)


def test_array_fit_with_a_generator_as_validation_data():
    def endless():
        while True:
            yield from batches(100)
    model = make()
    history = model.fit(X, Y, epochs=2, verbose=0, validation_data=endless(),
                        validation_steps=2)
    assert len(history.history["val_accuracy"]) == 2
    with pytest.warns(UserWarning, match="validation_data` ran out of data"):
        model.fit(X, Y, epochs=2, verbose=0, validation_data=batches(100))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("given", [{"y": Y}, {"batch_size": 16}, {"sample_weight": W}])
def test_arguments_the_batches_carry_are_refused(given):
    with pytest.raises(ValueError, match=f"`{next(iter(given))}` must not be given"):
        make().fit(batches(), verbose=0, **given)
    with pytest.raises(ValueError, match="must not be given"):
        make().fit(Dataset(), verbose=0, **given)


def test_validation_split_with_a_generator_is_refused():
    with pytest.raises(ValueError, match="validation_split"):
        make().fit(batches(), validation_split=0.2, verbose=0)


def test_an_endless_getitem_without_len_raises_instead_of_hanging():
    class Endless:
        def __getitem__(self, i):
            return X, Y
    for call in (lambda m: m.fit(Endless(), verbose=0), lambda m: m.predict(Endless()),
                 lambda m: m.evaluate(Endless(), verbose=0)):
        with pytest.raises(TypeError, match="no `__len__`"):
            call(make())


def test_inconsistent_batches_name_the_batch_and_both_shapes():
    def gen():
        yield X[:32], Y[:32]
        yield X[:32], Y[:32]
        yield X[:32, :5], Y[:32]
    with pytest.raises(ValueError, match=r"batch 2 of `x` has x of shape \(32, 5\), but "
                                         r"batch 0 had x of shape \(32, 8\)"):
        make().fit(gen(), verbose=0)


@pytest.mark.parametrize("batch", [(X[:4],), (X[:4], Y[:4], W[:4], W[:4]), X[:4]])
def test_a_batch_of_the_wrong_arity_is_named(batch):
    with pytest.raises(ValueError, match="batch 0 of `x`"):
        make().fit(iter([batch]), verbose=0)


def test_bad_values_in_a_batch_are_named():
    bad = X[:32].copy()
    bad[3, 3] = numpy.nan
    with pytest.raises(ValueError, match="batch 1 of `x`.*finite"):
        make().fit(iter([(X[:32], Y[:32]), (bad, Y[:32])]), verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        make().fit(iter([]), verbose=0)


# ------------------------------------------------------------------ pandas
def test_pandas_frames_and_series():
    pandas = pytest.importorskip("pandas")
    a, b = twins()
    ha = a.fit(X, Y, sample_weight=W, verbose=0, validation_data=(X, Y))
    hb = b.fit(pandas.DataFrame(X), pandas.Series(Y), sample_weight=pandas.Series(W),
               verbose=0, validation_data=(pandas.DataFrame(X), pandas.Series(Y)))
    close(a, b)
    assert ha.history == hb.history
    numpy.testing.assert_allclose(b.predict(pandas.DataFrame(X), verbose=0),
                                  b.predict(X, verbose=0))
    assert b.evaluate(pandas.DataFrame(X), pandas.Series(Y), verbose=0) == \
        b.evaluate(X, Y, verbose=0)


def test_pandas_is_found_by_module_name_not_imported():
    class Frame:     # a stand-in with pandas' module name
        __module__ = "pandas.core.frame"

        def to_numpy(self):
            return X
    a, b = twins()
    a.fit(X, Y, verbose=0)
    b.fit(Frame(), Y, verbose=0)
    close(a, b)


# ------------------------------------------------------------------ memmap
def test_a_memmap_trains_as_the_array(tmp_path):
    path = tmp_path / "x.npy"
    numpy.save(path, X.astype(numpy.float64))
    mm = numpy.load(path, mmap_mode="r")
    a, b = twins()
    ha = a.fit(X, Y, epochs=2, verbose=0, validation_split=0.2)
    hb = b.fit(mm, Y, epochs=2, verbose=0, validation_split=0.2)
    close(a, b)
    assert ha.history == hb.history
    numpy.testing.assert_array_equal(b.predict(mm, verbose=0), b.predict(X, verbose=0))
    assert b.evaluate(mm, Y, verbose=0) == b.evaluate(X, Y, verbose=0)


MEMMAP_SCRIPT = small_models.STREAMED_FIT_CHILD + textwrap.dedent("""
    import sys
    path, rows, cols = sys.argv[1], 100_000, 784
    with open(path, "wb") as f:            # written in slices, never mapped here
        for start in range(0, rows, 10_000):
            f.write(numpy.random.default_rng(start).random((10_000, cols), numpy.float32))
    x = numpy.memmap(path, numpy.float32, "r", shape=(rows, cols))
    print(fit_growth_kib(x, numpy.arange(rows) % 10))
""")


def test_a_memmap_larger_than_the_memory_used_streams(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads VmHWM from /proc")
    path = tmp_path / "x.f32"
    done = run_python(MEMMAP_SCRIPT, path, cwd=tmp_path, check=True)
    file_mib = path.stat().st_size / 2**20
    growth_mib = int(done.stdout) / 1024
    assert file_mib > 290
    assert growth_mib < file_mib / 3, (growth_mib, file_mib)
