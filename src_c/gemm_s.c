/* fnn_sgemm and fnn_sgemm_k_halves: the float instances of src_c/gemm_driver.h and
 * src_c/gemm_k_halves.h. */
#define T float
#define KT fnn_s_kernels
#define KGET fnn_s_kernels_get
#define FNAME fnn_sgemm
#define FNAME_HALVES fnn_sgemm_k_halves
#define ACT_FWD fnn_s_act_forward
#define ACT_BWD fnn_s_act_backward
#include "gemm_driver.h"
#include "gemm_k_halves.h"
