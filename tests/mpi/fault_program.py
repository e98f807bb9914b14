"""Faults in a data-parallel fit, for tests/test_mpi.py (run under `mpirun -n 2`).

argv[1]: "shape" (rank 1's data has another shape), "kill" (rank 1 dies mid-epoch) or
"stop" (rank 1 stops answering mid-epoch; the others' collectives time out after 5 s).
"""
import os
import signal
import sys

import numpy as np

import fastnn
from fastnn import layers
from fastnn.distributed import mpi

fault = sys.argv[1]
dist = mpi.init(timeout=5)
n = 999 if fault == "shape" and dist.rank == 1 else 1000
rng = np.random.default_rng(0)
x, y = rng.standard_normal((n, 20)).astype(np.float32), rng.integers(0, 3, n)
fastnn.utils.set_random_seed(1)
model = fastnn.Sequential([fastnn.Input((20,)), layers.Dense(16, activation="relu"),
                           layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")


class Fault(fastnn.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 3 and dist.rank == 1:
            os.kill(os.getpid(), signal.SIGKILL if fault == "kill" else signal.SIGSTOP)


try:
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[Fault()])
except ValueError as exc:
    print(f"rank {dist.rank}: ValueError: {exc}", flush=True)
    sys.exit(3)
print(f"rank {dist.rank}: finished", flush=True)
