"""Data-parallel fit over MPI against one process, and Dask predict against in-process.

Run:
    python benchmarks/bench_distributed.py                  # T1, batches 256 and 1,024
    python benchmarks/bench_distributed.py --repeats 5 --rounds 3 --no-dask

T1 (60,000 x 784 -> Dense 128 relu -> Dense 10 softmax, Adam, float32, synthetic data)
trained side by side, the configurations taking turns `--rounds` times:
    1 proc x 1 thread     fit in one process, one thread
    1 proc x 2 threads    fit in one process, two threads
    2 procs x 1 thread    `mpirun -n 2`, fastnn.distributed.mpi, one thread each
Each run times `--repeats` epochs after a warm-up epoch (median). For the MPI runs,
"collective" is rank 0's time waiting in the allgathers per epoch (the exchange itself
and any wait for the other process), and "efficiency" the 1-thread epoch over twice the
2-process epoch. Then, with `--hosts`, what that exchange would cost on many hosts,
by calculation from the measured compute and the bytes each step moves.

With Dask installed: predict throughput of 10 million rows on a LocalCluster of 2
worker processes against in-process predict (benchmarks/bench_dask_predict.py).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402

N_SAMPLES, N_IN, N_HIDDEN, N_OUT = 60_000, 784, 128, 10
COLLECTIVES = 5   # allgathers per training step of T1 (fastnn/backend/sharded.py)


def worker(batch, repeats, threads, distributed):
    """Train T1 in this process (one rank of an MPI run when `distributed`); print a
    JSON line of the median epoch seconds and collective seconds per epoch (rank 0)."""
    import fastnn
    from fastnn import layers
    fastnn.set_num_threads(threads)
    dist = None
    if distributed:
        from fastnn.distributed import mpi
        dist = mpi.init()
    x, y = _common.synthetic_data(_common.TASKS["T1"], N_SAMPLES)
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([fastnn.Input((N_IN,)), layers.Dense(N_HIDDEN, activation="relu"),
                               layers.Dense(N_OUT, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)      # warm-up
    epochs, collective = [], []
    for _ in range(repeats):
        before = dist.collective_seconds if dist else 0.0
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        epochs.append(time.perf_counter() - start)
        collective.append((dist.collective_seconds if dist else 0.0) - before)
    if dist is None or dist.is_chief:
        print(json.dumps({"epoch": float(numpy.median(epochs)),
                          "collective": float(numpy.median(collective))}), flush=True)


def run_config(batch, repeats, processes, threads):
    """One configuration in fresh processes; returns the worker's JSON result."""
    args = [sys.executable, os.path.abspath(__file__), "--worker", str(batch), str(repeats),
            str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if processes > 1:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        args = [shutil.which("mpirun"), "-n", str(processes), "--bind-to", "core"] + \
            args + ["--mpi"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_bytes(batch):
    """Bytes each process receives per training step of T1 (float32): the gathered
    logits, hidden outputs and their gradients (batch rows each), and the gradient rows
    of both weight matrices."""
    rows = batch * (N_OUT + 2 * N_HIDDEN)
    weights = N_IN * N_HIDDEN + N_HIDDEN * N_OUT
    return 4 * (rows + weights)


def hosts_table(batch, one_thread_epoch, hosts, bandwidth, latency):
    """Projected epoch seconds on each host count: the compute of one thread shared,
    plus the allgathers (ring: (h - 1) / h of the bytes through each link, and h - 1
    latencies for each of the 5 collectives a step of T1 runs: the hidden outputs, the
    logits, the hidden output gradients, and the gradient rows of the two kernels)."""
    steps = -(-N_SAMPLES // batch)
    rows = []
    for h in hosts:
        compute = one_thread_epoch / h
        exchange = steps * ((h - 1) / h * step_bytes(batch) / bandwidth
                            + COLLECTIVES * (h - 1) * latency)
        rows.append({"batch": batch, "hosts": h, "compute_s": compute, "exchange_s": exchange,
                     "epoch_s": compute + exchange,
                     "efficiency": compute / (compute + exchange)})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", default="256,1024")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per run (median)")
    p.add_argument("--rounds", type=int, default=3, help="turns of the configurations")
    p.add_argument("--hosts", default="16,64", help="host counts of the projection")
    p.add_argument("--bandwidth", type=float, default=1.25e9,
                   help="bytes/s of each host's link in the projection (10 GbE)")
    p.add_argument("--latency", type=float, default=20e-6,
                   help="seconds per message in the projection")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--dask-rows", type=int, default=10_000_000)
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "distributed.json"))
    args = p.parse_args(argv)
    if shutil.which("mpirun") is None:
        sys.exit("mpirun not found: install Open MPI (apt-get install openmpi-bin "
                 "libopenmpi-dev) and mpi4py (pip install fastnn[mpi])")
    info = _common.machine_info()
    _common.print_header("Data-parallel T1 over MPI", info, [1, 2])
    configs = [("1 proc x 1 thread", 1, 1), ("1 proc x 2 threads", 1, 2),
               ("2 procs x 1 thread", 2, 1)]
    results, rows = {}, []
    for batch in [int(b) for b in args.batches.split(",")]:
        runs = {name: [] for name, _, _ in configs}
        for _ in range(args.rounds):
            for name, processes, threads in configs:
                runs[name].append(run_config(batch, args.repeats, processes, threads))
        medians = {name: {k: _common.median([r[k] for r in rs]) for k in ("epoch", "collective")}
                   for name, rs in runs.items()}
        one, two_threads = medians[configs[0][0]]["epoch"], medians[configs[1][0]]["epoch"]
        two_procs = medians[configs[2][0]]
        rows.append({"batch": batch, "1x1 s": one, "1x2 s": two_threads,
                     "2x1 s": two_procs["epoch"], "collective s": two_procs["collective"],
                     "2x1 vs 1x2": two_threads / two_procs["epoch"],
                     "efficiency": one / (2 * two_procs["epoch"])})
        results[batch] = {"medians": medians,
                          "projection": hosts_table(batch, one, [int(h) for h in
                                                                 args.hosts.split(",")],
                                                    args.bandwidth, args.latency)}
    _common.print_table(rows, [(k, k) for k in rows[0]])
    print(f"\nProjection ({args.bandwidth / 1e9:g} GB/s links, {args.latency * 1e6:g} us "
          f"per message; compute: the measured 1-thread epoch shared by the hosts):")
    _common.print_table([r for b in results for r in results[b]["projection"]],
                        [(k, k) for k in ("batch", "hosts", "compute_s", "exchange_s",
                                          "epoch_s", "efficiency")])
    payload = {"machine": info, "mpi": rows, "projection": results}
    if not args.no_dask:
        try:
            import bench_dask_predict
            payload["dask"] = bench_dask_predict.dask_predict_throughput(
                n_rows=args.dask_rows, n_workers=2, threads_per_worker=1)
        except ImportError as exc:
            print(f"\nDask predict skipped: {exc}")
    _common.write_json(args.json, payload)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), "--mpi" in sys.argv)
    else:
        main()
