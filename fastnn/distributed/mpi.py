"""Data-parallel `fit` over MPI (mpi4py on Open MPI or MPICH: `pip install fastnn[mpi]`).

Every process runs the same program::

    import fastnn
    from fastnn.distributed import mpi
    fastnn.distributed.set_distribution(mpi.MPIDataParallel())
    fastnn.utils.set_random_seed(1)
    model = ...; model.compile(...); model.fit(x, y, batch_size=256, epochs=5)

started with ``mpirun -n 4 python train.py``. `batch_size` is the global batch: each
process computes its shard of every batch and the processes exchange layer outputs and
weight-gradient rows (fastnn/backend/sharded.py), so the weights after `fit` are bit for
bit those of one process running the same `fit`, at any number of processes. Rank 0
prints the progress bar and writes checkpoints; every process holds the same weights,
History and validation results.

Collectives wait at most `timeout` seconds: a process that stops answering (hung,
stopped, or gone without the launcher noticing) ends every process with an error naming
the collective, never a hang.
"""
import hashlib
import json
import sys
import time

import numpy

_NOTE_BYTES = 4096   # the bytes of one process's description in `agree`
_SPIN_SECONDS = 0.002


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:   # pragma: no cover - depends on the environment
        raise ImportError("fastnn.distributed.mpi needs mpi4py and an MPI library: "
                          "pip install fastnn[mpi] (with Open MPI or MPICH installed)") from exc
    return MPI


class MPIDataParallel:
    """Data-parallel training over the processes of an MPI communicator.

    Args:
        comm: an mpi4py communicator (default: MPI.COMM_WORLD).
        timeout: seconds a collective may wait for the other processes before every
            process is ended with an error (default 300).

    Attributes:
        rank, size: this process's rank and the number of processes.
        is_chief: whether this process is rank 0 (it prints and writes files).
    """

    def __init__(self, comm=None, timeout=300.0):
        self._MPI = _mpi()
        self.comm = self._MPI.COMM_WORLD if comm is None else comm
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"`timeout` must be a positive number of seconds; got "
                             f"{timeout!r}")
        self.timeout = float(timeout)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_chief = self.rank == 0
        self.collective_seconds = 0.0   # time spent waiting in collectives

    def __repr__(self):
        return f"MPIDataParallel(rank={self.rank}, size={self.size})"

    # ------------------------------------------------------------------ collectives
    def start_allgather(self, local, full, counts):
        """Start gathering each process's `local` rows into `full` in rank order,
        process r contributing counts[r] rows; returns a request with `wait()`."""
        per_row = int(numpy.prod(full.shape[1:], dtype=numpy.int64)) if full.ndim > 1 else 1
        sizes = [int(c) * per_row for c in counts]
        displs = numpy.concatenate([[0], numpy.cumsum(sizes)[:-1]]).astype(int).tolist()
        kind = self._MPI._typedict[full.dtype.char]
        request = self.comm.Iallgatherv([local, sizes[self.rank], kind],
                                        [full, (sizes, displs), kind])
        return _Request(self, request, "allgather")

    def wait(self, request, what):
        """Wait for an MPI request, at most `timeout` seconds (then end every process)."""
        start = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        while not request.Test():
            if time.perf_counter() - start > _SPIN_SECONDS:
                time.sleep(0.0002)
            if time.monotonic() > deadline:
                self.abort(f"the {what} waited more than {self.timeout:g} s for the other "
                           f"processes: one of them has stopped or is running another "
                           f"program")
        self.collective_seconds += time.perf_counter() - start

    def abort(self, message):
        """Print `message` for this rank and end every process of the communicator."""
        sys.stderr.write(f"fastnn.distributed.mpi: rank {self.rank} of {self.size}: "
                         f"{message}\n")
        sys.stderr.flush()
        self.comm.Abort(1)

    def broadcast(self, array):
        """Overwrite `array` (C-contiguous) with rank 0's."""
        kind = self._MPI._typedict[array.dtype.char]
        self.wait(self.comm.Ibcast([array, kind], root=0), "broadcast")

    def agree(self, what, value):
        """Check that every process passes the same `value` (a dict of JSON-able
        entries), else raise the same ValueError on every process, naming `what`, the
        differing entries and each process's value of them."""
        text = json.dumps(value, sort_keys=True, default=str).encode()
        if len(text) > _NOTE_BYTES:
            raise ValueError(f"{what}: the description is over {_NOTE_BYTES} bytes")
        mine = numpy.zeros(_NOTE_BYTES, numpy.uint8)
        mine[:len(text)] = numpy.frombuffer(text, numpy.uint8)
        every = numpy.empty((self.size, _NOTE_BYTES), numpy.uint8)
        self.start_allgather(mine[None], every, [1] * self.size).wait()
        notes = [json.loads(bytes(row).rstrip(b"\0")) for row in every]
        differ = sorted(k for k in notes[0] if any(n.get(k) != notes[0][k] for n in notes))
        if differ:
            lines = "\n".join(f"  rank {r}: " + ", ".join(f"{k}={n.get(k)}" for k in differ)
                              for r, n in enumerate(notes))
            raise ValueError(f"the processes disagree on {what}:\n{lines}")

    # ------------------------------------------------------------------ fit
    def prepare_fit(self, model, x, y, w, val, batch_size, epochs, shuffle):
        """Check that every process runs the same fit on the same data, give every
        process rank 0's weights and seeds, and return the sharded training executor."""
        from fastnn.backend.sharded import ShardedExecutor
        self.agree("the fit (data shapes and dtypes, batch_size, epochs, shuffle)", {
            "x": [list(x.shape), str(x.dtype), _fingerprint(x)],
            "y": [list(y.shape), str(y.dtype), _fingerprint(y)],
            "sample_weight": None if w is None else [list(w.shape), _fingerprint(w)],
            "validation": None if val is None else [list(a.shape) for a in val[:2]],
            "batch_size": batch_size, "epochs": epochs, "shuffle": bool(shuffle),
            "model architecture": _digest(model.to_json().encode()),
            "backend": model.executor.backend.name})
        program = model.executor.program
        for layer in program.layers:
            for weight in layer._params:
                self.broadcast(weight)
        seeds = numpy.array([model.training_seed] + [
            s for layer in program.dropout_layers for s in (layer.seed, layer.step)],
            numpy.uint64)
        self.broadcast(seeds)
        model.training_seed = int(seeds[0])
        for j, layer in enumerate(program.dropout_layers):
            layer.seed, layer.step = int(seeds[1 + 2 * j]), int(seeds[2 + 2 * j])
        return ShardedExecutor(model._training_executor(), self)


class _Request:
    """A started collective; `wait()` finishes it (within the timeout)."""

    def __init__(self, owner, request, what):
        self.owner, self.request, self.what = owner, request, what

    def wait(self):
        self.owner.wait(self.request, self.what)


def _digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def _fingerprint(a):
    """A cheap digest of an array's values: about a thousand rows, evenly spaced."""
    return _digest(numpy.ascontiguousarray(a[::max(1, len(a) // 1024)]).tobytes())


def init(timeout=300.0):
    """Make data-parallel MPI training over MPI.COMM_WORLD the global distribution
    (fastnn.distributed.set_distribution) and return it."""
    from fastnn import distributed
    strategy = MPIDataParallel(timeout=timeout)
    distributed.set_distribution(strategy)
    return strategy
