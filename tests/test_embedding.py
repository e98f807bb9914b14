"""fastnn as a guest in someone else's process: quiet, light imports; threads; fork."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential


def _run_python(code, tmp_path):
    """Run `code` in a fresh interpreter that imports fastnn as this test session does."""
    root = os.path.dirname(os.path.dirname(fastnn.__file__))
    env = dict(os.environ, PYTHONPATH=root)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=True)


def test_import_is_quiet_light_and_starts_no_threads(tmp_path):
    code = ("import sys, threading, time\n"
            "import numpy\n"
            "t = time.perf_counter()\n"
            "import fastnn\n"
            "dt = time.perf_counter() - t\n"
            "heavy = [m for m in ('matplotlib', 'cupy', 'torch', 'sklearn', 'threadpoolctl')"
            " if m in sys.modules]\n"
            "print(threading.active_count(), repr(heavy), dt)\n")
    out = _run_python(code, tmp_path)
    assert out.stderr == ""
    n_threads, heavy, seconds = out.stdout.split(" ", 2)
    assert n_threads == "1" and heavy == "[]"
    assert float(seconds) < 0.5  # measured ~30 ms; the bound only catches gross regressions
    if sys.platform.startswith("linux"):  # no OpenMP pool until a kernel runs
        count = ("import os\n"
                 "def n(): return [l for l in open(f'/proc/{os.getpid()}/status')"
                 " if l.startswith('Threads')][0]\n"
                 "import numpy\nbefore = n()\nimport fastnn\nfastnn.get_backend()\n"
                 "print(before == n())\n")
        assert _run_python(count, tmp_path).stdout.strip() == "True"


def _model():
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(64, activation="relu", input_shape=(32,)), Dropout(0.1),
                        Dense(5, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_concurrent_predict_from_threads():
    model = _model()
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((n, 32)).astype("float32") for n in (1, 7, 300, 2000)]
    expected = [model.predict(x, verbose=0) for x in inputs]
    errors = []

    def worker(i):
        for _ in range(30):
            j = (i + _) % len(inputs)
            if not np.array_equal(model.predict(inputs[j], verbose=0), expected[j]):
                errors.append(j)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_trains_and_predicts_after_the_parent_did():
    x = np.random.default_rng(0).random((2048, 32)).astype("float32")
    y = np.arange(2048) % 5
    model = _model()
    with fastnn.threads(2):
        model.fit(x, y, epochs=1, batch_size=512, verbose=0)  # parent uses the thread pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            with fastnn.threads(2):
                child = _model()
                child.fit(x, y, epochs=1, batch_size=512, verbose=0)
                ok = child.predict(x[:3], verbose=0).shape == (3, 5)
            os.write(write, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(write)
    import select
    ready, _, _ = select.select([read], [], [], 60)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert ready and os.read(read, 2) == b"ok", "the forked child hung or failed"


def test_threadpoolctl_limits_fastnn():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastnn.get_backend()  # loads the kernels and their OpenMP runtime
    with fastnn.threads(2):
        with threadpoolctl.threadpool_limits(1):
            assert fastnn.get_num_threads() == 1
        assert fastnn.get_num_threads() == 2


def test_omp_num_threads_is_the_default(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads())"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
        env=dict(os.environ, OMP_NUM_THREADS="1",
                 PYTHONPATH=os.path.dirname(os.path.dirname(fastnn.__file__))))
    assert out.stdout.strip() == "1"
