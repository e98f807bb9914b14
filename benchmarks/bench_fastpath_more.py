"""Training speed of T1 with BatchNormalization, weight constraints, a Normalization or
noise layers: the compiled step against the layer path.

Run:
    python benchmarks/bench_fastpath_more.py                 # 1 thread, 5 timed epochs each
    python benchmarks/bench_fastpath_more.py --threads 2 --variants max_norm --batch-sizes 32

T1's data (60,000 x 784 synthetic float32, 10 classes) and model (Dense(128, relu) ->
Dropout(0.2) -> Dense(10, softmax), Adam, sparse categorical cross-entropy), in variants:
    batchnorm      Dense(128) -> BatchNormalization -> Activation('relu') -> Dense(10),
                   the way Keras programs write it (no Dropout)
    max_norm       kernel_constraint=max_norm(3) on both Dense layers
    normalization  an adapted Normalization in front
    noise          GaussianNoise(0.1) in front, Dropout -> GaussianDropout(0.2)
Two ways, taking turns epoch by epoch after a warm-up epoch each:
    compiled      the cpu backend's compiled step (one fused call per training step)
    layer path    the same backend run layer by layer (what such a model ran before the
                  compiled step had these layers; forced here by giving the executor a
                  reason not to compile)
Both give the same weights bit for bit (tests/test_fastpath_more.py). Printed: the median
seconds per epoch of each way and the speed-up.

Medians measured (1 thread, 7 repeats, a 2-vCPU AMD EPYC virtual machine shared with
other jobs, load 3 to 8, so noisy):
    max_norm       batch 32:  layer path 1.005 s, compiled 0.440 s (2.28x)
                   batch 128: layer path 0.425 s, compiled 0.308 s (1.38x)
    normalization  batch 32:  layer path 0.649 s, compiled 0.368 s (1.76x)
                   batch 128: layer path 0.391 s, compiled 0.304 s (1.29x)
    noise          batch 32:  layer path 4.918 s, compiled 1.661 s (2.96x)
                   batch 128: layer path 4.393 s, compiled 2.084 s (2.11x)
    batchnorm      batch 32:  layer path 0.748 s, compiled 0.380 s (1.97x)
                   batch 128: layer path 0.407 s, compiled 0.291 s (1.40x)
(the noise variant draws 55 million normal values an epoch, most for the 784 inputs:
about 17 ns each on one thread)
"""
import argparse
import os
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastnn  # noqa: E402
from fastnn import constraints, layers, models  # noqa: E402
from fastnn.backend import compiled_executor  # noqa: E402

N, FEATURES, CLASSES = 60_000, 784, 10


def stack(variant, x):
    """T1's layers in `variant` (an adapted Normalization is adapted to `x`)."""
    if variant == "batchnorm":
        return [layers.Dense(128), layers.BatchNormalization(), layers.Activation("relu"),
                layers.Dense(CLASSES, activation="softmax")]
    if variant == "max_norm":
        return [layers.Dense(128, "relu", kernel_constraint=constraints.max_norm(3)),
                layers.Dropout(0.2),
                layers.Dense(CLASSES, "softmax", kernel_constraint=constraints.max_norm(3))]
    if variant == "normalization":
        norm = layers.Normalization()
        norm.adapt(x[:5000])
        return [norm, layers.Dense(128, "relu"), layers.Dropout(0.2),
                layers.Dense(CLASSES, "softmax")]
    if variant == "noise":
        return [layers.GaussianNoise(0.1), layers.Dense(128, "relu"),
                layers.GaussianDropout(0.2), layers.Dense(CLASSES, "softmax")]
    raise ValueError(f"unknown variant {variant!r}")


def make_model(variant, x, layer_path):
    """The compiled model, or (layer_path) one whose executor runs layer by layer."""
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((FEATURES,))] + stack(variant, x))
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
    p.add_argument("--variants", default="batchnorm,max_norm,normalization,noise")
    args = p.parse_args()
    rng = numpy.random.default_rng(0)
    x = rng.random((N, FEATURES), dtype=numpy.float32)
    y = rng.integers(0, CLASSES, N)
    with fastnn.threads(args.threads):
        for variant in args.variants.split(","):
            for batch in (int(b) for b in args.batch_sizes.split(",")):
                models_ = {"layer path": make_model(variant, x, True),
                           "compiled": make_model(variant, x, False)}
                times = {name: [] for name in models_}
                for model in models_.values():      # warm-up epoch
                    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
                for _ in range(args.repeats):
                    for name, model in models_.items():
                        start = time.perf_counter()
                        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
                        times[name].append(time.perf_counter() - start)
                        assert model.executor.compiled == (name == "compiled")
                med = {name: statistics.median(t) for name, t in times.items()}
                print(f"{variant}, batch {batch}, {args.threads} thread(s), median of "
                      f"{args.repeats}: layer path {med['layer path']:.3f} s, compiled "
                      f"{med['compiled']:.3f} s ({med['layer path'] / med['compiled']:.2f}x)",
                      flush=True)


if __name__ == "__main__":
    main()
