"""Activation kernels: fastnn's element-wise forward and backward beside NumPy (and PyTorch
when installed), float32, one thread, in the same run.

Run:
    python benchmarks/bench_activations.py                 # 128 x 512, table and JSON
    python benchmarks/bench_activations.py --rows 1024     # another size

Reported: the median time per call in microseconds and nanoseconds per element. The
transcendental ones (tanh, sigmoid, silu, elu, gelu, softplus, softmax) run on the
vectorised float functions of src_c/vmath_f32.h.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import fastnn  # noqa: E402
from fastnn import activations  # noqa: E402
from fastnn._kernels import compiled as _k  # noqa: E402

NAMES = ["relu", "tanh", "sigmoid", "silu", "elu", "gelu", "softplus", "softmax"]


def numpy_forward(name, x):
    """The textbook NumPy expression of each activation (float32 in, float32 out)."""
    if name == "relu":
        return np.maximum(x, 0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "silu":
        return x / (1 + np.exp(-x))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x))
    if name == "gelu":
        erf = np.frompyfunc(math.erf, 1, 1)
        return (0.5 * x * (1 + erf(x / math.sqrt(2)).astype(np.float32))).astype(np.float32)
    if name == "softplus":
        return np.logaddexp(x, 0)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def torch_forward(torch):
    f = torch.nn.functional
    return {"relu": f.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "silu": f.silu,
            "elu": f.elu, "gelu": f.gelu, "softplus": f.softplus,
            "softmax": lambda t: f.softmax(t, dim=1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=128)
    p.add_argument("--cols", type=int, default=512)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "activations.json"))
    args = p.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    info = _common.machine_info()
    _common.print_header("activation kernels, float32", info, [1])
    x = 3 * np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    g, out = np.ones_like(x), np.empty_like(x)
    n = x.size
    rows = []
    with fastnn.threads(1):
        for name in NAMES:
            if name == "softmax":
                fwd = lambda: _k.softmax_forward(x, out, False, 1)  # noqa: E731
                bwd = lambda: _k.softmax_backward(g, out, out, False, 1)  # noqa: E731
            else:
                act = activations.get(name)
                fwd = lambda a=act: _k.activation_forward(x, a.code, a.param, out, 1)  # noqa: E731
                bwd = lambda a=act: _k.activation_backward(a.code, a.param, g, x, out, 1)  # noqa: E731,E501
            row = {"activation": name, "elements": n,
                   "fastnn fwd us": _median_us(fwd, args.repeats),
                   "fastnn bwd us": _median_us(bwd, args.repeats),
                   "numpy fwd us": _median_us(lambda: numpy_forward(name, x),
                                              max(args.repeats // 10, 5))}
            if torch is not None:
                tx = torch.from_numpy(x)
                row["torch fwd us"] = _median_us(lambda: torch_forward(torch)[name](tx),
                                                 args.repeats)
            row["fastnn ns/element"] = row["fastnn fwd us"] * 1e3 / n
            rows.append(row)
    _common.print_table(rows, [(key, key) for key in rows[0]])
    _common.write_json(args.json, {"machine": info, "rows": rows})


def _median_us(fn, repeats):
    return _common.median(_common.time_calls(fn, repeats, warmup=5)) * 1e6


if __name__ == "__main__":
    main()
