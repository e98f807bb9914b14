"""fastnn as a guest in someone else's process: quiet, light imports; threads, the GIL;
fork; threadpoolctl; errors that raise without printing; the portable kernels."""
import glob
import os
import re
import sys
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential
from session_python import run_python


def _run_python(code, tmp_path, **env_vars):
    """Run `code` in a fresh interpreter that imports fastnn as this test session does."""
    return run_python(code, cwd=tmp_path, check=True, **env_vars)


def test_import_is_quiet_light_and_starts_no_threads(tmp_path):
    code = ("import sys, threading, time\n"
            "import numpy\n"
            "t = time.perf_counter()\n"
            "import fastnn\n"
            "dt = time.perf_counter() - t\n"
            "heavy = [m for m in ('matplotlib', 'cupy', 'torch', 'sklearn', 'threadpoolctl')"
            " if m in sys.modules]\n"
            "print(threading.active_count(), repr(heavy), dt)\n")
    runs = [_run_python(code, tmp_path) for _ in range(3)]
    assert [out.stderr for out in runs] == ["", "", ""]
    fields = [out.stdout.split(" ", 2) for out in runs]
    assert {(n, heavy) for n, heavy, _ in fields} == {("1", "[]")}
    # ~12 ms from the wheel here (benchmarks/bench_import.py); the bound only catches
    # gross regressions
    assert min(float(seconds) for _, _, seconds in fields) < 0.2
    if sys.platform.startswith("linux"):  # no OpenMP pool until a kernel runs
        count = ("import os\n"
                 "def n(): return len(os.listdir('/proc/self/task'))\n"
                 "import numpy\nbefore = n()\nimport fastnn\nfastnn.get_backend()\n"
                 "print(before == n())\n")
        assert _run_python(count, tmp_path).stdout.strip() == "True"


def _model():
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(64, activation="relu", input_shape=(32,)), Dropout(0.1),
                        Dense(5, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_concurrent_predict_from_threads(floatx64):
    models = [Sequential([Dense(16, activation="tanh", input_shape=(32,)), Dense(3)])]
    fastnn.config.set_floatx("float32")
    models.append(_model())  # a float32 model beside a float64 one: no shared buffers
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((n, 32)).astype("float32") for n in (1, 7, 300, 2000)]
    expected = [[m.predict(x, verbose=0) for x in inputs] for m in models]
    errors = []

    def worker(i):
        for k in range(30):
            m, j = (i + k) % len(models), (i + k) % len(inputs)
            if not np.array_equal(models[m].predict(inputs[j], verbose=0), expected[m][j]):
                errors.append((m, j))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [m.predict(inputs[0], verbose=0).dtype for m in models] == ["float64", "float32"]


def test_threads_blocks_in_two_threads_keep_their_own_counts():
    default = fastnn.get_num_threads()
    seen, entered, a_left = {}, threading.Barrier(2), threading.Event()

    def block(name, n):
        with fastnn.threads(n):
            entered.wait()
            if name == "b":
                a_left.wait()  # a leaves its block first, while b is still inside
            seen[name] = fastnn.get_num_threads()
        if name == "a":
            a_left.set()

    workers = [threading.Thread(target=block, args=args) for args in (("a", 1), ("b", 2))]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert seen == {"a": 1, "b": 2}
    assert fastnn.get_num_threads() == default  # neither block leaked into the process


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
            with fastnn.threads(2):  # an explicit request inside wins, and is undone
                assert fastnn.get_num_threads() == 2
            assert fastnn.get_num_threads() == 1
        assert fastnn.get_num_threads() == 2
    from fastnn._kernels.compiled import openmp_enabled
    if openmp_enabled():
        assert any(i["user_api"] == "openmp" for i in threadpoolctl.threadpool_info())


def test_omp_num_threads_is_the_default(tmp_path):
    out = _run_python("import fastnn; print(fastnn.get_num_threads())", tmp_path,
                      OMP_NUM_THREADS="1")
    assert out.stdout.strip() == "1"


def _longest_pause(call):
    """Run call() in another thread; the longest time this thread could not run Python."""
    done, errors = threading.Event(), []

    def work():
        try:
            with fastnn.threads(1):
                call()
        except Exception as exc:  # raised again in this thread
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=work)
    last, longest = time.perf_counter(), 0.0
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    if errors:
        raise errors[0]
    return longest


def _sized(make_call, target=0.15):
    """make_call(n) for an n whose call takes about `target` seconds, with its time."""
    n = 256
    for _ in range(3):
        call = make_call(n)
        with fastnn.threads(1):
            t = time.perf_counter()
            call()
            seconds = time.perf_counter() - t
        if seconds > target / 2 or n == 2048:
            break
        n = min(2048, 64 + int(n * (target / seconds) ** (1 / 3)) // 64 * 64)  # ~n^3 work
    return call, seconds


def _matmul_call(n):
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    return lambda: fastnn.ops.matmul(a, a)


def _predict_call(n):
    model = Sequential([Dense(n, activation="gelu", input_shape=(n,)), Dense(n)])
    x = np.random.default_rng(0).random((n, n), dtype=np.float32)
    return lambda: model.predict(x, batch_size=n, verbose=0)


def _train_call(n):
    model = Sequential([Dense(n, activation="relu", input_shape=(n,)), Dropout(0.1),
                        Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((n, n), dtype=np.float32)
    y = np.arange(n) % 10
    return lambda: model.train_on_batch(x, y)


@pytest.mark.parametrize("make_call", [_matmul_call, _predict_call, _train_call],
                         ids=["matmul", "predict", "train_on_batch"])
def test_long_kernels_let_other_threads_run(make_call):
    call, seconds = _sized(make_call)
    # holding the GIL would stop this thread for the whole call; released, it waits at
    # most a switch interval (5 ms) while the worker runs Python between kernels
    assert _longest_pause(call) < max(seconds / 2, 0.03)


# constant-time reads and settings, no kernel work: fine with the GIL held
GIL_ALLOWED = re.compile(r"isa|openmp|omp_|kernel_info|_threshold|alloc_failure|scratch_fail")
GIL_ALLOWED_DEFS = set()  # (file, def) pairs allowed to call kernels holding the GIL


def _logical_lines(text):
    """(line number, line) with bracketed continuations joined and comments dropped."""
    buf, depth, start = "", 0, 0
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#")[0].rstrip()
        if not buf:
            start = number
        buf = f"{buf} {code.strip()}" if buf else code
        depth += code.count("(") + code.count("[") - code.count(")") - code.count("]")
        if depth <= 0:
            if buf.strip():
                yield start, buf
            buf, depth = "", 0


def _calls_holding_the_gil(path, c_functions):
    """Calls to C kernels or `nogil` workers in `path` made while holding the GIL."""
    text = open(path).read()
    defs = re.findall(r"^\s*cdef\b[^\n:(]*?\b(\w+)\([^)]*\)[^:\n]*nogil", text, re.M)
    workers = set(defs) | c_functions
    workers = {w for w in workers if not GIL_ALLOWED.search(w)}
    found, blocks, name = [], [], os.path.basename(path)  # blocks: (indent, nogil, def)
    for number, line in _logical_lines(text):
        indent, code = len(line) - len(line.lstrip()), line.strip()
        while blocks and indent <= blocks[-1][0]:
            blocks.pop()
        function = next((f for _, _, f in reversed(blocks) if f), None)
        header = re.match(r"(cdef|cpdef|def)\b[^(]*?(\w+)\(", code)
        if header and code.endswith(":"):
            nogil = header.group(1) == "cdef" and "nogil" in code.rsplit(")", 1)[-1]
            blocks.append((indent, nogil, header.group(2)))
            continue
        if code.endswith(":") and (code.startswith("with nogil") or "nogil=True" in code):
            blocks.append((indent, True, None))
            continue
        if blocks and not any(b[1] for b in blocks) and (name, function) not in GIL_ALLOWED_DEFS:
            found += [f"{name}:{number} {function}() calls {c}"
                      for c in re.findall(r"\b(\w+)\(", code) if c in workers]
    return found


def test_every_kernel_call_releases_the_gil_in_the_sources():
    kernels = os.path.join(os.path.dirname(fastnn.__file__), "_kernels")
    sources = sorted(glob.glob(os.path.join(kernels, "*.pyx"))
                     + glob.glob(os.path.join(kernels, "*.pxi")))
    if not sources:
        pytest.skip("the Cython sources are not installed (a wheel); the timing tests stand")
    pxd = open(os.path.join(kernels, "capi.pxd")).read()
    c_functions = set(re.findall(r"\b(fnn_\w+)\(", pxd))
    found = [c for path in sources for c in _calls_holding_the_gil(path, c_functions)]
    assert found == []


def test_errors_raise_and_print_nothing(capfd):
    model = _model()
    with pytest.raises(ValueError):
        model.predict(np.zeros((2, 31), dtype="float32"), verbose=0)
    with pytest.raises(ValueError):
        fastnn.set_num_threads(0)
    with pytest.raises(ValueError):
        fastnn.set_backend("no-such-backend")
    with pytest.raises(ValueError):
        model.fit(np.zeros((4, 32), dtype="float32"), np.zeros(3), verbose=0)
    assert capfd.readouterr() == ("", "")


def test_portable_kernels_as_on_a_cpu_without_avx(tmp_path):
    """FASTNN_ISA=generic: the kernels an old CPU gets give the same answers (the whole
    suite on them: `FASTNN_ISA=generic pytest`, which .ci/wheel.sh runs)."""
    code = ("import numpy as np, fastnn\n"
            "from fastnn._kernels import isa_name\n"
            "from fastnn.layers import Dense, Dropout\n"
            "rng = np.random.default_rng(0)\n"
            "for m, k, n in [(1, 1, 1), (7, 33, 65), (300, 129, 70)]:\n"
            "    for dt, tol in [('float32', 1e-5), ('float64', 1e-12)]:\n"
            "        a, b = rng.random((m, k)).astype(dt), rng.random((k, n)).astype(dt)\n"
            "        np.testing.assert_allclose(fastnn.ops.matmul(a, b), a @ b, rtol=tol)\n"
            "fastnn.utils.set_random_seed(0)\n"
            "model = fastnn.Sequential([Dense(32, activation='relu', input_shape=(8,)),\n"
            "                           Dropout(0.1), Dense(3, activation='softmax')])\n"
            "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
            "x = rng.standard_normal((600, 8)).astype('float32'); y = (x[:, 0] > 0) * 2\n"
            "model.fit(x, y, epochs=20, batch_size=32, verbose=0)\n"
            "print(isa_name(), model.evaluate(x, y, verbose=0)[1])\n")
    out = _run_python(code, tmp_path, FASTNN_ISA="generic")
    isa, accuracy = out.stdout.split()
    assert isa == "generic" and float(accuracy) > 0.9
