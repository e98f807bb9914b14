"""Training and inference beyond one process: data-parallel `fit` over MPI
(`fastnn.distributed.mpi`, the `fastnn[mpi]` extra) and blocks of Dask arrays
(`fastnn[dask]`). Nothing here imports MPI or Dask until a feature uses it.

As in Keras 3 (`keras.distribution`), a distribution is set globally::

    fastnn.distributed.set_distribution(fastnn.distributed.mpi.MPIDataParallel())

and every later `fit` of any model uses it.
"""
_state = {"distribution": None}


def set_distribution(value):
    """Make `value` (e.g. fastnn.distributed.mpi.MPIDataParallel(), or None for
    training in this process alone) the distribution of every later `fit`."""
    if value is not None and not hasattr(value, "prepare_fit"):
        raise TypeError(f"`value` must be a distribution such as "
                        f"fastnn.distributed.mpi.MPIDataParallel() or None; got {value!r}")
    _state["distribution"] = value


def distribution():
    """The distribution set by `set_distribution`, or None."""
    return _state["distribution"]
