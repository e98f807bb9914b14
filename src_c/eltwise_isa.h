/* The body of each eltwise_<isa>.c: every element-wise kernel in float32 and float64,
 * and the table that src_c/eltwise.c dispatches through. The including file defines
 * ISA_FN(name) (a name with the ISA's suffix) and ISA_TABLE (the table's name), and is
 * compiled with that ISA's flags. */
#include <math.h>
#include <stdint.h>

#include "eltwise_kernels.h"

#include "fpmode.h"

#include "philox_impl.h"

#include "vmath_f32.h"

/* float: the vectorisable functions of vmath_f32.h (LOG1P's argument is in [0, 1]: it is
 * only softplus's log1p(e^-|z|)) */
#define REAL float
#define FN(name) ISA_FN(s_##name)
#define EXP vm_expf
#define EXPM1 vm_expm1f
#define LOG1P vm_log1p01f
#define TANH vm_tanhf
#define ERF vm_erff
#define PHI vm_phif
#define SQRT sqrtf
#include "eltwise_impl.h"

/* the normal CDF erfc(-z / sqrt 2) / 2, as Keras' gelu computes it */
static inline double fnn_phi_d(double z)
{
    return 0.5 * erfc(-z / 1.41421356237309504880);
}

#define REAL double
#define FN(name) ISA_FN(d_##name)
#define EXP exp
#define EXPM1 expm1
#define LOG1P log1p
#define TANH tanh
#define ERF erf
#define PHI fnn_phi_d
#define SQRT sqrt
#include "eltwise_impl.h"

const fnn_eltwise_table ISA_TABLE = {
    ISA_FN(s_act_forward), ISA_FN(d_act_forward),
    ISA_FN(s_act_backward), ISA_FN(d_act_backward),
    ISA_FN(s_adam), ISA_FN(d_adam),
    ISA_FN(s_rmsprop), ISA_FN(d_rmsprop),
    ISA_FN(s_dropout_forward), ISA_FN(d_dropout_forward),
    ISA_FN(s_dropout_backward), ISA_FN(d_dropout_backward),
    ISA_FN(s_col_sums), ISA_FN(d_col_sums),
    ISA_FN(s_count_nonfinite), ISA_FN(d_count_nonfinite),
    ISA_FN(s_exp_rows), ISA_FN(d_exp_rows),
    ISA_FN(s_softmax_rows), ISA_FN(d_softmax_rows),
    ISA_FN(s_gemm_few_rows), ISA_FN(d_gemm_few_rows),
    ISA_FN(dropout_keep),
};
