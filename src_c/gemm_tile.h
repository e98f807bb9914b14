/* Scalar write-out of a finished register tile held in memory (row stride ldt):
 * C := alpha * acc + beta * C (+ bias) (relu). Used by the portable kernels.
 * ReLU maps NaN to 0, as the activation kernels of src_c/activations.c do. */
#ifndef FASTNN_GEMM_TILE_H
#define FASTNN_GEMM_TILE_H

#include "gemm_internal.h"

#define FNN_DEFINE_TILE_STORE(NAME, T)                                                  \
    static inline void NAME(const T *acc, int ldt, T *c, int64_t ldc, T alpha, T beta,  \
                            int mr, int nr, const T *bias, int relu)                    \
    {                                                                                   \
        for (int i = 0; i < mr; i++) {                                                  \
            T *ci = c + i * ldc;                                                        \
            for (int j = 0; j < nr; j++) {                                              \
                T v = alpha * acc[i * ldt + j];                                         \
                if (beta != 0)                                                          \
                    v += beta * ci[j];                                                  \
                if (bias)                                                               \
                    v += bias[j];                                                       \
                if (relu && !(v > 0))                                                    \
                    v = 0;                                                              \
                ci[j] = v;                                                              \
            }                                                                           \
        }                                                                               \
    }

#endif /* FASTNN_GEMM_TILE_H */
