"""The process-wide thread count that every compiled kernel receives explicitly.

Kernels get `num_threads` as an argument rather than relying on omp_set_num_threads,
whose setting is per calling thread in libgomp and libomp.
"""
import contextlib
import os

_state = {"n_threads": None}


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def get_num_threads():
    """The number of threads fastnn's kernels use (default: the usable cores, or
    ``OMP_NUM_THREADS`` when set)."""
    if _state["n_threads"] is None:
        _state["n_threads"] = _default_threads()
    return _state["n_threads"]


def set_num_threads(n):
    """Set the number of threads fastnn's kernels use.

    Args:
        n: a positive int.

    Example:
        >>> import fastnn
        >>> fastnn.set_num_threads(1)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a positive int; got {n!r}")
    _state["n_threads"] = n


@contextlib.contextmanager
def threads(n):
    """Context manager running fastnn's kernels on `n` threads inside the block.

    Example:
        >>> import fastnn
        >>> with fastnn.threads(1):
        ...     pass
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _state["n_threads"] = previous
