"""What `import fastnn` costs a host process beyond NumPy's own import: time, threads
started, and anything printed.

Run:
    python benchmarks/bench_import.py                     # 21 fresh interpreters
    python benchmarks/bench_import.py --runs 51 --json benchmarks/results/import.json

Each run is a new interpreter (the fastnn this script would import, run from a scratch
directory) that imports numpy, then fastnn, timing each import with perf_counter and
counting the OS threads before and after (/proc/self/task on Linux; Python's threads
elsewhere); whatever the imports write to stdout or stderr is kept. A second set of runs
times whole processes, `python -c "import numpy"` against `python -c "import numpy,
fastnn"`, alternating. Reported: medians, with the machine; the JSON holds every run and
the fastnn modules that take longest to import (-X importtime, one run).
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

TARGET_MS = 100.0  # import fastnn beyond numpy, median
MARK = "@@bench_import@@"
CHILD = f"""
import os, sys, threading, time
def n_threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
before = n_threads()
import fastnn
t2 = time.perf_counter()
after = n_threads()
sys.stdout.flush()
print({MARK!r}, (t1 - t0) * 1e3, (t2 - t1) * 1e3, before, after, fastnn.__file__)
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=21, help="fresh interpreters per measurement")
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "import.json"))
    return p.parse_args(argv)


def child_env():
    """The environment of the measured interpreters: fastnn found where this one finds it."""
    spec = importlib.util.find_spec("fastnn")
    if spec is None:
        sys.exit("fastnn is not importable: install it, or run with PYTHONPATH=.")
    root = os.path.dirname(os.path.dirname(spec.origin))
    env = dict(os.environ, PYTHONPATH=root)
    env.pop("PYTHONSTARTUP", None)
    return env


def in_process_runs(n, env, cwd):
    runs = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                             env=env, cwd=cwd, check=True)
        before, _, line = out.stdout.rpartition(MARK)
        numpy_ms, fastnn_ms, t_before, t_after, where = line.split()
        runs.append({"numpy_ms": float(numpy_ms), "fastnn_ms": float(fastnn_ms),
                     "threads_before": int(t_before), "threads_after": int(t_after),
                     "printed": before + out.stderr, "fastnn_file": where})
    return runs


def process_runs(n, env, cwd):
    """Wall seconds of whole interpreters importing numpy, and numpy then fastnn."""
    walls = {"numpy": [], "numpy+fastnn": []}
    commands = {"numpy": "import numpy", "numpy+fastnn": "import numpy, fastnn"}
    for _ in range(n):
        for key, code in commands.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True,
                           capture_output=True)
            walls[key].append((time.perf_counter() - t) * 1e3)
    return walls


def slowest_modules(env, cwd, top=8):
    """fastnn's modules by cumulative import time (microseconds), from -X importtime."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import numpy, fastnn"],
                         env=env, cwd=cwd, capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2].startswith("fastnn") and parts[1].isdigit():
            rows.append({"module": parts[2], "cumulative_us": int(parts[1])})
    return sorted(rows, key=lambda r: -r["cumulative_us"])[:top]


def main(argv=None):
    args = parse_args(argv)
    env = child_env()
    info = _common.machine_info()
    with tempfile.TemporaryDirectory() as cwd:
        runs = in_process_runs(args.runs, env, cwd)
        walls = process_runs(args.runs, env, cwd)
        modules = slowest_modules(env, cwd)
    median = _common.median
    summary = {
        "import numpy, ms": median([r["numpy_ms"] for r in runs]),
        "import fastnn after numpy, ms": median([r["fastnn_ms"] for r in runs]),
        "process: numpy, ms": median(walls["numpy"]),
        "process: numpy + fastnn, ms": median(walls["numpy+fastnn"]),
        "threads started by import fastnn": max(r["threads_after"] - r["threads_before"]
                                                for r in runs),
        "runs that printed something": sum(bool(r["printed"]) for r in runs),
    }
    _common.print_header("import fastnn in a fresh interpreter", info, [1],
                         f"{args.runs} runs each; fastnn from {runs[0]['fastnn_file']}")
    _common.print_table([{"what": k, "value": v} for k, v in summary.items()],
                        [("what", "measure (median)"), ("value", "value")])
    print("# slowest fastnn modules (cumulative, one -X importtime run): "
          + ", ".join(f"{m['module']} {m['cumulative_us'] / 1e3:.1f} ms" for m in modules))
    ok = (summary["import fastnn after numpy, ms"] < TARGET_MS
          and summary["threads started by import fastnn"] == 0
          and summary["runs that printed something"] == 0)
    print(f"# target: under {TARGET_MS:.0f} ms beyond numpy, no thread, no output: "
          + ("met" if ok else "NOT met"))
    _common.write_json(args.json, {"machine": info, "summary": summary, "runs": runs,
                                   "process_ms": walls, "slowest_modules": modules,
                                   "target_met": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
