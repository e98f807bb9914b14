"""OpenMP facts of the compiled build."""
from fastnn._kernels.capi cimport fnn_openmp_enabled, fnn_omp_max_threads


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(fnn_openmp_enabled())


def omp_max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS), or 1 without OpenMP."""
    return fnn_omp_max_threads()
