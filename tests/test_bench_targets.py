"""The speed targets benchmarks/bench_matmul.py checks each result row against, and the
micro-kernel ceiling it measures them by."""
import importlib.util
import shutil
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_matmul.py"
if not _PATH.exists():  # tests/ copied away from the checkout, as .ci/wheel.sh runs them
    pytest.skip("benchmarks/bench_matmul.py is not beside tests/", allow_module_level=True)
_spec = importlib.util.spec_from_file_location("bench_matmul", _PATH)
bench_matmul = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_matmul)


def row(group, m, threads, fastnn, numpy, torch=None, dtype="float32"):
    r = {"group": group, "m": m, "threads": threads, "fastnn": fastnn, "numpy": numpy,
         "dtype": dtype}
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


@pytest.mark.parametrize("r, peak, need", [
    (row("square", 1024, 1, 95.0, 94.0, 96.0), 117.0, 96.0),         # the faster peer
    (row("mlp", 128, 2, 196.7, 186.4, 161.9), 234.0, 1.1 * 186.4),   # 1.1x the faster peer
    (row("mlp", 128, 2, 212.0, 200.0, 205.0), 234.0, 0.9 * 234.0),   # or 90 % of peak
    (row("dense", 128, 1, 101.1, 91.5, 78.2), 117.0, 1.2 * 91.5),    # 1.2x NumPy
    (row("square64", 2048, 2, 90.0, 100.0, dtype="float64"), 116.0, 90.0),
])
def test_target_asks_for(r, peak, need):
    assert bench_matmul.target(r, peak)[2] == pytest.approx(need)


def test_share_of_ceiling():
    ceilings = {"1": 115.0, "2": 230.0}
    assert bench_matmul.share_of_ceiling(row("dense", 128, 1, 0, 0), 109.25, ceilings) \
        == pytest.approx(0.95)
    assert bench_matmul.share_of_ceiling(row("mlp", 128, 2, 0, 0), 115.0, ceilings) \
        == pytest.approx(0.5)
    # no float64 kernel is measured, and no ceiling for a thread count not run
    assert bench_matmul.share_of_ceiling(row("square64", 1024, 1, 0, 0, dtype="float64"),
                                         50.0, ceilings) is None
    assert bench_matmul.share_of_ceiling(row("dense", 128, 4, 0, 0), 50.0, ceilings) is None


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler named cc")
def test_kernel_ceiling_builds_and_runs():
    """benchmarks/kernel_ceiling.c compiles against src_c/ with the portable kernel (any
    CPU) and reports a rate; an unknown ISA gives None instead of an error."""
    rate = bench_matmul.kernel_ceiling(1, "generic", 4, 8)
    assert rate is not None and rate > 0.1
    assert bench_matmul.kernel_ceiling(1, "no-such-isa", 4, 8) is None


def test_isa_flags_come_from_setup_py():
    assert "-mavx512f" in bench_matmul.isa_flags("avx512")
    assert bench_matmul.isa_flags("avx2") == ["-mavx2", "-mfma", "-mf16c"]
    assert bench_matmul.isa_flags("generic") == []
