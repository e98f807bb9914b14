"""Training and predict speed of the working tree against another commit, taking turns.

Run:
    python benchmarks/ab_commits.py                       # against HEAD~1, 1 thread
    python benchmarks/ab_commits.py --base cca4282 --threads 2 --rounds 7
    python benchmarks/ab_commits.py --tasks T1,T4 --extra "sgd_momentum,l2"

The base commit is checked out into a temporary git worktree and built in place there
(about 40 s); the working tree must already be built in place. Then each round runs one
fresh interpreter per build, base and current alternating (the order flips every round,
so a slow minute of a shared machine hits both), each timing every task on the same
synthetic data: T1-T4 of benchmarks/_common.py (seconds per epoch after a warm-up epoch,
T4 per step) and `predict` of the T1 model on 60,000 rows and on one row. Reported: per
task, the median over rounds of current / base (below 1: faster now), each build's
median time, and whether both builds trained the task's model to the same bits (2 epochs
on 2,000 rows), with the machine's CPU and the thread count.
`--extra` adds T1 variants: sgd_momentum (SGD momentum 0.9), nadam, clipnorm (Adam,
clipnorm 1.0), l2 (kernel_regularizer L2(1e-4) on every Dense).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# What one interpreter runs: times every task with the fastnn on its PYTHONPATH.
WORKER = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import numpy, fastnn
import _common
from fastnn import layers, models, optimizers, regularizers
fastnn.set_num_threads(int(sys.argv[2]))
tasks, extras, quick = sys.argv[3].split(","), [e for e in sys.argv[4].split(",") if e], sys.argv[5] == "1"

def model_for(task, variant=None):
    fastnn.utils.set_random_seed(0)
    reg = regularizers.L2(1e-4) if variant == "l2" else None
    stack = []   # input_shape= rather than Input: older commits know only that
    for i, (units, act) in enumerate(task.layers):
        first = {"input_shape": (task.n_features,)} if i == 0 else {}
        stack.append(layers.Dense(units, activation=act, kernel_regularizer=reg, **first))
        if i == 0 and task.dropout:
            stack.append(layers.Dropout(task.dropout))
    model = models.Sequential(stack)
    opt = {"sgd_momentum": lambda: optimizers.SGD(0.01, momentum=0.9),
           "nadam": lambda: optimizers.Nadam(),
           "clipnorm": lambda: optimizers.Adam(clipnorm=1.0)}.get(variant, lambda: task.optimizer)()
    loss = "binary_crossentropy" if task.binary else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss)
    return model

def epoch_seconds(task, variant=None):
    n = 6000 if quick and not task.per_step else task.n_samples
    x, y = _common.synthetic_data(task, n)
    model = model_for(task, variant)
    batch = task.batch_sizes[-1]
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    best = min(times)
    return best / -(-n // batch) if task.per_step else best

def weights_digest(task, variant=None):
    """A digest of the weights after 2 epochs on 2,000 rows: equal digests, same bits."""
    import hashlib
    x, y = _common.synthetic_data(task, 2000)
    model = model_for(task, variant)
    model.fit(x, y, batch_size=task.batch_sizes[0], epochs=2, verbose=0)
    return hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:16]

bits = {name: weights_digest(_common.TASKS[name]) for name in tasks}
bits.update({"T1_" + v: weights_digest(_common.TASKS["T1"], v) for v in extras})
out = {}
for name in tasks:
    out[name] = epoch_seconds(_common.TASKS[name])
for variant in extras:
    out["T1_" + variant] = epoch_seconds(_common.TASKS["T1"], variant)
t1 = _common.TASKS["T1"]
x, _ = _common.synthetic_data(t1, 6000 if quick else 60000)
model = model_for(t1)
model.predict(x, verbose=0)
start = time.perf_counter(); model.predict(x, verbose=0); out["predict_rows"] = time.perf_counter() - start
one = x[:1].copy()
for _ in range(200):
    model.predict(one, verbose=0)
times = []
for _ in range(2000):
    start = time.perf_counter(); model.predict(one, verbose=0); times.append(time.perf_counter() - start)
out["predict_one"] = sorted(times)[len(times) // 2]
print(json.dumps({"times": out, "bits": bits}))
'''


def build_base(commit, where):
    """A built checkout of `commit` at `where` (a git worktree)."""
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--force", "--detach", where, commit],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-j2"], cwd=where,
                   check=True, capture_output=True)


def run_worker(tree, args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, HERE]))
    done = subprocess.run([sys.executable, "-c", WORKER, tree, str(args.threads), args.tasks,
                           args.extra, "1" if args.quick else "0"],
                          env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="HEAD~1", help="the commit to compare with")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tasks", default="T1,T2,T3,T4")
    p.add_argument("--extra", default="", help="T1 variants (see the module docstring)")
    p.add_argument("--quick", action="store_true", help="6,000 rows (a smoke run)")
    args = p.parse_args(argv)
    where = tempfile.mkdtemp(prefix="fastnn-base-")
    try:
        build_base(args.base, where)
        runs = {"base": [], "current": []}
        for r in range(args.rounds):
            order = ("base", "current") if r % 2 == 0 else ("current", "base")
            for which in order:
                runs[which].append(run_worker(where if which == "base" else ROOT, args))
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", where],
                       capture_output=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{args.threads} thread(s); base {args.base}; {args.rounds} rounds")
    print(f"{'task':<18}{'current/base':>14}{'base s':>12}{'current s':>12}  same bits")
    times = {which: [r["times"] for r in found] for which, found in runs.items()}
    bits = {which: found[0]["bits"] for which, found in runs.items()}
    for key in times["base"][0]:
        ratios = [c[key] / b[key] for b, c in zip(times["base"], times["current"])]
        base = statistics.median(b[key] for b in times["base"])
        cur = statistics.median(c[key] for c in times["current"])
        same = "" if key not in bits["base"] else \
            "yes" if bits["base"][key] == bits["current"][key] else "NO"
        print(f"{key:<18}{statistics.median(ratios):>14.3f}{base:>12.6f}{cur:>12.6f}  {same}")


if __name__ == "__main__":
    main()
