"""The thread count that every compiled kernel receives explicitly.

Kernels get `num_threads` as an argument rather than relying on omp_set_num_threads,
whose setting is per calling thread in libgomp and libomp. `set_num_threads` sets the
process-wide count; a `threads(n)` block overrides it in its own thread (a context
variable), so blocks entered and left in different threads never undo each other.
"""
import contextlib
import contextvars
import os

from fastnn import _validation

# The most threads a kernel is ever given: four per core, and at least 64. A count above
# it would only oversubscribe the machine, and an absurd one (10**6) makes the OpenMP
# runtime fail to create its threads. `set_num_threads` and `threads` reject larger
# counts; a larger OMP_NUM_THREADS is capped to it.
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))

_state = {"n_threads": None, "forked": False}
_block = contextvars.ContextVar("fastnn_threads", default=None)


def mark_forked_child():
    """Run on one thread from now on: called in a child process forked after the
    compiled kernels were loaded. libgomp's thread pool does not survive fork(), and a
    child entering a multi-threaded region would hang; one-thread regions are safe."""
    _state["forked"] = True


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return min(int(env), MAX_THREADS)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def get_num_threads():
    """The number of threads fastnn's kernels use (default: the usable cores, or
    ``OMP_NUM_THREADS`` when set; 1 in a process forked from one that used the kernels)."""
    if _state["n_threads"] is None:
        _state["n_threads"] = _default_threads()
    if _state["forked"]:
        return 1
    n = _block.get()
    # a limit set on the OpenMP runtime (threadpoolctl's threadpool_limits, or
    # omp_set_num_threads from other code) in this thread applies to fastnn too
    return min(_state["n_threads"] if n is None else n, _omp_limit(), MAX_THREADS)


def _omp_limit():
    query = _state.get("omp_max_threads")
    if query is None:
        try:
            from fastnn._kernels.compiled import omp_max_threads as query
        except ImportError:  # the reference backend alone: no OpenMP to ask
            def query():
                return 1 << 30
        _state["omp_max_threads"] = query
    return query()


def set_num_threads(n):
    """Set the number of threads fastnn's kernels use, process-wide (a `threads` block
    still has its own count inside it).

    Args:
        n: a positive int, at most `fastnn._threads.MAX_THREADS` (four per core, and
            at least 64).

    Raises:
        ValueError: `n` is not an int in [1, MAX_THREADS]; the setting is unchanged.

    Example:
        >>> import fastnn
        >>> fastnn.set_num_threads(1)
    """
    n = _check_count(n)
    _set_omp_threads(n)
    _state["n_threads"] = n


def _check_count(n):
    return _validation.positive_int(n, "n", MAX_THREADS)


def _set_omp_threads(n):
    """Set this thread's OpenMP limit to n, so that it does not cap the new setting."""
    setter = _state.get("omp_set_max_threads")
    if setter is None:   # looked up once: a training step may switch counts every step
        try:
            from fastnn._kernels.compiled import omp_set_max_threads as setter
        except ImportError:  # the reference backend alone: no OpenMP to set
            def setter(n):
                pass
        _state["omp_set_max_threads"] = setter
    setter(n)


@contextlib.contextmanager
def threads(n):
    """Context manager running fastnn's kernels on `n` threads inside the block.

    The count applies to the thread (or asyncio task) that enters the block, and wins
    over an enclosing threadpoolctl limit there; other threads keep theirs.

    Args:
        n: a positive int, at most `fastnn._threads.MAX_THREADS`.

    Example:
        >>> import fastnn
        >>> with fastnn.threads(1):
        ...     pass
    """
    n = _check_count(n)
    previous_omp = _omp_limit()
    token = _block.set(n)
    _set_omp_threads(n)
    try:
        yield
    finally:
        _block.reset(token)
        if previous_omp < 1 << 30:
            _set_omp_threads(previous_omp)
