"""Dask predict throughput: `model.predict` of a Dask array on a LocalCluster of worker
processes against in-process `predict` of the same rows.

Run:
    python benchmarks/bench_dask_predict.py                      # 10M rows, 2 workers x 1
    python benchmarks/bench_dask_predict.py --rows 2000000 --workers 4 --repeats 3

T1's network (784 -> Dense 128 relu -> Dense 10 softmax, float32, untrained weights),
`n_rows` rows of uniform float32 in blocks of `block_rows`. The rows are one block made
once, repeated: scattered to each worker once and named by the graph, so the figure is
predict's and Dask's, not a data source's. Timed, each after a warm-up (the workers'
imports, the model's first shipping, the compiled plans):
    in_process       model.predict(block) for every block, in this process, with
                     fastnn's threads (all cores by default)
    in_process_1_thread    the same on one thread (what each worker task runs on)
    dask_compute     model.predict(x).compute(): every block on the workers (each task
                     one thread: distributed sets OMP_NUM_THREADS=1 in workers), the
                     (n_rows, 10) result gathered into this process
    dask_persist     model.predict(x).persist(), waited for: the results stay on the
                     workers
Printed and returned: median seconds and rows/s of each (with the machine, cores and
threads), and the ratio of dask_compute's rows/s to in_process's.

Measured (10,000,000 rows, 2 workers x 1 thread, 1 run each, on a 2-vCPU AMD EPYC
virtual machine shared with other jobs, load average 1.5-3, so noisy):
    in_process 61.0 s (164,000 rows/s, 2 threads), in_process_1_thread 22.3 s (448,000),
    dask_compute 27.2 s (368,000; 2.24 x in_process), dask_persist 12.6 s (796,000: the
    two workers 1.78 x one thread). dask_compute's gap to dask_persist is the 400 MB of
    results sent to this process. In-process predict on 2 OpenMP threads is slower than
    on 1 here: with the other jobs on the 2 vCPUs, each parallel region waits for a
    thread that is not running; worker processes of one thread each do not wait.
    Under heavier load (average 6-8) the same run gave 41,000 / 380,000 / 96,000 /
    149,000 rows/s.
"""
import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastnn  # noqa: E402
from fastnn import layers, models  # noqa: E402

FEATURES, HIDDEN, CLASSES = 784, 128, 10


def t1_model():
    """T1's network, untrained (inference cost does not depend on the weights)."""
    fastnn.utils.set_random_seed(0)
    return models.Sequential([layers.Input((FEATURES,)), layers.Dense(HIDDEN, activation="relu"),
                              layers.Dense(CLASSES, activation="softmax")])


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _in_process(model, block, n_blocks, n_threads, repeats):
    """Median seconds of predicting `n_blocks` blocks in this process on `n_threads`."""
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(n_threads)
    try:
        model.predict(block, verbose=0)                          # plans, buffers
        return _median_time(lambda: [model.predict(block, verbose=0)
                                     for _ in range(n_blocks)], repeats)
    finally:
        fastnn.set_num_threads(before)


def dask_predict_throughput(n_rows=10_000_000, n_workers=2, threads_per_worker=1,
                            block_rows=50_000, repeats=1, verbose=True):
    """Rows per second of Dask predict on a LocalCluster against in-process predict.

    Args:
        n_rows: rows predicted per measurement (rounded up to whole blocks).
        n_workers, threads_per_worker: the LocalCluster's worker processes and threads.
        block_rows: rows per Dask block.
        repeats: timed runs of each way (the median is reported).
        verbose: print the figures.

    Returns:
        A dict: 'rows', 'block_rows', 'n_workers', 'threads_per_worker', 'machine',
        'cores', 'repeats', and per way ('in_process', 'in_process_1_thread',
        'dask_compute', 'dask_persist') {'seconds', 'rows_per_s', 'threads'}, and
        'dask_vs_in_process' (dask_compute's rows/s over in_process's).
    """
    import dask
    import dask.array as da
    import distributed
    n_blocks = -(-n_rows // block_rows)
    rows = n_blocks * block_rows
    block = numpy.random.default_rng(0).random((block_rows, FEATURES), dtype=numpy.float32)
    model = t1_model()
    cores = os.cpu_count()
    cluster_threads = n_workers * threads_per_worker
    result = {"rows": rows, "block_rows": block_rows, "n_workers": n_workers,
              "threads_per_worker": threads_per_worker, "cores": cores,
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "repeats": repeats}
    for way, threads in (("in_process", fastnn.get_num_threads()),
                         ("in_process_1_thread", 1)):
        seconds = _in_process(model, block, n_blocks, threads, repeats)
        result[way] = {"seconds": seconds, "rows_per_s": rows / seconds, "threads": threads}
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                  processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        # the block, on every worker once; the graph names it
        stored = dask.delayed(client.scatter(block, broadcast=True))
        x = da.concatenate([da.from_delayed(stored, block.shape, block.dtype)] * n_blocks)
        model.predict(x[:2 * block_rows * n_workers]).compute()   # imports, shipping, plans
        runs = {"dask_compute": lambda: model.predict(x).compute(),
                "dask_persist": lambda: distributed.wait(model.predict(x).persist())}
        for way, run in runs.items():
            seconds = _median_time(run, repeats)
            result[way] = {"seconds": seconds, "rows_per_s": rows / seconds,
                           "threads": cluster_threads}
    result["dask_vs_in_process"] = (result["dask_compute"]["rows_per_s"] /
                                    result["in_process"]["rows_per_s"])
    if verbose:
        _print(result)
    return result


def _print(result):
    print(f"T1 predict, {result['rows']:,} rows in blocks of {result['block_rows']:,}; "
          f"{result['machine']}, {result['cores']} cores; LocalCluster "
          f"{result['n_workers']} workers x {result['threads_per_worker']} thread; "
          f"median of {result['repeats']}")
    for way in ("in_process", "in_process_1_thread", "dask_compute", "dask_persist"):
        r = result[way]
        print(f"  {way:<22} {r['seconds']:8.2f} s  {r['rows_per_s']:12,.0f} rows/s  "
              f"({r['threads']} threads)")
    print(f"  dask_compute / in_process: {result['dask_vs_in_process']:.2f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--block-rows", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    result = dask_predict_throughput(args.rows, args.workers, args.threads_per_worker,
                                     args.block_rows, args.repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
