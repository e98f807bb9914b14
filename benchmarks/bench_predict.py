"""Inference speed of fastnn's T1 model against NumPy, PyTorch, Keras, scikit-learn and
onnxruntime, all holding the same trained weights.

Run:
    python benchmarks/bench_predict.py                  # 1 and 2 threads
    python benchmarks/bench_predict.py --quick          # a smoke run
    python benchmarks/bench_predict.py --threads 2 --calls 50000 --json out.json

T1 is 784 -> Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax), trained one epoch by
fastnn on synthetic data; each peer gets its weights (onnxruntime through an ONNX graph
written with onnx.helper). Reported: one-sample latency (median and 99th percentile over
`--calls` calls) and the throughput of batches of 1,024 and 60,000 samples (median of
`--repeats` calls). Every peer's output is checked against fastnn's. fastnn also runs
its int8 and bfloat16 copies of the model (`quantize`), onnxruntime its dynamically
quantized int8 graph; the targets compare them. For the latency ratios the two libraries
taking turns call by call, see bench_latency.py.
"""
import argparse
import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

ONE_SAMPLE_TARGET_US = 6.0   # median, 2 threads; and p99 <= 2x the median
THROUGHPUT_TARGET = 1.5      # fastnn / onnxruntime at 60,000 samples, same threads
# int8 and bfloat16 (at 60,000 samples, any thread count): (faster, slower, at least)
QUANTIZED_TARGETS = (("fastnn int8", "fastnn", 2.5), ("fastnn int8", "onnxruntime int8", 1.5),
                     ("fastnn bfloat16", "fastnn", 1.6))
# one-sample median latency, 1 thread: (fastnn's, onnxruntime's, at most this fraction)
LATENCY_TARGETS = (("fastnn", "onnxruntime", 0.5), ("fastnn int8", "onnxruntime int8", 0.5))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--calls", type=int, default=20_000, help="one-sample calls timed")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per batch size")
    p.add_argument("--quick", action="store_true", help="fewer calls, 6,000-sample batch")
    p.add_argument("--peers", default="", help="only these peers (comma-separated)")
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "predict.json"))
    p.add_argument("--plot", default=None, help="PNG path for a chart (needs matplotlib)")
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.repeats = min(args.calls, 2_000), min(args.repeats, 3)
    args.threads = [int(t) for t in args.threads.split(",")]
    args.peers = {s.strip() for s in args.peers.split(",") if s.strip()}
    return args


def trained_weights(task, x, y):
    from peers import fastnn_mlp
    trainer = fastnn_mlp.FastnnTrainer(task, x, y, 128)
    trainer.epoch_times(1)
    return [numpy.ascontiguousarray(w, numpy.float32) for w in trainer.model.get_weights()]


def measure(fn, inputs, reference, args):
    """One-sample latency and batch throughput of `fn`, and its largest deviation."""
    one, small, big = inputs
    diff = float(numpy.max(numpy.abs(numpy.asarray(fn(small)) - reference)))
    med, p99 = _common.latency(lambda: fn(one), args.calls)
    row = {"one_us": med * 1e6, "p99_us": p99 * 1e6, "max_diff": diff}
    for key, x in (("sps_1024", small), ("sps_big", big)):
        row[key] = len(x) / _common.median(_common.time_calls(lambda: fn(x), args.repeats))
    return row


def run(args, task, weights, inputs):
    rows, skipped = [], {}
    reference = None
    for n_threads in args.threads:
        for module, reason in _common.load_peers("predict"):
            if args.peers and module.NAME not in args.peers | {"fastnn"}:
                continue
            if reason:
                skipped[module.NAME] = reason
                continue
            with _common.thread_limit(n_threads):
                try:
                    with module.threads(n_threads):
                        for label, fn in module.make_predictors(weights, task,
                                                                n_threads).items():
                            if reference is None:  # fastnn comes first
                                reference = numpy.asarray(fn(inputs[1]))
                            _common.pause()
                            row = measure(fn, inputs, reference, args)
                            rows.append({"threads": n_threads, "peer": label, **row})
                            print(f"  {n_threads}t {label:<12} {row['one_us']:.1f} us",
                                  flush=True)
                except Exception as exc:  # a peer failing must not stop the others
                    rows.append({"threads": n_threads, "peer": module.NAME,
                                 "note": f"failed: {type(exc).__name__}: {str(exc)[:80]}"})
    return rows, skipped


def check_targets(rows, args):
    out = []
    for n_threads in args.threads:
        mine = next((r for r in rows if r["peer"] == "fastnn" and r["threads"] == n_threads
                     and "one_us" in r), None)
        if mine is None:
            continue
        if n_threads == 2:
            ok = (mine["one_us"] <= ONE_SAMPLE_TARGET_US
                  and mine["p99_us"] <= 2 * mine["one_us"])
            out.append({"threads": n_threads, "what": "one sample",
                        "value": f"{mine['one_us']:.2f} us, p99 {mine['p99_us']:.2f} us",
                        "target": f"<={ONE_SAMPLE_TARGET_US} us, p99 <=2x median",
                        "met": "yes" if ok else "NO"})
        by_peer = {r["peer"]: r for r in rows if r["threads"] == n_threads and "sps_big" in r}
        checks = [("fastnn", "onnxruntime", THROUGHPUT_TARGET)] + list(QUANTIZED_TARGETS)
        for fast, slow, least in checks:
            if fast in by_peer and slow in by_peer:
                ratio = by_peer[fast]["sps_big"] / by_peer[slow]["sps_big"]
                out.append({"threads": n_threads, "what": f"{args.big:,} samples: {fast} "
                            f"vs {slow}", "value": f"{ratio:.2f}x", "target": f">={least}x",
                            "met": "yes" if ratio >= least else "NO"})
        for mine_label, peer, most in LATENCY_TARGETS if n_threads == 1 else ():
            if mine_label in by_peer and peer in by_peer:
                ratio = by_peer[mine_label]["one_us"] / by_peer[peer]["one_us"]
                out.append({"threads": n_threads, "what": f"1 sample: {mine_label} latency / "
                            f"{peer}'s", "value": f"{ratio:.2f}", "target": f"<={most}",
                            "met": "yes" if ratio <= most else "NO"})
    return out


def main(argv=None):
    args = parse_args(argv)
    task = _common.TASKS["T1"]
    args.big = 6_000 if args.quick else task.n_samples
    x, y = _common.synthetic_data(task, args.big)
    info = _common.machine_info()
    _common.print_header("inference: T1 model, latency and throughput (medians)", info,
                         args.threads, f"one sample: median and p99 of {args.calls:,} "
                         f"calls; batches: median of {args.repeats} calls")
    weights = trained_weights(task, x, y)
    inputs = (numpy.ascontiguousarray(x[:1]), numpy.ascontiguousarray(x[:1024]), x)
    rows, skipped = run(args, task, weights, inputs)
    for name, reason in skipped.items():
        print(f"# skipped {name}: {reason}")
    print()
    _common.print_table(rows, [("threads", "thr"), ("peer", "peer"),
                               ("one_us", "1 sample us"), ("p99_us", "p99 us"),
                               ("sps_1024", "1,024: samples/s"),
                               ("sps_big", f"{args.big:,}: samples/s"),
                               ("max_diff", "max |diff|"), ("note", "note")])
    targets = check_targets(rows, args)
    if targets:
        print("\n# targets")
        _common.print_table(targets, [("threads", "thr"), ("what", "what"),
                                      ("value", "fastnn"), ("target", "target"),
                                      ("met", "met")])
    if args.plot:
        groups = {}
        for r in rows:
            if "sps_big" in r:
                groups.setdefault(f"{args.big:,} samples, {r['threads']}t", {})[
                    r["peer"]] = r["sps_big"]
                groups.setdefault(f"1 sample, {r['threads']}t", {})[r["peer"]] = (
                    1e6 / r["one_us"])
        _common.plot_bars(args.plot, groups, f"inference throughput (samples/s), "
                          f"{info['cpu']}", "samples per second")
    payload = {"machine": info, "quick": args.quick, "calls": args.calls,
               "repeats": args.repeats, "big_batch": args.big, "rows": rows,
               "targets": targets, "skipped": skipped}
    _common.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
