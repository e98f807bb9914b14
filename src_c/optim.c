/* The common optimizer updates (Adam without AMSGrad, plain RMSprop) as tight loops the
 * compiler vectorises; the Cython kernels split the parameter into chunks over threads. */
#include <math.h>
#include "fastnn.h"

#define REAL float
#define FN(name) fnn_s_##name
#define SQRT sqrtf
#include "optim_impl.h"
#undef REAL
#undef FN
#undef SQRT

#define REAL double
#define FN(name) fnn_d_##name
#define SQRT sqrt
#include "optim_impl.h"
