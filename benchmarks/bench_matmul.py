"""python benchmarks/bench_matmul.py [--quick] [--threads 1,2] [--json FILE] [--png FILE]

GEMM throughput of fastnn beside NumPy (and PyTorch when importable), measured in the same
run: square sizes, the MLP layer shapes in the three backprop cases (forward x.W, dW = x^T.dZ,
dX = dZ.W^T), float64 squares, and the fused dense forward act(x.W + b) against NumPy's
matmul + bias + relu. Every number is a median of repeated calls (GFLOP/s = 2mnk / time).

Each thread count runs in its own process with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS /
MKL_NUM_THREADS set, so every library uses the same number of cores. The libraries take
turns, three per case, with a pause in between, so one library's spinning worker threads
never steal the cores of the next, and a slow stretch of a shared machine spoils one turn,
not one library's figure. The ceiling is the FMA peak measured by benchmarks/peak_fma.c
(compiled here with the system C compiler) before and after each thread count's cases, the
higher of the two kept. A second, lower ceiling is fastnn's own float micro-kernel run in
cache (benchmarks/kernel_ceiling.c, compiled from src_c/ with setup.py's flags): no whole
product, packing and memory traffic included, can pass it. Writes a table to stdout, a
JSON file, and a PNG of GFLOP/s against size when matplotlib is installed. Rows that
fastnn's speed targets cover (`target`) show the target, whether this run meets it, and
the speed it asks for as a share of the micro-kernel's in-cache rate (`ukr%`); the
table's last lines count them.
"""
import argparse
import ast
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLP_SHAPES = [(32, 784, 128), (64, 784, 128), (128, 784, 512), (256, 512, 512),
              (60000, 784, 128)]
PAUSE_S = 0.2  # > OpenBLAS's and libgomp's spin-wait after a call
ROUNDS = 3  # turns each library takes per case (median_times)
# setup.py's optimisation flags for C (its ISA flags are read from setup.py: isa_flags)
BASE_C_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing"]


def cases(quick):
    """(group, label, dtype, m, k, n, trans_a, trans_b) of every GEMM measured."""
    squares = [256, 512, 1024] if quick else [256, 512, 1024, 2048, 4096]
    out = [("square", f"{s}^3", "float32", s, s, s, False, False) for s in squares]
    for M, K, N in MLP_SHAPES:
        if quick and M > 1000:
            continue
        shape = f"{M}x{K}x{N}"
        out += [("mlp", f"{shape} fwd x.W", "float32", M, K, N, False, False),
                ("mlp", f"{shape} dW xT.dZ", "float32", K, M, N, True, False),
                ("mlp", f"{shape} dX dZ.WT", "float32", M, N, K, False, True)]
    for s in ([256, 1024] if quick else [256, 1024, 2048]):
        out.append(("square64", f"{s}^3", "float64", s, s, s, False, False))
    return out


def call_times(fn, budget_s):
    """Seconds per call of fn: at least one call, then calls for about budget_s."""
    times = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < budget_s and len(times) < 2000):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_times(runners, budget_s, rounds=ROUNDS):
    """{library: median seconds per call}, the libraries taking turns `rounds` times.

    Each turn gives a library budget_s / rounds of calls after a pause; its result is the
    median of its turns' medians. On a shared machine a slow stretch of a few seconds
    (two threads running at one thread's speed) then spoils one turn of one library, not
    its whole figure, and the ratios between libraries hold.
    """
    for fn in runners.values():
        fn()  # warm-up: first-call allocations, thread start-up
    turns = {lib: [] for lib in runners}
    for _ in range(rounds):
        for lib, fn in runners.items():
            time.sleep(PAUSE_S)
            turns[lib].append(statistics.median(call_times(fn, budget_s / rounds)))
    return {lib: statistics.median(t) for lib, t in turns.items()}


def gemm_runners(np, torch, gemm, a, b, out, ta, tb, threads):
    """{library: zero-argument callable} computing out = op(a) @ op(b)."""
    A, B = (a.T if ta else a), (b.T if tb else b)
    runners = {"fastnn": lambda: gemm.gemm(a, b, out, ta, tb, 1.0, 0.0, threads),
               "numpy": lambda: np.matmul(A, B, out=out)}
    if torch is not None:
        tA, tB, tout = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(out)
        runners["torch"] = lambda: torch.matmul(tA, tB, out=tout)
    return runners


def dense_runners(np, torch, gemm, x, w, bias, out, threads):
    """{library: callable} computing out = relu(x @ w + bias)."""
    def numpy_dense():
        np.matmul(x, w, out=out)
        np.add(out, bias, out=out)
        np.maximum(out, 0, out=out)

    runners = {"fastnn": lambda: gemm.dense_forward(x, w, bias, 1, 0.0, out, threads),
               "numpy": numpy_dense}
    if torch is not None:
        tx, tw, tb, tout = (torch.from_numpy(v) for v in (x, w, bias, out))
        runners["torch"] = lambda: torch.relu_(torch.addmm(tb, tx, tw, out=tout))
    return runners


def worker(threads, quick):
    """Measures every case with `threads` threads; returns a list of result dicts."""
    import numpy as np
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    from fastnn._kernels import compiled as gemm

    rng = np.random.default_rng(0)
    budget = 0.25 if quick else 0.6
    results = []

    def measure(entry, runners, flops):
        for lib, seconds in median_times(runners, budget).items():
            entry[lib] = flops / seconds / 1e9
        results.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)

    for group, label, dtype, m, k, n, ta, tb in cases(quick):
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        out = np.empty((m, n), dtype)
        entry = {"group": group, "case": label, "dtype": dtype, "m": m, "k": k, "n": n,
                 "threads": threads}
        measure(entry, gemm_runners(np, torch, gemm, a, b, out, ta, tb, threads), 2.0 * m * n * k)
    for M, K, N in MLP_SHAPES:
        if quick and M > 1000:
            continue
        x = rng.standard_normal((M, K)).astype("float32")
        w = rng.standard_normal((K, N)).astype("float32")
        bias = rng.standard_normal(N).astype("float32")
        out = np.empty((M, N), "float32")
        entry = {"group": "dense", "case": f"{M}x{K}x{N} relu(x.W+b)", "dtype": "float32",
                 "m": M, "k": K, "n": N, "threads": threads}
        measure(entry, dense_runners(np, torch, gemm, x, w, bias, out, threads), 2.0 * M * N * K)
    return {"isa": gemm.isa_name(), "kernel_info": gemm.kernel_info(), "results": results}


def peak_gflops(threads):
    """(float32, float64) FMA peak in GFLOP/s from benchmarks/peak_fma.c, or (None, None)."""
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_fma")
        try:
            subprocess.run([cc, "-O2", "-march=native", "-fopenmp", str(HERE / "peak_fma.c"),
                            "-o", exe], check=True, capture_output=True)
            # A peak is a maximum: a run that shared its core with other work reads low
            # (once 48 instead of 102 GFLOP/s for float64), so keep the best of three.
            runs = [subprocess.run([exe, str(threads)], check=True, capture_output=True,
                                   text=True).stdout.split() for _ in range(3)]
            return max(float(r[0]) for r in runs), max(float(r[1]) for r in runs)
        except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
            return None, None


def isa_flags(isa):
    """setup.py's compiler flags for the C files of `isa` (none for the portable code),
    read from its ISA_FLAGS table without running setup.py."""
    tree = ast.parse((HERE.parent / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ISA_FLAGS":
            return ast.literal_eval(node.value).get(isa, {}).get("unix", [])
    return []


def kernel_ceiling(threads, isa, mr, nr):
    """float32 GFLOP/s of the ISA's MR x NR micro-kernel (src_c/sgemm_<isa>_<mr>x<nr>.c) in
    cache on `threads` threads (benchmarks/kernel_ceiling.c), or None where its source is
    absent or it fails to build or run."""
    name = f"sgemm_{isa}_{mr}x{nr}"
    source = HERE.parent / "src_c" / f"{name}.c"
    if not source.is_file():
        return None
    cc = os.environ.get("CC", "cc")
    # without OpenMP (a compiler that lacks it) the program measures one thread only
    openmp_options = [["-fopenmp"], []] if threads == 1 else [["-fopenmp"]]
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "kernel_ceiling")
        for openmp in openmp_options:
            try:
                subprocess.run([cc, *BASE_C_FLAGS, *isa_flags(isa), *openmp,
                                f"-I{source.parent}", f"-DUKR=fnn_{name}", f"-DMR={mr}",
                                f"-DNR={nr}", str(HERE / "kernel_ceiling.c"), str(source),
                                "-o", exe], check=True, capture_output=True)
                out = subprocess.run([exe, str(threads)], check=True, capture_output=True,
                                     text=True,
                                     env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
                return float(out.stdout.split()[0])
            except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
                continue
    return None


def best_peak(*peaks):
    """The per-dtype maximum of (float32, float64) peaks, ignoring failed (None) runs."""
    return tuple(max((v for v in column if v is not None), default=None)
                 for column in zip(*peaks))


def run_worker_process(threads, quick):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", str(threads)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout)


def target(r, peak):
    """(the case's speed target and where it stands, whether it is met, the GFLOP/s it asks
    for) for one result row, or None where the targets set none: float32 squares
    1024-4096 at least the faster peer's speed; the MLP shapes on two or more threads 1.1x
    the faster peer or 90 % of the FMA peak, whichever is lower (some peers already run at
    85 % of peak there); float64 squares 0.9x NumPy; the fused dense forward 1.2x NumPy's
    matmul + bias + relu.
    """
    best = max((r[lib] for lib in ("numpy", "torch") if lib in r), default=None)
    if r["group"] == "square" and r["m"] >= 1024 and best:
        return f"{r['fastnn'] / best:.2f}x best>=1.0", r["fastnn"] >= best, best
    if r["group"] == "mlp" and r["threads"] >= 2 and best:
        need = min(1.1 * best, 0.9 * peak) if peak else 1.1 * best
        return ">=1.1x best|90%pk", r["fastnn"] >= need, need
    if r["group"] in ("square64", "dense") and r.get("numpy"):
        goal = 0.9 if r["group"] == "square64" else 1.2
        ratio = r["fastnn"] / r["numpy"]
        return f"{ratio:.2f}x np>={goal}", ratio >= goal, goal * r["numpy"]
    return None


def share_of_ceiling(r, need, ceilings):
    """The GFLOP/s a target asks for as a share of the float micro-kernel's in-cache rate
    on the row's threads (None for float64 rows, or where the ceiling is unknown)."""
    ceiling = ceilings.get(str(r["threads"]))
    return need / ceiling if ceiling and r["dtype"] == "float32" else None


def print_table(data):
    libs = [lib for lib in ("fastnn", "numpy", "torch")
            if any(lib in r for r in data["results"])]
    head = f"{'case':<30} {'dtype':<8} {'thr':>3} " + " ".join(f"{lib:>8}" for lib in libs)
    print(head + f" {'vs best':>8} {'% peak':>7}  {'target':<18} met  ukr%")
    print("-" * len(head) + "-" * 48)
    met, missed_shares = [], []
    ceilings = data.get("kernel_ceiling", {})
    for r in data["results"]:
        peers = [r[lib] for lib in libs if lib != "fastnn" and lib in r]
        peak = data["peak"][str(r["threads"])][0 if r["dtype"] == "float32" else 1]
        vals = " ".join(f"{r.get(lib, float('nan')):8.1f}" for lib in libs)
        ratio = r["fastnn"] / max(peers) if peers else float("nan")
        pct = 100 * r["fastnn"] / peak if peak else float("nan")
        goal = target(r, peak)
        goal_text = ""
        if goal is not None:
            text, ok, need = goal
            met.append(ok)
            share = share_of_ceiling(r, need, ceilings)
            if not ok and share is not None:
                missed_shares.append(share)
            share_text = f"{100 * share:4.0f}%" if share is not None else ""
            goal_text = f"  {text:<18} {'yes' if ok else 'NO ':<4}{share_text}"
        print(f"{r['case']:<30} {r['dtype']:<8} {r['threads']:>3} {vals} {ratio:7.2f}x "
              f"{pct:6.1f}%{goal_text}")
    if met:
        print(f"targets met: {sum(met)} of {len(met)}")
    if missed_shares:
        low, high = (f"{100 * v:.0f}" for v in (min(missed_shares), max(missed_shares)))
        print(f"the float32 targets missed ask for {low if low == high else low + '-' + high} "
              "% of the micro-kernel's in-cache rate (ukr%)")


def plot(data, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for threads, style in (("1", "-"), ("2", "--")):
        rows = [r for r in data["results"] if r["group"] == "square" and str(r["threads"]) == threads]
        if not rows:
            continue
        sizes = [r["m"] for r in rows]
        for lib in ("fastnn", "numpy", "torch"):
            if lib in rows[0]:
                ax.plot(sizes, [r[lib] for r in rows], style, marker="o",
                        label=f"{lib}, {threads} thread(s)")
        peak = data["peak"][threads][0]
        if peak:
            ax.axhline(peak, color="gray", linestyle=style, linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (n x n x n, float32)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"sgemm on {data['machine']} (gray: FMA peak)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def machine_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cpus"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, smaller cases")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    results_dir = Path(__file__).resolve().parent / "results"
    ap.add_argument("--json", default=str(results_dir / "matmul.json"))
    ap.add_argument("--png", default=str(results_dir / "matmul.png"))
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.quick)))
        return
    data = {"machine": machine_name(),
            "python": platform.python_version(), "peak": {}, "kernel_ceiling": {},
            "results": []}
    try:
        import numpy
        data["numpy"] = numpy.__version__
    except ImportError:
        pass
    for threads in (int(t) for t in args.threads.split(",")):
        before = peak_gflops(threads)
        part = run_worker_process(threads, args.quick)
        data["peak"][str(threads)] = best_peak(before, peak_gflops(threads))
        tile = part["kernel_info"]["float32"]
        data["kernel_ceiling"][str(threads)] = kernel_ceiling(threads, part["isa"], tile["MR"],
                                                              tile["NR"])
        data["isa"], data["kernel_info"] = part["isa"], part["kernel_info"]
        data["results"] += part["results"]
    print(f"machine: {data['machine']}; ISA {data['isa']}; FMA peak (fp32, fp64) GFLOP/s by "
          f"threads: {data['peak']}; micro-kernel in cache (fp32): {data['kernel_ceiling']}; "
          "medians in GFLOP/s")
    print_table(data)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(data, indent=1))
    print(f"json: {args.json}")
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    plot(data, args.png)


if __name__ == "__main__":
    main()
