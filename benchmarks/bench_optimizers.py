"""Epoch time of T1 with the optimizers and options that run on the compiled training
step since every optimizer, clipping and regularizer has a ParamGroup rule.

Run:
    python benchmarks/bench_optimizers.py                        # this checkout
    python benchmarks/bench_optimizers.py --before /tmp/beforeD  # and another checkout
    python benchmarks/bench_optimizers.py --repeats 7 --threads 1 --json out.json

T1: a Sequential 784 -> 128 relu -> 10 softmax on 60,000 synthetic float32 samples
(sparse categorical cross-entropy), batch 128, `--threads` threads (default 1), with
    sgd_momentum   SGD(0.01, momentum=0.9)
    nadam          Nadam()
    adam_clipnorm  Adam(clipnorm=1.0)
    adam_l2        Adam() with kernel_regularizer=L2(1e-4) on both Dense layers
Prints the machine, the thread count, and for each case the median seconds per epoch
over `--repeats` epochs after one warm-up epoch, and how the model trains (its
executor's description, where the checkout has one). With `--before DIR`, the same
measurement runs in a subprocess on the fastnn of DIR (e.g. a `git worktree` of an older
commit, built in place) and each case's before/after ratio is printed too.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy

CASES = ("sgd_momentum", "nadam", "adam_clipnorm", "adam_l2")


def _model(fastnn, case):
    from fastnn import layers, models, optimizers, regularizers
    reg = regularizers.L2(1e-4) if case == "adam_l2" else None
    opt = {"sgd_momentum": lambda: optimizers.SGD(0.01, momentum=0.9),
           "nadam": lambda: optimizers.Nadam(),
           "adam_clipnorm": lambda: optimizers.Adam(clipnorm=1.0),
           "adam_l2": lambda: optimizers.Adam()}[case]()
    model = models.Sequential([
        layers.Dense(128, "relu", input_shape=(784,), kernel_regularizer=reg),
        layers.Dense(10, "softmax", kernel_regularizer=reg)])
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    return model


def measure(cases, repeats, n_threads, n_samples):
    """{case: (median seconds per epoch, description)} on the fastnn imported here."""
    import fastnn
    fastnn.set_num_threads(n_threads)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((n_samples, 784)).astype(numpy.float32)
    y = rng.integers(0, 10, n_samples)
    out = {}
    for case in cases:
        fastnn.utils.set_random_seed(1)
        model = _model(fastnn, case)
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)     # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=1, verbose=0)
            times.append(time.perf_counter() - start)
        executor = getattr(model, "executor", None)
        out[case] = (statistics.median(times), getattr(executor, "description", "n/a"))
    return out


def machine():
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} logical CPUs"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--repeats", type=int, default=5, help="timed epochs (median taken)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=60_000)
    p.add_argument("--before", default=None, help="a checkout whose fastnn to time too")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    before = None
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "before.json")
            env = dict(os.environ, PYTHONPATH=os.path.abspath(args.before))
            subprocess.run([sys.executable, os.path.abspath(__file__), "--cases",
                            ",".join(cases), "--repeats", str(args.repeats), "--threads",
                            str(args.threads), "--samples", str(args.samples), "--json",
                            path], env=env, check=True, stdout=subprocess.DEVNULL)
            with open(path) as f:
                before = json.load(f)["results"]
    results = measure(cases, args.repeats, args.threads, args.samples)
    import fastnn
    print(f"machine: {machine()}; threads: {args.threads}; T1 {args.samples} x 784 -> 128 "
          f"-> 10, batch 128; median of {args.repeats} epochs")
    print(f"fastnn: {os.path.dirname(fastnn.__file__)}")
    for case, (seconds, how) in results.items():
        line = f"  {case:14s} {seconds:7.3f} s/epoch   ({how})"
        if before is not None:
            b = before[case][0]
            line = (f"  {case:14s} before {b:7.3f}  after {seconds:7.3f} s/epoch  "
                    f"x{b / seconds:5.2f}   ({how})")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "threads": args.threads,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
