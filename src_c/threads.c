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
