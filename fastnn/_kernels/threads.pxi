"""OpenMP facts of the compiled build."""
from fastnn._kernels.capi cimport (fnn_openmp_enabled, fnn_omp_max_threads, fnn_omp_pause,
                                   fnn_omp_set_max_threads)


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(fnn_openmp_enabled())


def omp_set_max_threads(int n):
    """omp_set_num_threads(n) for the calling thread (no-op without OpenMP)."""
    fnn_omp_set_max_threads(n)


def omp_max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS), or 1 without OpenMP."""
    return fnn_omp_max_threads()


def omp_pause():
    """Release the OpenMP thread pool so that a forked child can start its own.

    Registered with os.register_at_fork; returns False where the runtime cannot.
    """
    return fnn_omp_pause() == 0
