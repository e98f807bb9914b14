/* Portable pack routines: copy a block of op(A) or op(B) into k-major micro-panels; and
 * the transposed copy. */
#include "gemm_pack.h"

DEFINE_PACK(fnn_s_pack_generic, float)
DEFINE_PACK(fnn_d_pack_generic, double)
DEFINE_TRANSPOSE(fnn_s_transpose_generic, float)
DEFINE_TRANSPOSE(fnn_d_transpose_generic, double)
