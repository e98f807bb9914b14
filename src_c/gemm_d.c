/* fnn_dgemm and fnn_dgemm_k_halves: the double instances of src_c/gemm_driver.h and
 * src_c/gemm_k_halves.h. */
#define T double
#define KT fnn_d_kernels
#define KGET fnn_d_kernels_get
#define FNAME fnn_dgemm
#define FNAME_HALVES fnn_dgemm_k_halves
#define ACT_FWD fnn_d_act_forward
#define ACT_BWD fnn_d_act_backward
#include "gemm_driver.h"
#include "gemm_k_halves.h"
