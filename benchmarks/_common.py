"""Shared pieces of the benchmark scripts: the tasks, timing, medians, FLOP counts, the
machine's description, and table / JSON / chart output.

Not run on its own; `python benchmarks/bench_train.py` and `python benchmarks/bench_predict.py`
import it.
"""
import contextlib
import dataclasses
import importlib
import json
import os
import platform
import statistics
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
PEER_MODULES = ("fastnn_mlp", "numpy_mlp", "torch_mlp", "keras_mlp", "sklearn_mlp", "onnx_mlp")
# fp32 FMA peak of one core of the reference machine (2 x 512-bit FMA per cycle); used
# when no measured peak is available
DEFAULT_PEAK_GFLOPS_PER_CORE = 116.6
PAUSE_S = 0.2  # longer than OpenBLAS's and libgomp's spin-wait after a call


@dataclasses.dataclass(frozen=True)
class Task:
    """One training task: a Sequential MLP on synthetic float32 data."""
    name: str
    n_features: int
    layers: tuple            # ((units, activation), ...); the last one is the output
    optimizer: str           # "adam" or "rmsprop", Keras defaults (lr 1e-3, eps 1e-7)
    batch_sizes: tuple
    n_samples: int = 60_000
    dropout: float = 0.0     # a Dropout after the first Dense when > 0
    per_step: bool = False   # report microseconds per step instead of seconds per epoch

    @property
    def binary(self):
        return self.layers[-1][1] == "sigmoid"

    @property
    def n_classes(self):
        return 2 if self.binary else self.layers[-1][0]

    def describe(self):
        parts = [f"{self.n_features}"] + [f"{u} {a}" for u, a in self.layers]
        if self.dropout:
            parts.insert(2, f"dropout {self.dropout}")
        return " -> ".join(parts) + f", {self.optimizer}"

    def flops_per_epoch(self, n_samples=None):
        """Forward 2*M*K*N per layer, backward twice that, less the first layer's input
        gradient, which training never needs."""
        m = self.n_samples if n_samples is None else n_samples
        total, k = 0, self.n_features
        for i, (units, _) in enumerate(self.layers):
            total += 2 * m * k * units * (2 if i == 0 else 3)
            k = units
        return total


TASKS = {
    "T1": Task("T1", 784, ((128, "relu"), (10, "softmax")), "adam", (32, 128), dropout=0.2),
    "T2": Task("T2", 784, ((512, "relu"), (10, "softmax")), "rmsprop", (128,)),
    "T3": Task("T3", 784, ((64, "relu"), (64, "relu"), (10, "softmax")), "adam", (32,)),
    "T4": Task("T4", 8, ((16, "relu"), (1, "sigmoid")), "adam", (32,), n_samples=768,
               per_step=True),
}


def synthetic_data(task, n_samples, seed=0):
    """Uniform [0, 1) float32 inputs and random labels (int64 classes, or float32 0/1)."""
    rng = numpy.random.default_rng(seed)
    x = rng.random((n_samples, task.n_features), dtype=numpy.float32)
    y = rng.integers(0, task.n_classes, n_samples)
    return x, (y.astype(numpy.float32) if task.binary else y.astype(numpy.int64))


def load_peers(kind):
    """The peer modules providing `kind` ("train" or "predict"): a list of (module,
    None) for those that can run and (module, reason) for those that cannot."""
    sys.path.insert(0, HERE)
    found = []
    for name in PEER_MODULES:
        module = importlib.import_module(f"peers.{name}")
        if not hasattr(module, "make_trainers" if kind == "train" else "make_predictors"):
            continue
        found.append((module, module.unavailable()))
    return found


def thread_limit(n):
    """Limit NumPy's BLAS (and anything else threadpoolctl knows) to `n` threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def time_calls(fn, repeats, warmup=1):
    """Seconds of each of `repeats` calls of `fn()` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def latency(fn, n_calls, warmup=200):
    """Median and 99th percentile of single-call latency in seconds."""
    times = numpy.array(time_calls(fn, n_calls, warmup))
    return float(numpy.median(times)), float(numpy.percentile(times, 99))


def median(values):
    return float(statistics.median(values))


def paired_ratios(numerators, denominators):
    """(median, list) of the ratios round by round of two libraries' or builds' times
    taken in turns: a slow minute of a shared machine then weighs on both sides of a
    ratio, where it would tilt a ratio of medians."""
    ratios = [a / b for a, b in zip(numerators, denominators)]
    return median(ratios), ratios


def peak_gflops(n_threads, _cache={}):
    """The fp32 peak in GFLOP/s on `n_threads` cores and where the number comes from:
    `n_threads` times one core's peak as measured by peak_fma.c (through
    bench_matmul.peak_gflops; a per-core figure is not disturbed by other work on the
    other cores) when a C compiler is at hand, else the per-core constant."""
    if "core" not in _cache:
        try:
            sys.path.insert(0, HERE)
            measured = importlib.import_module("bench_matmul").peak_gflops(1)[0]
        except Exception:  # no bench_matmul.py, or it failed to import
            measured = None
        _cache["core"] = ((float(measured), "one core measured by benchmarks/peak_fma.c")
                          if measured else (DEFAULT_PEAK_GFLOPS_PER_CORE,
                                            "assumed GFLOP/s per core"))
    per_core, source = _cache["core"]
    return per_core * n_threads, f"{per_core:.1f} {source}"


def pause():
    """Let the previous library's spinning worker threads go to sleep before the next
    library is timed, so they do not steal its cores."""
    time.sleep(PAUSE_S)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    """The machine and software versions, for the header and the JSON."""
    import fastnn
    from fastnn.backend import get_backend
    info = {"cpu": _cpu_model(), "cores": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "fastnn": fastnn.__version__,
            "fastnn_backend": type(get_backend()).__name__,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    info["kernel_isa"] = os.environ.get("FASTNN_ISA") or _fastnn_isa()
    return info


def _fastnn_isa():
    import io
    import fastnn
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fastnn.show_config()
    for line in buf.getvalue().splitlines():
        if line.startswith("kernel_isa"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def print_header(title, info, threads, note=""):
    print(f"# {title}")
    load = info.get("load_average")
    print(f"# machine: {info['cpu']}, {info['cores']} cores, {info['platform']}"
          + (f"; load average {load:.1f} at the start" if load is not None else ""))
    print(f"# python {info['python']}, numpy {info['numpy']}, fastnn {info['fastnn']} "
          f"({info['kernel_isa']}); threads: {', '.join(map(str, threads))}")
    if note:
        print(f"# {note}")


def print_table(rows, columns):
    """Print `rows` (dicts) as an aligned text table of `columns` [(key, header), ...]."""
    if not rows:
        print("(no results)")
        return
    cells = [[header for _, header in columns]]
    for row in rows:
        cells.append([_fmt(row.get(key)) for key, _ in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for i, r in enumerate(cells):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) >= 1e-4 else f"{value:.2e}"
    return str(value)


def write_json(path, payload):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    print(f"# wrote {path}")


def plot_bars(path, groups, title, ylabel, log=True):
    """A grouped bar chart: `groups` maps a group label to {series label: value}."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib is not installed; no chart")
        return
    series = list(dict.fromkeys(s for values in groups.values() for s in values))
    if not series:
        return
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        xs = [g + i * width for g in range(len(groups))]
        ax.bar(xs, [values.get(name, 0) for values in groups.values()], width, label=name)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    ax.set_xticklabels(list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"# wrote {path}")
