"""Training speed of a BatchNormalization model: the compiled step against the layer path.

Run:
    python benchmarks/bench_batchnorm.py                  # 1 thread, 5 timed epochs each
    python benchmarks/bench_batchnorm.py --threads 2 --repeats 7 --batch-sizes 32,128

T1's data (60,000 x 784 synthetic float32, 10 classes) on the model Keras programs
write around a BatchNormalization: Dense(128) -> BatchNormalization -> Activation(relu)
-> Dense(10, softmax), Adam, sparse categorical cross-entropy. Two ways, taking turns
epoch by epoch after a warm-up epoch each:
    compiled      the cpu backend's compiled step (one fused call per training step)
    layer path    the same backend run layer by layer (what such a model ran before the
                  compiled step had BatchNormalization; forced here by giving the
                  executor a reason not to compile)
Both give the same weights bit for bit (tests/test_fastpath_layers.py). Printed: the
median seconds per epoch of each way and the speed-up.

Medians measured (1 thread, 5 repeats, a 2-vCPU AMD EPYC virtual machine shared with
other jobs, so noisy):
    batch 32:  layer path 0.748 s, compiled 0.380 s (1.97x)
    batch 128: layer path 0.407 s, compiled 0.291 s (1.40x)
"""
import argparse
import os
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastnn  # noqa: E402
from fastnn import layers, models  # noqa: E402
from fastnn.backend import compiled_executor  # noqa: E402

N, FEATURES, CLASSES = 60_000, 784, 10


def make_model(layer_path):
    """The compiled model, or (layer_path) one whose executor runs layer by layer."""
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((FEATURES,)), layers.Dense(128),
                               layers.BatchNormalization(), layers.Activation("relu"),
                               layers.Dense(CLASSES, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    original = compiled_executor.why_not_compiled
    if layer_path:
        compiled_executor.why_not_compiled = lambda program: "the layer path, by request"
    try:
        model.fit(numpy.zeros((64, FEATURES), numpy.float32), numpy.zeros(64, numpy.int64),
                  batch_size=32, epochs=1, verbose=0)     # builds the executor
    finally:
        compiled_executor.why_not_compiled = original
    assert model.executor.compiled != layer_path, model.executor.description
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-sizes", default="32,128")
    args = p.parse_args()
    rng = numpy.random.default_rng(0)
    x = rng.random((N, FEATURES), dtype=numpy.float32)
    y = rng.integers(0, CLASSES, N)
    with fastnn.threads(args.threads):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            models_ = {"layer path": make_model(True), "compiled": make_model(False)}
            times = {name: [] for name in models_}
            for name, model in models_.items():      # warm-up epoch
                model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            for _ in range(args.repeats):
                for name, model in models_.items():
                    start = time.perf_counter()
                    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
                    times[name].append(time.perf_counter() - start)
                    assert model.executor.compiled == (name == "compiled")
            med = {name: statistics.median(t) for name, t in times.items()}
            print(f"batch {batch}, {args.threads} thread(s), median of {args.repeats}: "
                  f"layer path {med['layer path']:.3f} s, compiled {med['compiled']:.3f} s "
                  f"({med['layer path'] / med['compiled']:.2f}x)")


if __name__ == "__main__":
    main()
