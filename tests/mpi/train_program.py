"""A data-parallel training program for tests/test_mpi.py: run under `mpirun -n N` (or
alone, without MPI, for the single-process reference), it trains several models and
saves their weights and histories to the .npz file named by argv[2] (rank 0 only).

argv: backend ("cpu" or "reference"), output path, "mpi" or "single".
"""
import os
import sys

import numpy as np

import fastnn
from fastnn import layers

backend, out_path, mode = sys.argv[1:4]
fastnn.backend.set_backend(backend)
rank = 0
if mode == "mpi":
    from fastnn.distributed import mpi
    rank = mpi.init(timeout=120).rank


def data(n, d, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, rng.integers(0, k, n), rng.random(n).astype(np.float32)


def dropout_model():
    # dropout, shuffling, sample weights, validation, 1000 rows in batches of 64 (the last
    # one 40 rows, and the validation split's 100)
    x, y, w = data(1000, 20, 5, 0)
    fastnn.utils.set_random_seed(3)
    model = fastnn.Sequential([fastnn.Input((20,)), layers.Dense(32, activation="relu"),
                               layers.Dropout(0.3), layers.Dense(16, activation="tanh"),
                               layers.Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, model.fit(x, y, batch_size=64, epochs=3, sample_weight=w,
                            validation_split=0.1, verbose=0)


def t1_model():
    # the T1 shape (784 -> 128 -> 10) on 300 rows: batches of 128 and a last one of 44
    x, y, _ = data(300, 784, 10, 1)
    fastnn.utils.set_random_seed(4)
    model = fastnn.Sequential([fastnn.Input((784,)), layers.Dense(128, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer=fastnn.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    # rank 0 alone writes checkpoints: one file per run, named by the writer's PID
    checkpoint = fastnn.callbacks.ModelCheckpoint(
        os.path.join(os.path.dirname(out_path), f"checkpoint-{os.getpid()}.fnn"))
    return model, model.fit(x, y, batch_size=128, epochs=2, verbose=0,
                            callbacks=[checkpoint])


def regression_model():
    # a float64 regression with a dropout on the inputs, l2, no shuffle and a batch of 7
    # (three processes: shards of 3, 2 and 2 rows would take the row kernel, so fewer
    # processes share such batches)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 6))
    y = np.stack([x[:, 0] * 2 - x[:, 1], x[:, 2] ** 2], axis=1)
    fastnn.utils.set_random_seed(5)
    with fastnn.config.floatx_scope("float64"):
        model = fastnn.Sequential([
            fastnn.Input((6,)), layers.Dropout(0.1),
            layers.Dense(8, activation="elu", kernel_regularizer="l2"),
            layers.Dense(2)])
    model.compile(optimizer="rmsprop", loss="mse")
    return model, model.fit(x, y, batch_size=7, epochs=2, shuffle=False, verbose=0)


results = {}
for name, build in [("dropout", dropout_model), ("t1", t1_model),
                    ("regression", regression_model)]:
    model, history = build()
    for i, weight in enumerate(model.get_weights()):
        results[f"{name}/w{i}"] = weight
    for key, values in history.history.items():
        results[f"{name}/history/{key}"] = np.array(values)
if rank == 0:
    np.savez(out_path, **results)
