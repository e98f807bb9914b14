/* Element-wise activations and their derivatives, float32 and float64.
 * The same code serves the GEMM epilogue (on a finished output tile) and the Cython
 * activation kernels (on whole rows), so both give identical results. */
#include <math.h>
#include "fastnn.h"

int fnn_act_backward_needs_z(int act)
{
    return act == FNN_ACT_GELU || act == FNN_ACT_SILU;
}

#define REAL float
#define FN(name) fnn_s_##name
#define EXP expf
#define EXPM1 expm1f
#define LOG1P log1pf
#define TANH tanhf
#define ERF erff
#include "activations_impl.h"
#undef REAL
#undef FN
#undef EXP
#undef EXPM1
#undef LOG1P
#undef TANH
#undef ERF

#define REAL double
#define FN(name) fnn_d_##name
#define EXP exp
#define EXPM1 expm1
#define LOG1P log1p
#define TANH tanh
#define ERF erf
#include "activations_impl.h"
