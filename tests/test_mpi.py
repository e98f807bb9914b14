"""Data-parallel fit over MPI, started for real: `mpirun -n 2` and `-n 3` on this host,
the weights compared bit for bit with one process running the same program (compiled
and reference backends; dropout, shuffling, sample weights, validation, uneven last
batches, float64), and the faults: data that differs between processes, a process
killed mid-epoch, a process that stops answering."""
import os
import shutil
import subprocess
import sys

import numpy
import pytest

import fastnn
from session_python import run_python

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "mpi", "train_program.py")
FAULT = os.path.join(HERE, "mpi", "fault_program.py")

MPIRUN = shutil.which("mpirun")
if MPIRUN is None:
    pytest.skip("mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)",
                allow_module_level=True)
pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install fastnn[mpi])")


def mpirun(n, *args, timeout=300):
    """Run `python *args` in n processes on this host; returns the CompletedProcess."""
    root = os.path.dirname(os.path.dirname(fastnn.__file__))
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI refuses to start as root unless told; a user's run needs neither
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [MPIRUN, "-n", str(n), "--oversubscribe", "--bind-to", "none",
               sys.executable, *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The programs' results in one process, per backend."""
    results = {}
    for backend in ("cpu", "reference"):
        path = tmp_path_factory.mktemp("single") / f"{backend}.npz"
        code = f"import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0])"
        done = run_python(code, TRAIN, backend, path, "single")
        assert done.returncode == 0, done.stderr
        with numpy.load(path) as f:
            results[backend] = dict(f)
    return results


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("n", [2, 3])
def test_mpirun_gives_the_bits_of_one_process(single, tmp_path, backend, n):
    path = tmp_path / "mpi.npz"
    done = mpirun(n, TRAIN, backend, path, "mpi")
    assert done.returncode == 0, done.stdout + done.stderr
    with numpy.load(path) as f:
        got = dict(f)
    assert len(list(tmp_path.glob("checkpoint-*.fnn"))) == 1   # written by rank 0 alone
    want = single[backend]
    assert sorted(got) == sorted(want)
    assert any(k.startswith("dropout/history/val_") for k in want)
    for key in want:
        assert numpy.array_equal(got[key], want[key]), key


def test_processes_with_other_data_stop_with_the_same_error():
    done = mpirun(2, FAULT, "shape", timeout=120)
    assert done.returncode != 0
    for rank in (0, 1):
        assert f"rank {rank}: ValueError: the processes disagree on the fit" in done.stdout
    assert "x=[[1000, 20]" in done.stdout and "x=[[999, 20]" in done.stdout


def test_a_killed_process_ends_the_run():
    done = mpirun(2, FAULT, "kill", timeout=120)
    assert done.returncode != 0
    assert "finished" not in done.stdout


def test_a_process_that_stops_answering_times_out_on_every_process():
    done = mpirun(2, FAULT, "stop", timeout=120)
    assert done.returncode != 0
    assert "waited more than 5 s for the other processes" in done.stderr
    assert "finished" not in done.stdout
