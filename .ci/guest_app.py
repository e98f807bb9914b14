"""An application that embeds fastnn beside PyTorch and scikit-learn (each when installed).

    python .ci/guest_app.py

It imports the peers, then fastnn (which must print nothing and start no thread), keeps
the peers' own thread pools busy, and checks that fastnn gives the same bits as on one
thread when predicting from several Python threads at once, when two models train at
once, in processes forked after the parent used fastnn, and under threadpoolctl's limits;
and that a bad input raises without printing. Exit status 0 when every check passes, 1
otherwise; a hang ends the run after TIMEOUT_S seconds with every thread's traceback.
"""
import contextlib
import faulthandler
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

TIMEOUT_S = 300
faulthandler.dump_traceback_later(TIMEOUT_S, exit=True)
RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)


def os_threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux
        return threading.active_count()


@contextlib.contextmanager
def captured_output():
    """Everything written to file descriptors 1 and 2 inside the block, C code included."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    result = {}
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            f.seek(0)
            result["text"] = f.read().decode(errors="replace")


def import_peers():
    peers = {}
    with contextlib.suppress(ImportError):
        import torch
        peers["torch"] = torch
    with contextlib.suppress(ImportError):
        import sklearn.cluster
        peers["sklearn"] = sklearn
    return peers


def busy_peers(peers, stop):
    """Keep PyTorch's and scikit-learn's thread pools working until `stop` is set."""
    rng = np.random.default_rng(1)
    while not stop.is_set():
        if "torch" in peers:
            torch = peers["torch"]
            a = torch.from_numpy(rng.standard_normal((256, 256), dtype=np.float32))
            (a @ a).sum().item()
        if "sklearn" in peers:
            x = rng.standard_normal((2000, 8))
            peers["sklearn"].cluster.KMeans(3, n_init=1, random_state=0).fit(x)
        if not peers:
            time.sleep(0.01)


def make_model(seed, units=64, n_features=20, n_classes=3):
    import fastnn
    from fastnn.layers import Dense, Dropout
    fastnn.utils.set_random_seed(seed)
    model = fastnn.Sequential([Dense(units, activation="relu", input_shape=(n_features,)),
                               Dropout(0.1, seed=seed),
                               Dense(n_classes, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def data(seed, n=3000, n_features=20, n_classes=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_features)).astype(np.float32)
    return x, ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)) % n_classes


def fit(model, seed):
    """Train without shuffling: the result depends on the model's seed and `seed` alone."""
    x, y = data(seed)
    model.fit(x, y, epochs=2, batch_size=128, shuffle=False, verbose=0)
    return model


def trained(seed, units=64):
    return fit(make_model(seed, units), seed)


def child_task(seed):
    """In a forked child: train and predict, as `trained` does in the parent."""
    import fastnn
    model = trained(seed)
    return model.predict(data(seed + 100)[0], verbose=0), fastnn.get_num_threads()


def check_concurrent_predict(models, inputs):
    import fastnn
    with fastnn.threads(1):
        expected = [[m.predict(x, verbose=0) for x in inputs] for m in models]
    jobs = [(i, j) for _ in range(10) for i in range(len(models)) for j in range(len(inputs))]
    with ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda ij: models[ij[0]].predict(inputs[ij[1]], verbose=0), jobs))
    bad = sum(not np.array_equal(o, expected[i][j]) for o, (i, j) in zip(outs, jobs))
    check("predict from 6 threads at once, 2 models, equals 1 thread", bad == 0,
          f"{len(jobs)} calls, {bad} differ")
    return expected


def check_concurrent_training():
    sequential = [trained(s).get_weights() for s in (3, 4)]
    models = [make_model(s) for s in (3, 4)]  # here: the seed stream is process-wide
    with ThreadPoolExecutor(2) as pool:
        concurrent = [m.get_weights() for m in pool.map(fit, models, (3, 4))]
    same = all(np.array_equal(a, b) for s, c in zip(sequential, concurrent)
               for a, b in zip(s, c))
    check("two models trained at once in two threads equal each trained alone", same)


def check_fork():
    import fastnn
    expected = [trained(s).predict(data(s + 100)[0], verbose=0) for s in (5, 6)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        results = pool.map_async(child_task, (5, 6)).get(timeout=120)
    same = all(np.array_equal(r[0], e) for r, e in zip(results, expected))
    check("forked children (parent used fastnn and its peers) train and predict the same",
          same, f"child threads {[r[1] for r in results]}, parent {fastnn.get_num_threads()}")


def check_threadpoolctl(model, x, expected):
    try:
        import threadpoolctl
    except ImportError:
        check("threadpoolctl", True, "not installed, skipped")
        return
    import fastnn
    with fastnn.threads(2):
        with threadpoolctl.threadpool_limits(1):
            limited = fastnn.get_num_threads()
            out = model.predict(x, verbose=0)
        after = fastnn.get_num_threads()
    from fastnn._kernels.compiled import openmp_enabled
    runtimes = [i["filepath"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "openmp"]
    # a wheel's own copy lives in fastnn.libs/ beside the package; a build from source
    # uses the system's
    vendored = os.path.join(os.path.dirname(os.path.dirname(fastnn.__file__)), "fastnn.libs")
    ours = [p for p in runtimes if not os.path.isdir(vendored) or p.startswith(vendored)]
    check("threadpool_limits(1) limits fastnn, then lets go", limited == 1 and after == 2
          and np.array_equal(out, expected), f"{limited} inside, {after} after")
    check("threadpoolctl sees fastnn's OpenMP runtime", bool(ours) or not openmp_enabled(),
          f"OpenMP runtimes: {[os.path.basename(p) for p in runtimes]}")


def check_errors_raise_quietly(model):
    with captured_output() as out:
        try:
            model.predict(np.zeros((2, 21), dtype=np.float32), verbose=0)
            raised = None
        except ValueError as exc:
            raised = exc
    check("a bad input raises ValueError and prints nothing",
          raised is not None and out["text"] == "", f"{raised}; printed {out['text']!r}")


def main():
    peers = import_peers()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, peers: "
          + (", ".join(f"{k} {v.__version__}" for k, v in peers.items()) or "none"))
    before = os_threads()
    with captured_output() as out:
        t0 = time.perf_counter()
        import fastnn
        seconds = time.perf_counter() - t0
    print(f"fastnn {fastnn.__version__} from {os.path.dirname(fastnn.__file__)}")
    check("import fastnn prints nothing", out["text"] == "", repr(out["text"]))
    check("import fastnn starts no thread", os_threads() == before,
          f"{before} -> {os_threads()}, {seconds * 1e3:.1f} ms")

    stop = threading.Event()
    peer_thread = threading.Thread(target=busy_peers, args=(peers, stop), daemon=True)
    peer_thread.start()
    models = [trained(1), trained(2, units=32)]
    inputs = [data(7, n)[0] for n in (1, 33, 500, 2048)]
    expected = check_concurrent_predict(models, inputs)
    check_concurrent_training()
    stop.set()
    peer_thread.join(60)

    check_fork()
    check_threadpoolctl(models[0], inputs[2], expected[0][2])
    check_errors_raise_quietly(models[0])
    print(f"{sum(RESULTS)} passed, {len(RESULTS) - sum(RESULTS)} failed")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
