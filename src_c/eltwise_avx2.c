/* The element-wise kernels compiled for avx2 (see eltwise_isa.h). */
#define ISA_FN(name) fnn_##name##_avx2
#define ISA_TABLE fnn_eltwise_avx2
#include "eltwise_isa.h"
