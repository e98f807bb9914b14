/* The element-wise kernels compiled for avx512 (see eltwise_isa.h). */
#define ISA_FN(name) fnn_##name##_avx512
#define ISA_TABLE fnn_eltwise_avx512
#include "eltwise_isa.h"
