"""fastnn's training epochs on 1 and 2 threads, alternating in one process.

Run:
    python benchmarks/bench_scaling.py                  # T1 b128 and T2 b128
    python benchmarks/bench_scaling.py --tasks T1 --batch 32 --rounds 6

bench_train.py times each thread count in its own stretch of epochs. On a small shared
machine a stretch can fall into minutes in which two threads run no faster than one
(the hypervisor's doing), and then the 1 -> 2 thread scaling it reports says more about
the minute than about fastnn. Here the two thread counts take turns, `--epochs` epochs
each, `--rounds` times, so a slow minute hits both; the medians of the epochs after the
first of each turn are reported, with every 2-thread epoch so that a slow stretch shows.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from peers.fastnn_mlp import FastnnTrainer  # noqa: E402

import fastnn  # noqa: E402

SCALING_TARGET = 1.7   # 1 -> 2 threads, T1 batch 128 and T2 (issue targets)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="T1,T2", help="comma-separated task names")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2, help="epochs per turn (the first untimed)")
    p.add_argument("--rounds", type=int, default=4, help="turns of each thread count")
    return p.parse_args(argv)


def interleaved(task, batch, epochs, rounds):
    """{threads: [epoch seconds]} with 1 and 2 threads taking turns."""
    x, y = _common.synthetic_data(task, task.n_samples)
    trainers = {t: FastnnTrainer(task, x, y, batch) for t in (1, 2)}
    times = {1: [], 2: []}
    for _ in range(rounds):
        for t, trainer in trainers.items():
            with fastnn.threads(t):
                times[t] += trainer.epoch_times(epochs)[1:]
    return times


def main(argv=None):
    args = parse_args(argv)
    _common.print_header("fastnn training, 1 and 2 threads taking turns: seconds per epoch "
                         "(median)", _common.machine_info(), [1, 2],
                         f"{args.rounds} turns of {args.epochs} epochs each, the first untimed")
    print("task  batch  1 thread s  2 threads s  scaling  target  2-thread epochs")
    for name in args.tasks.split(","):
        times = interleaved(_common.TASKS[name], args.batch, args.epochs, args.rounds)
        one, two = _common.median(times[1]), _common.median(times[2])
        met = "met" if one / two >= SCALING_TARGET else "NO"
        print(f"{name:4}  {args.batch:5}  {one:10.3f}  {two:11.3f}  {one / two:6.2f}x  "
              f"{met:6}  {' '.join(f'{s:.3f}' for s in times[2])}", flush=True)


if __name__ == "__main__":
    main()
