/* The portable pack routines compiled for AVX2 (used with the AVX2 micro-kernels). */
#include "gemm_pack.h"

DEFINE_PACK(fnn_s_pack_avx2, float)
DEFINE_PACK(fnn_d_pack_avx2, double)
