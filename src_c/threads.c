/* What the build knows about OpenMP; a build without it runs every kernel on one thread. */
#include "fastnn.h"
#ifdef _OPENMP
#include <omp.h>
#endif

int fnn_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fnn_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int fnn_omp_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

int fnn_omp_pause(void)
{
    /* Releases the OpenMP runtime's threads (OpenMP 5.0). Called before fork():
     * libgomp's pool does not survive a fork, and a child that reuses it hangs. */
#if defined(_OPENMP) && _OPENMP >= 201811
    return omp_pause_resource_all(omp_pause_soft);
#else
    return -1;
#endif
}

void fnn_omp_set_max_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}
