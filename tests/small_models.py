"""The small classifier that the tests of fit's inputs train in pairs
(tests/test_data_inputs.py, tests/test_dask.py): one definition, each file choosing its
width, seed and dtype."""
from fastnn import layers, models


def classifier(n_features, seed, dtype=None):
    """n_features -> 16 relu -> 3 softmax, compiled with Adam, the sparse categorical
    cross-entropy and accuracy, shuffling with `seed` (training_seed)."""
    model = models.Sequential([layers.Input((n_features,)),
                               layers.Dense(16, activation="relu", dtype=dtype),
                               layers.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.training_seed = seed
    return model


def twins(make):
    """Two models from `make()` holding the same weights."""
    a, b = make(), make()
    b.set_weights(a.get_weights())
    return a, b


# Python for a child process (tests/session_python.run_python) that measures what fit
# adds to its memory: fit_growth_kib(x, y) trains a 784 -> 16 -> 10 network on x (more
# rows than fit should hold at once) for one epoch, after a warm-up fit on 256 rows
# (imports, plans, buffers), and returns the growth of the process's high-water mark of
# resident memory (VmHWM, Linux) over that epoch in KiB.
STREAMED_FIT_CHILD = '''
import numpy
from fastnn import layers, models, set_num_threads
set_num_threads(1)

def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))

def fit_growth_kib(x, y, **fit_kwargs):
    model = models.Sequential([layers.Input((x.shape[1],)),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:256], y[:256], batch_size=256, verbose=0)
    before = peak_kib()
    history = model.fit(x, y, batch_size=256, epochs=1, verbose=0, **fit_kwargs)
    assert numpy.isfinite(history.history["loss"][0])
    return peak_kib() - before
'''
