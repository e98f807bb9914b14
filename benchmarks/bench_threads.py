"""When do two threads pay? Times fastnn's kernels at 1 and 2 threads across sizes.

Run:
    python benchmarks/bench_threads.py            # table, and JSON in benchmarks/results/

The thresholds in the code come from this table: PARALLEL_MIN_ELEMENTS in
fastnn/backend/cpu.py and fastnn/_kernels/step.pxi (element-wise kernels and the
optimizer update go parallel from the size where 2 threads first beat 1), and
FNN_GEMM_PAR_MIN_WORK in src_c/gemm_driver.h (the GEMM, in multiply-adds m*n*k).
Reported: the median time per call in microseconds, and the 1 -> 2 thread speed-up.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _codes  # noqa: E402
from fastnn._kernels import compiled as _k  # noqa: E402

ELEMENTS = [4096, 8192, 16384, 32768, 65536, 262144, 1048576]
GEMM_SHAPES = [(32, 64, 64), (32, 128, 64), (64, 64, 64), (48, 96, 96), (64, 128, 64),
               (32, 784, 128), (128, 784, 128), (256, 512, 512)]


def median_us(fn, repeats):
    return _common.median(_common.time_calls(fn, repeats, warmup=10)) * 1e6


def elementwise_cases(n, rng):
    rows = n // 128
    x = rng.standard_normal((rows, 128)).astype(np.float32)
    g = rng.standard_normal((rows, 128)).astype(np.float32)
    out = np.empty_like(x)
    mask = np.empty(x.shape, np.uint8)
    p, m, v = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    v = np.abs(v)
    group = _k.ParamGroup([p], [g.reshape(-1)], [m], [v])
    return {
        "relu backward": lambda nt: _k.activation_backward(1, 0.0, g, x, out, nt),
        "tanh forward": lambda nt: _k.activation_forward(x, 9, 0.0, out, nt),
        "dropout forward": lambda nt: _k.dropout_forward(x, 0.2, 1, 0, 0, out, mask, nt),
        "adam update": lambda nt: group.update(_codes.GROUP_CODES["GROUP_ADAM"], 1e-3, 0.9, 0.999, 1e-7, 0.0, nt),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "threads.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'kernel':18s} {'size':>10s} {'1 thr us':>10s} {'2 thr us':>10s} {'speed-up':>9s}")
    for n in ELEMENTS:
        for name, fn in elementwise_cases(n, rng).items():
            t1, t2 = (median_us(lambda: fn(nt), args.repeats) for nt in (1, 2))
            rows.append({"kernel": name, "size": n, "t1_us": t1, "t2_us": t2})
            print(f"{name:18s} {n:10d} {t1:10.1f} {t2:10.1f} {t1 / t2:8.2f}x")
    for m, k, n in GEMM_SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        t1, t2 = (median_us(lambda: _k.gemm(a, b, c, False, False, 1.0, 0.0, nt),
                            args.repeats) for nt in (1, 2))
        label = f"{m}x{k}x{n}"
        rows.append({"kernel": "sgemm", "size": label, "work": m * n * k, "t1_us": t1,
                     "t2_us": t2})
        print(f"{'sgemm':18s} {label:>10s} {t1:10.1f} {t2:10.1f} {t1 / t2:8.2f}x")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump({"machine": _common.machine_info(), "fastnn": fastnn.__version__,
                   "rows": rows}, fh, indent=1)
    print(f"json: {args.json}")


if __name__ == "__main__":
    main()
