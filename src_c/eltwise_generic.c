/* The element-wise kernels compiled for generic (see eltwise_isa.h). */
#define ISA_FN(name) fnn_##name##_generic
#define ISA_TABLE fnn_eltwise_generic
#include "eltwise_isa.h"
