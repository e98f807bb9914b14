"""Single-sample predict latency of fastnn against onnxruntime, the two taking turns.

Run:
    python benchmarks/bench_latency.py                  # 10,000 calls each, 1 thread
    python benchmarks/bench_latency.py --calls 50000 --block 1 --threads 2

T1's network (784 -> Dense 128 relu -> Dense 10 softmax, trained one epoch on synthetic
data), one sample per call: fastnn's `model.predict(x, verbose=0)` against onnxruntime's
`session.run` of the same weights (the graph written with onnx.helper, all graph
optimisations on), in float32 and in int8 (fastnn's `model.quantize("int8")` against
onnxruntime's `quantize_dynamic` of the float graph). The contenders take turns in blocks
of `--block` calls until each has made `--calls`, so a slow minute of a shared machine
falls on all of them alike. Reported: each one's median and 99th percentile, and fastnn's
median as a fraction of onnxruntime's (target: at most 0.5).
"""
import argparse
import os
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402

TARGET = 0.5   # fastnn's median latency as a fraction of onnxruntime's, at most


def contenders(threads):
    """{name: one-sample predict function} and the sample."""
    import bench_quantized
    from peers import onnx_mlp
    task = _common.TASKS["T1"]
    x, y = _common.synthetic_data(task, 6_000)
    model = bench_quantized.t1_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    weights = model.get_weights()
    quantized = bench_quantized.t1_model()
    quantized.set_weights(weights)
    quantized.quantize("int8")
    fns = {"fastnn float32": lambda s: model.predict(s, verbose=0),
           "onnxruntime float32": onnx_mlp.session(
               onnx_mlp.build_graph(weights, task).SerializeToString(), threads),
           "fastnn int8": lambda s: quantized.predict(s, verbose=0),
           "onnxruntime int8": onnx_mlp.int8_predictor(weights, task, threads)}
    return fns, numpy.ascontiguousarray(x[:1])


def taking_turns(fns, sample, calls, block):
    """Each function's `calls` call times (seconds), the functions taking turns in blocks
    of `block` calls, after a warm-up of as many calls each."""
    clock = time.perf_counter
    times = {name: numpy.empty(calls) for name in fns}
    for phase in ("warm-up", "timed"):
        for start in range(0, calls, block):
            for name, fn in fns.items():
                out = times[name]
                for i in range(start, min(start + block, calls)):
                    t0 = clock()
                    fn(sample)
                    out[i] = clock() - t0
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--block", type=int, default=50, help="calls per turn")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "latency.json"))
    args = p.parse_args(argv)
    import fastnn
    fastnn.set_num_threads(args.threads)
    info = _common.machine_info()
    _common.print_header("one-sample predict latency, taking turns", info, [args.threads],
                         f"{args.calls:,} calls each, turns of {args.block}")
    with _common.thread_limit(args.threads):
        fns, sample = contenders(args.threads)
        times = taking_turns(fns, sample, args.calls, args.block)
    rows = [{"what": name, "median_us": float(numpy.median(t)) * 1e6,
             "p99_us": float(numpy.percentile(t, 99)) * 1e6} for name, t in times.items()]
    medians = {r["what"]: r["median_us"] for r in rows}
    for r in rows:
        peer = r["what"].replace("fastnn", "onnxruntime")
        if r["what"].startswith("fastnn") and peer in medians:
            r["vs onnxruntime"] = r["median_us"] / medians[peer]
            r["target"] = f"<={TARGET}"
            r["met"] = "yes" if r["vs onnxruntime"] <= TARGET else "NO"
    _common.print_table(rows, [(k, k) for k in ("what", "median_us", "p99_us",
                                                 "vs onnxruntime", "target", "met")])
    _common.write_json(args.json, {"machine": info, "threads": args.threads,
                                   "calls": args.calls, "block": args.block, "rows": rows})


if __name__ == "__main__":
    main()
