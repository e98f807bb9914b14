"""Resident memory of `fit` on a numpy.memmap larger than it should ever hold.

Run:
    python benchmarks/bench_memmap_memory.py                 # a 5 GB file, one epoch
    python benchmarks/bench_memmap_memory.py --gigabytes 2 --dir /data

Writes a float32 file of `--gigabytes` GB of T1-shaped rows (784 columns, uniform values,
random labels 0-9 kept in memory), then, in a fresh process, opens it with numpy.memmap
and trains T1 (784 -> Dense 128 relu -> Dense 10 softmax, Adam, batch 128, shuffled) for
one epoch over every row. Printed: the file's size, the process's peak resident memory
(VmHWM, Linux) before and after the fit and the epoch's seconds. The file is deleted at
the end.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy

FEATURES = 784
CHILD = """
import sys, time, numpy
import fastnn
from fastnn import layers
path, rows = sys.argv[1], int(sys.argv[2])
x = numpy.memmap(path, dtype=numpy.float32, mode="r", shape=(rows, 784))
y = numpy.random.default_rng(0).integers(0, 10, rows)
fastnn.utils.set_random_seed(0)
model = fastnn.Sequential([fastnn.Input((784,)), layers.Dense(128, activation="relu"),
                           layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
def peak_mb():   # this process's own high-water mark (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
before = peak_mb()
start = time.perf_counter()
history = model.fit(x, y, batch_size=128, epochs=1, verbose=0)
seconds = time.perf_counter() - start
after = peak_mb()
print(f"peak resident memory: {before:.0f} MB before fit, {after:.0f} MB after "
      f"(labels in memory: {y.nbytes / 2**20:.0f} MB); epoch {seconds:.1f} s, "
      f"loss {history.history['loss'][0]:.4f}")
"""


def write_file(path, rows, chunk=8_192):
    """`rows` rows of uniform float32 written a chunk at a time (never all in memory)."""
    rng = numpy.random.default_rng(1)
    with open(path, "wb") as f:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            f.write(rng.random((n, FEATURES), dtype=numpy.float32).tobytes())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gigabytes", type=float, default=5.0)
    p.add_argument("--dir", default=tempfile.gettempdir())
    args = p.parse_args(argv)
    rows = int(args.gigabytes * 1e9) // (FEATURES * 4)
    fd, path = tempfile.mkstemp(suffix=".f32", dir=args.dir)
    os.close(fd)
    try:
        start = time.perf_counter()
        write_file(path, rows)
        print(f"# wrote {os.path.getsize(path) / 1e9:.2f} GB ({rows:,} rows x {FEATURES}) "
              f"in {time.perf_counter() - start:.0f} s; max RSS of this process "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        done = subprocess.run([sys.executable, "-c", CHILD, path, str(rows)],
                              capture_output=True, text=True)
        print(done.stdout.strip() or done.stderr.strip())
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
