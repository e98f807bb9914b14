"""The speed targets benchmarks/bench_matmul.py checks each result row against."""
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_matmul.py"
if not _PATH.exists():  # tests/ copied away from the checkout, as .ci/wheel.sh runs them
    pytest.skip("benchmarks/bench_matmul.py is not beside tests/", allow_module_level=True)
_spec = importlib.util.spec_from_file_location("bench_matmul", _PATH)
bench_matmul = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_matmul)


def row(group, m, threads, fastnn, numpy, torch=None):
    r = {"group": group, "m": m, "threads": threads, "fastnn": fastnn, "numpy": numpy}
    if torch is not None:
        r["torch"] = torch
    return r


@pytest.mark.parametrize("r, peak, met", [
    (row("square", 1024, 1, 95.0, 94.0, 96.0), 117.0, False),   # below the faster peer
    (row("square", 2048, 2, 190.0, 188.0, 150.0), 234.0, True),
    (row("mlp", 128, 2, 200.0, 180.0, 160.0), 234.0, True),     # 1.11x the faster peer
    (row("mlp", 128, 2, 196.7, 186.4, 161.9), 234.0, False),    # 1.06x and 84 % of peak
    (row("mlp", 128, 2, 212.0, 200.0, 205.0), 234.0, True),     # 1.03x but 90.6 % of peak
    (row("square64", 2048, 2, 90.0, 100.0), 116.0, True),       # 0.9x NumPy
    (row("square64", 2048, 2, 89.0, 100.0), 116.0, False),
    (row("dense", 128, 1, 101.1, 91.5, 78.2), 117.0, False),    # 1.11x NumPy
    (row("dense", 128, 2, 198.3, 126.6, 214.0), 234.0, True),   # against NumPy, not torch
])
def test_target_met(r, peak, met):
    goal = bench_matmul.target(r, peak)
    assert goal is not None and goal[1] is met


@pytest.mark.parametrize("r", [
    row("square", 512, 1, 96.0, 93.0, 83.0),   # squares below 1024 have no target
    row("mlp", 128, 1, 90.0, 94.0, 82.0),      # nor the MLP shapes on one thread
])
def test_no_target(r):
    assert bench_matmul.target(r, 117.0) is None
