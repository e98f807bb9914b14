"""bfloat16 against float32, side by side in one run: predict rows/s, T1 epoch time and each
GEMM's rate as a share of its own instruction's peak.

Run:
    python benchmarks/bench_bf16.py                       # 1 and 2 threads, 7 rounds
    python benchmarks/bench_bf16.py --threads 2 --rounds 3 --json out.json

T1 (60,000 x 784 -> 128 relu -> dropout 0.2 -> 10 softmax, Adam, batch 128) on synthetic
data: one float32 model and one "mixed_bfloat16" model (predict: the float32 model and its
quantize("bfloat16") copy). The two are timed alternately, round after round; each
speedup is the median over rounds of the round's ratio (float32 time / bfloat16 time), so
that a slow minute of the shared machine weighs on both sides of a ratio, and every
round's ratio is printed: a run that crosses such a minute shows it.
GEMM rates: the T1 products at 1,024 rows (predict's chunk) against the FMA peak of
benchmarks/peak_fma.c (float32) and the vdpbf16ps peak of benchmarks/peak_bf16.c (bfloat16),
measured in the same run on one core times the threads.
"""
import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# targets of the issue, at each thread count on the reference machine (Zen 4, AVX512_BF16)
TARGETS = {"predict": 1.6, "train": 1.3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds (median taken)")
    p.add_argument("--samples", type=int, default=60_000, help="T1 rows")
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


def peaks():
    """{'float32': FMA GFLOP/s, 'bfloat16': vdpbf16ps GFLOP/s} of one core, from
    benchmarks/peak_bf16.c (which times both in one run), or {} without a compiler or
    AVX512_BF16."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_bf16")
        try:
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-mavx512f", "-mavx512bf16",
                            "-fopenmp", os.path.join(HERE, "peak_bf16.c"), "-o", exe],
                           check=True, capture_output=True)
            out = subprocess.run([exe, "1"], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError):
            return {}
    bf16, fma = map(float, out.stdout.split())
    return {"bfloat16": bf16, "float32": fma}


def t1_models(x, y):
    import fastnn
    from fastnn import layers, models
    made = {}
    for policy in ("float32", "mixed_bfloat16"):
        fastnn.utils.set_random_seed(0)
        model = models.Sequential([
            layers.Dense(128, activation="relu", input_shape=(784,), dtype=policy),
            layers.Dropout(0.2), layers.Dense(10, activation="softmax", dtype=policy)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:2048], y[:2048], batch_size=128, epochs=1, verbose=0)   # warm
        made[policy] = model
    quantized = copy.deepcopy(made["float32"])
    quantized.quantize("bfloat16")
    return made, quantized


def alternate(fns, rounds):
    """Seconds of each of `fns` ({name: fn}) in each of `rounds` rounds, called in turn:
    {name: [seconds of round 0, ...]}."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def gemm_rates(n_threads, rounds):
    """GFLOP/s of the T1 products at 1,024 rows, float32 and bfloat16, alternated."""
    from fastnn._kernels import compiled
    rng = numpy.random.default_rng(0)
    shapes = {"x.W 1024x784x128": (1024, 784, 128, 0, 0),
              "dZ.W^T 128x784x128": (128, 128, 784, 0, 1),
              "x^T.dZ 784x128x128": (784, 128, 128, 1, 0)}
    rates = {}
    for name, (m, k, n, ta, tb) in shapes.items():
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(numpy.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(numpy.float32)
        out = numpy.empty((m, n), numpy.float32)
        reps = max(1, int(1e9 / (m * n * k)))  # 10^9 multiply-adds a round: steadier medians

        def f32():
            for _ in range(reps):
                compiled.gemm(a, b, out, ta, tb, 1.0, 0.0, n_threads)

        def bf16():
            for _ in range(reps):
                compiled.bf16_matmul(a, b, ta, tb, n_threads)
        t = alternate({"float32": f32, "bfloat16": bf16}, rounds)
        rates[name] = {kind: 2.0 * m * n * k * reps / _common.median(s) / 1e9
                       for kind, s in t.items()}
    return rates


def main(argv=None):
    args = parse_args(argv)
    import fastnn
    from fastnn._kernels import compiled
    threads = [int(t) for t in args.threads.split(",")]
    info = _common.machine_info()
    _common.print_header("bfloat16 vs float32 (T1)", info, threads,
                         f"bfloat16 route: {fastnn._info.config_dict().get('bfloat16')}; "
                         f"medians over {args.rounds} alternating rounds (speedups: of "
                         f"the rounds' ratios)")
    peak = peaks()
    if peak:
        print(f"# one-core peaks: vdpbf16ps {peak['bfloat16']:.1f} GFLOP/s, FMA float32 "
              f"{peak['float32']:.1f} GFLOP/s (benchmarks/peak_bf16.c)")
    x, y = _common.synthetic_data(_common.TASKS["T1"], args.samples)
    models, quantized = t1_models(x, y)
    results = {"machine": info, "peak_per_core": peak, "native": compiled.bf16_native(),
               "threads": {}}
    for nt in threads:
        fastnn.set_num_threads(nt)
        with _common.thread_limit(nt):
            pred = alternate({"float32": lambda: models["float32"].predict(x, verbose=0),
                              "bfloat16": lambda: quantized.predict(x, verbose=0)},
                             args.rounds)
            train = alternate({p: (lambda m=m: m.fit(x, y, batch_size=128, epochs=1,
                                                     verbose=0))
                               for p, m in models.items()}, args.rounds)
            rates = gemm_rates(nt, args.rounds)
        pred_x, pred_rounds = _common.paired_ratios(pred["float32"], pred["bfloat16"])
        train_x, train_rounds = _common.paired_ratios(train["float32"],
                                                    train["mixed_bfloat16"])
        row = {"predict_rows_per_s": {k: len(x) / _common.median(s) for k, s in pred.items()},
               "predict_speedup": pred_x, "predict_speedup_rounds": pred_rounds,
               "epoch_s": {k: _common.median(s) for k, s in train.items()},
               "train_speedup": train_x, "train_speedup_rounds": train_rounds,
               "gemm_gflops": rates}
        results["threads"][nt] = row
        print(f"\n## {nt} thread(s)")
        print(f"predict rows/s: float32 {row['predict_rows_per_s']['float32']:,.0f}, bfloat16 "
              f"{row['predict_rows_per_s']['bfloat16']:,.0f}: {pred_x:.2f}x "
              f"(target >= {TARGETS['predict']}x; rounds "
              f"{' '.join(f'{r:.2f}' for r in pred_rounds)})")
        print(f"T1 epoch s: float32 {row['epoch_s']['float32']:.3f}, mixed_bfloat16 "
              f"{row['epoch_s']['mixed_bfloat16']:.3f}: {train_x:.2f}x "
              f"(target >= {TARGETS['train']}x; rounds "
              f"{' '.join(f'{r:.2f}' for r in train_rounds)})")
        for name, r in rates.items():
            share = ("" if not peak else
                     f" ({100 * r['float32'] / (peak['float32'] * nt):.0f} % of FMA peak, "
                     f"{100 * r['bfloat16'] / (peak['bfloat16'] * nt):.0f} % of vdpbf16ps peak)")
            print(f"GEMM {name}: float32 {r['float32']:.1f}, bfloat16 {r['bfloat16']:.1f} "
                  f"GFLOP/s{share}")
    if args.json:
        _common.write_json(args.json, results)


if __name__ == "__main__":
    main()
