/* fnn_dgemm: the double instance of the GEMM driver (src_c/gemm_driver.h). */
#define T double
#define KT fnn_d_kernels
#define KGET fnn_d_kernels_get
#define FNAME fnn_dgemm
#define FNAME_HALVES fnn_dgemm_k_halves
#define ACT_FWD fnn_d_act_forward
#define ACT_BWD fnn_d_act_backward
#include "gemm_driver.h"
