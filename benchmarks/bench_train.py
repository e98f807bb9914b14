"""Training speed of fastnn against hand-written NumPy, PyTorch, Keras and scikit-learn.

Run:
    python benchmarks/bench_train.py                    # T1-T4 at 1 and 2 threads
    python benchmarks/bench_train.py --quick            # a smoke run: 1/10 of the data
    python benchmarks/bench_train.py --accuracy         # also: accuracy on the digits
    python benchmarks/bench_train.py --tasks T1 --threads 2 --repeats 7 --json out.json

Each peer trains the same MLP on the same synthetic float32 data (60,000 x 784; T4:
768 x 8) with the same batch size and thread count; a peer that is not installed is
skipped with its reason. Reported: the median seconds per epoch over `--repeats` epochs
after one warm-up epoch, the speed-up of fastnn over the fastest peer, and fastnn's
distance from the floor, the epoch's FLOPs at the machine's fp32 peak; and fastnn's
mixed_bfloat16 training (tasks timed by the epoch) against its float32, the two taking
turns round by round (each round a two-epoch fit of each, the second epoch timed) and
the speed-up the median of the rounds' ratios.
"""
import argparse
import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# (task, batch) -> (seconds per epoch, or seconds per step for T4; speed-up over the
# fastest peer), at 2 threads on the reference machine
TARGETS = {("T1", 32): (0.35, 2.5), ("T1", 128): (0.19, 2.0), ("T2", 128): (0.67, 1.5),
           ("T3", 32): (0.27, 2.5), ("T4", 32): (20e-6, 3.0)}
SCALING_TARGETS = {("T1", 128): 1.7, ("T2", 128): 1.7}  # fastnn 1 -> 2 threads
# (task, batch) -> the least float32 / mixed_bfloat16 epoch time, at any thread count,
# on a CPU with AVX512_BF16
MIXED_TARGETS = {("T1", 128): 1.3}
QUICK_SAMPLES = 6_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="T1,T2,T3,T4", help="comma-separated task names")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs (median taken)")
    p.add_argument("--quick", action="store_true", help="6,000 samples, 2 timed epochs")
    p.add_argument("--peers", default="", help="only these peers (comma-separated)")
    p.add_argument("--accuracy", action="store_true", help="also compare digit accuracy")
    p.add_argument("--no-speed", action="store_true", help="skip the speed section")
    p.add_argument("--epochs", type=int, default=10, help="epochs of the accuracy run")
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "train.json"))
    p.add_argument("--plot", default=None, help="PNG path for a chart (needs matplotlib)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.epochs = min(args.repeats, 2), min(args.epochs, 3)
    args.tasks = [t.strip().upper() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in args.tasks if t not in _common.TASKS]
    if unknown:
        p.error(f"unknown task(s) {unknown}; valid: {sorted(_common.TASKS)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.peers = {s.strip() for s in args.peers.split(",") if s.strip()}
    return args


def select_peers(args):
    peers, skipped = [], {}
    for module, reason in _common.load_peers("train"):
        if args.peers and module.NAME not in args.peers and module.NAME != "fastnn":
            continue
        if reason:
            skipped[module.NAME] = reason
        else:
            peers.append(module)
    return peers, skipped


def time_peer(module, task, data, batch, n_threads, args):
    """Rows (one per variant of the peer) with the median epoch time."""
    rows = []
    with _common.thread_limit(n_threads):
        try:
            trainers = module.make_trainers(task, *data, batch)
            if len(trainers) > 1:
                timed = _alternating(trainers, module, n_threads, args.repeats)
            else:
                timed = {}
                for label, trainer in trainers.items():
                    _common.pause()
                    with module.threads(n_threads):
                        timed[label] = trainer.epoch_times(1 + args.repeats)[1:]
            for label, times in timed.items():
                rows.append(_row(task, batch, n_threads, label, times, len(data[0]),
                                 trainers[label].note))
        except Exception as exc:  # a peer failing must not stop the others
            rows.append({"task": task.name, "batch": batch, "threads": n_threads,
                         "peer": module.NAME, "note": f"failed: {type(exc).__name__}: "
                                                      f"{str(exc)[:80]}"})
    return rows


def _alternating(trainers, module, n_threads, repeats):
    """{label: epoch seconds per round}: a peer's variants (fastnn float32 and
    mixed_bfloat16) taking turns, each round a fit of two epochs of each, timing the
    second (the first settles the fit's thread choice), so that a slow minute of a shared
    machine falls on both sides of a round's ratio."""
    timed = {label: [] for label in trainers}
    for _ in range(repeats):
        for label, trainer in trainers.items():
            _common.pause()
            with module.threads(n_threads):
                timed[label].append(trainer.epoch_times(2)[1])
    return timed


def _row(task, batch, n_threads, label, times, n_samples, note):
    sec = _common.median(times)
    steps = -(-n_samples // batch)
    return {"task": task.name, "batch": batch, "threads": n_threads, "peer": label,
            "sec_epoch": sec, "us_step": 1e6 * sec / steps,
            "gflops": task.flops_per_epoch(n_samples) / sec / 1e9, "note": note,
            "n_samples": n_samples, "times": times}


def run_speed(args, peers):
    rows = []
    for name in args.tasks:
        task = _common.TASKS[name]
        n = min(task.n_samples, QUICK_SAMPLES) if args.quick else task.n_samples
        data = _common.synthetic_data(task, n)
        for batch in task.batch_sizes:
            for n_threads in args.threads:
                for module in peers:
                    new = time_peer(module, task, data, batch, n_threads, args)
                    rows += new
                    for r in new:
                        print(f"  {name} b{batch} {n_threads}t {r['peer']:<14} "
                              + (f"{r['sec_epoch']:.4f} s/epoch" if "sec_epoch" in r
                                 else r["note"]), flush=True)
    return rows


def summarize(rows, args):
    """Per (task, batch, threads): fastnn, the fastest peer, the floor and the target."""
    out = []
    keys = sorted({(r["task"], r["batch"], r["threads"]) for r in rows})
    for key in keys:
        group = [r for r in rows if (r["task"], r["batch"], r["threads"]) == key
                 and "sec_epoch" in r]
        mine = next((r for r in group if r["peer"] == "fastnn"), None)
        others = [r for r in group if not r["peer"].startswith("fastnn")]  # not its variants
        if mine is None:
            continue
        task = _common.TASKS[key[0]]
        peak, _ = _common.peak_gflops(key[2])
        floor = task.flops_per_epoch(mine["n_samples"]) / (peak * 1e9)
        s = {"task": key[0], "batch": key[1], "threads": key[2],
             "fastnn_s": mine["sec_epoch"], "us_step": mine["us_step"],
             "floor_s": floor, "x_floor": mine["sec_epoch"] / floor}
        if others:
            best = min(others, key=lambda r: r["sec_epoch"])
            s.update(best_peer=best["peer"], peer_s=best["sec_epoch"],
                     speedup=best["sec_epoch"] / mine["sec_epoch"])
        s.update(_target(task, key, mine, s))
        out.append(s)
    return out


def _target(task, key, mine, summary):
    target = TARGETS.get(key[:2])
    if target is None or key[2] != 2:
        return {}
    limit, speedup = target
    if task.per_step:
        value, text = mine["us_step"] * 1e-6, f"<={limit * 1e6:.0f}us/step"
    else:  # scaled to the epoch's size when fewer samples were used
        limit *= mine["n_samples"] / task.n_samples
        value, text = mine["sec_epoch"], f"<={limit:.3g}s"
    met = value <= limit and summary.get("speedup", speedup) >= speedup
    return {"target": f"{text}, >={speedup}x", "met": "yes" if met else "NO"}


def mixed(rows):
    """Per (task, batch, threads): fastnn's float32 epoch time over its mixed_bfloat16
    one (the peer fastnn_mlp.MIXED), the median of the rounds' ratios."""
    out = []
    for r in rows:
        if r["peer"] != "fastnn mixed_bfloat16" or "sec_epoch" not in r:
            continue
        base = next((f for f in rows if f["peer"] == "fastnn" and "sec_epoch" in f and
                     (f["task"], f["batch"], f["threads"]) == (r["task"], r["batch"],
                                                              r["threads"])), None)
        if base is None:
            continue
        # the median of the rounds' ratios (the two took turns: _alternating)
        ratio, _ = _common.paired_ratios(base["times"], r["times"])
        target = MIXED_TARGETS.get((r["task"], r["batch"]))
        out.append({"task": r["task"], "batch": r["batch"], "threads": r["threads"],
                    "f32_s": base["sec_epoch"], "mixed_s": r["sec_epoch"], "speedup": ratio,
                    "target": f">={target}x" if target else "",
                    "met": "" if not target else "yes" if ratio >= target else "NO"})
    return out


def scaling(summary):
    out = []
    for (task, batch), target in SCALING_TARGETS.items():
        by_threads = {s["threads"]: s["fastnn_s"] for s in summary
                      if (s["task"], s["batch"]) == (task, batch)}
        if 1 in by_threads and 2 in by_threads:
            ratio = by_threads[1] / by_threads[2]
            out.append({"task": task, "batch": batch, "t1_s": by_threads[1],
                        "t2_s": by_threads[2], "scaling": ratio, "target": f">={target}x",
                        "met": "yes" if ratio >= target else "NO"})
    return out


def run_accuracy(args, peers):
    """Test accuracy on the bundled digits (28x28) after `--epochs` epochs, T1-T3."""
    import fastnn
    (x_tr, y_tr), (x_te, y_te) = fastnn.datasets.load_digits(size=28)
    x_tr = (x_tr.reshape(len(x_tr), -1) / 255.0).astype(numpy.float32)
    x_te = (x_te.reshape(len(x_te), -1) / 255.0).astype(numpy.float32)
    y_tr, n_threads, rows = y_tr.astype(numpy.int64), max(args.threads), []
    for name in [t for t in args.tasks if not _common.TASKS[t].binary]:
        task, batch = _common.TASKS[name], _common.TASKS[name].batch_sizes[0]
        for module in peers:
            try:
                rows += _accuracy(module, task, batch, n_threads, args.epochs,
                                  (x_tr, y_tr, x_te, y_te))
            except Exception as exc:  # a peer failing must not stop the others
                rows.append({"task": name, "batch": batch, "peer": module.NAME,
                             "note": f"failed: {type(exc).__name__}: {str(exc)[:80]}"})
    return rows


def _accuracy(module, task, batch, n_threads, epochs, data):
    x_tr, y_tr, x_te, y_te = data
    rows = []
    with _common.thread_limit(n_threads):
        for label, trainer in module.make_trainers(task, x_tr, y_tr, batch).items():
            with module.threads(n_threads):
                trainer.epoch_times(epochs)
                acc = float(numpy.mean(trainer.predict(x_te).argmax(1) == y_te))
            rows.append({"task": task.name, "batch": batch, "epochs": epochs,
                         "peer": label, "accuracy": acc, "note": trainer.note})
    return rows


def main(argv=None):
    args = parse_args(argv)
    info = _common.machine_info()
    peers, skipped = select_peers(args)
    peaks = {n: _common.peak_gflops(n) for n in args.threads}
    peak_text = ", ".join(f"{n} threads {p:.0f}" for n, (p, _) in peaks.items())
    _common.print_header("training: seconds per epoch (median)", info, args.threads,
                         f"floor = FLOPs / fp32 peak; peak GFLOP/s: {peak_text} "
                         f"({peaks[args.threads[0]][1]})" + (
                             f"; --quick: {QUICK_SAMPLES:,} samples, targets scaled"
                             if args.quick else ""))
    for name, reason in skipped.items():
        print(f"# skipped {name}: {reason}")
    payload = {"machine": info, "peak_gflops": {n: p for n, (p, _) in peaks.items()},
               "peak_source": peaks[args.threads[0]][1],
               "quick": args.quick, "repeats": args.repeats, "skipped": skipped}
    if not args.no_speed:
        rows = run_speed(args, peers)
        print()
        _common.print_table(rows, [("task", "task"), ("batch", "batch"),
                                   ("threads", "thr"), ("peer", "peer"),
                                   ("sec_epoch", "s/epoch"), ("us_step", "us/step"),
                                   ("gflops", "GFLOP/s"), ("note", "note")])
        summary = summarize(rows, args)
        print("\n# fastnn against the fastest peer and the floor")
        _common.print_table(summary, [
            ("task", "task"), ("batch", "batch"), ("threads", "thr"),
            ("fastnn_s", "fastnn s"), ("us_step", "us/step"), ("best_peer", "fastest peer"),
            ("peer_s", "peer s"), ("speedup", "speed-up"), ("floor_s", "floor s"),
            ("x_floor", "x floor"), ("target", "target (2 threads)"), ("met", "met")])
        scale = scaling(summary)
        if scale:
            print("\n# fastnn scaling from 1 to 2 threads")
            _common.print_table(scale, [("task", "task"), ("batch", "batch"),
                                        ("t1_s", "1 thread s"), ("t2_s", "2 threads s"),
                                        ("scaling", "scaling"), ("target", "target"),
                                        ("met", "met")])
        mix = mixed(rows)
        if mix:
            print("\n# fastnn mixed_bfloat16 against fastnn float32")
            _common.print_table(mix, [("task", "task"), ("batch", "batch"),
                                      ("threads", "thr"), ("f32_s", "float32 s"),
                                      ("mixed_s", "mixed_bfloat16 s"),
                                      ("speedup", "speed-up"), ("target", "target"),
                                      ("met", "met")])
        payload.update(rows=rows, summary=summary, scaling=scale, mixed=mix)
        if args.plot:
            groups = {}
            for r in rows:
                if "sec_epoch" in r:
                    key = f"{r['task']} b{r['batch']} {r['threads']}t"
                    groups.setdefault(key, {})[r["peer"]] = r["sec_epoch"]
            _common.plot_bars(args.plot, groups, f"seconds per epoch (median), "
                              f"{info['cpu']}", "seconds per epoch")
    if args.accuracy:
        acc = run_accuracy(args, peers)
        print(f"\n# test accuracy on the digits (28x28, 1,438 train / 359 test), "
              f"{args.epochs} epochs, {max(args.threads)} threads")
        _common.print_table(acc, [("task", "task"), ("batch", "batch"), ("peer", "peer"),
                                  ("accuracy", "accuracy"), ("note", "note")])
        payload["accuracy"] = acc
    _common.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
