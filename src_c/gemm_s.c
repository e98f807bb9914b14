/* fnn_sgemm: the float instance of the GEMM driver (src_c/gemm_driver.h). */
#define T float
#define KT fnn_s_kernels
#define KGET fnn_s_kernels_get
#define FNAME fnn_sgemm
#define FNAME_HALVES fnn_sgemm_k_halves
#define ACT_FWD fnn_s_act_forward
#define ACT_BWD fnn_s_act_backward
#include "gemm_driver.h"
