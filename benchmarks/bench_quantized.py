"""int8 inference of the T1 model: fastnn float32, fastnn int8 (model.quantize("int8")) and
onnxruntime's dynamically quantized int8 model, side by side in one process.

Run:
    python benchmarks/bench_quantized.py                 # 1 and 2 threads, 9 rounds
    python benchmarks/bench_quantized.py --rounds 3      # a quicker run

T1 is 784 -> Dense(128, relu) -> Dense(10, softmax) (Dropout does nothing in inference),
60,000 rows per predict. Each round times one predict of every contender in turn
(alternating, so the load of a shared machine falls on all of them alike); reported are
medians over the rounds, in rows per second, and the int8 product's multiply-adds per
second as a share of the vpdpbusd peak that benchmarks/peak_vnni.c measures (when a C
compiler and an AVX512_VNNI / AVX-VNNI CPU are there). onnxruntime's model is the float
graph (written with onnx.helper) through onnxruntime.quantization.quantize_dynamic.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

ROWS, N_IN, HIDDEN, N_OUT = 60_000, 784, 128, 10


def t1_model():
    import fastnn
    from fastnn import layers
    fastnn.utils.set_random_seed(0)
    model = fastnn.models.Sequential([layers.Dense(HIDDEN, activation="relu",
                                                   input_shape=(N_IN,)),
                                      layers.Dense(N_OUT, activation="softmax")])
    return model


def ort_int8(weights, threads):
    """onnxruntime's dynamically quantized T1 graph (benchmarks/peers/onnx_mlp.py), or
    None where onnxruntime is missing."""
    from peers import onnx_mlp
    if onnx_mlp.unavailable():
        return None
    return onnx_mlp.int8_predictor(weights, _common.TASKS["T1"], threads)


def vnni_peak(threads):
    """int8 multiply-adds per second of benchmarks/peak_vnni.c, or None."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_vnni")
        built = subprocess.run([cc, "-O2", "-march=native", "-fopenmp",
                                os.path.join(here, "peak_vnni.c"), "-o", exe],
                               capture_output=True)
        if built.returncode != 0:
            return None
        out = subprocess.run([exe, str(threads)], capture_output=True, text=True).stdout
    return float(out.split()[1]) * 1e9 / 2     # GOPS -> multiply-adds per second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    import fastnn
    from fastnn._kernels import compiled
    rng = numpy.random.default_rng(1)
    x = rng.random((ROWS, N_IN), dtype=numpy.float32)
    model = t1_model()
    weights = model.get_weights()
    float_model = t1_model()
    float_model.set_weights(weights)
    model.quantize("int8")
    p_float, p_int8 = float_model.predict(x, verbose=0), model.predict(x, verbose=0)
    agree = (p_float.argmax(1) == p_int8.argmax(1)).mean()
    print(f"machine: {os.cpu_count()} CPUs, ISA {compiled.isa_name()}, int8 kernel "
          f"{compiled.q8_kernel()}; int8 vs float32 argmax agreement {agree:.4f}")
    macs = ROWS * (N_IN * HIDDEN + HIDDEN * N_OUT)
    for threads in (int(t) for t in args.threads.split(",")):
        fastnn.set_num_threads(threads)
        runs = {"fastnn float32": lambda: float_model.predict(x, verbose=0),
                "fastnn int8": lambda: model.predict(x, verbose=0)}
        ort = ort_int8(weights, threads)
        if ort is not None:
            runs["onnxruntime int8"] = lambda: ort(x)
        times = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                _common.pause()   # onnxruntime's spinning threads would slow the next one
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        rate = {name: ROWS / numpy.median(t) for name, t in times.items()}
        print(f"\n{threads} thread(s), medians of {args.rounds} alternated rounds:")
        for name, r in rate.items():
            print(f"  {name:18s} {r / 1e3:9.0f} k rows/s")
        print(f"  int8 / float32      {rate['fastnn int8'] / rate['fastnn float32']:.2f}x")
        if ort is not None:
            print(f"  int8 / onnxruntime  {rate['fastnn int8'] / rate['onnxruntime int8']:.2f}x")
        peak = vnni_peak(threads)
        achieved = macs * rate["fastnn int8"] / ROWS
        share = f" = {achieved / peak:.0%} of the vpdpbusd peak {peak / 1e9:.0f}" \
            if peak else ""
        print(f"  int8 predict        {achieved / 1e9:.0f} G multiply-adds/s{share}")


if __name__ == "__main__":
    main()
