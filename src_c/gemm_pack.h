/* The portable pack loop as a macro, instantiated with the baseline flags
 * (src_c/gemm_pack.c): the generic kernels' pack. The vectorised routines of
 * src_c/gemm_pack_avx2.c and src_c/gemm_pack_avx512.c write the same panels.
 *
 * The four transpose cases reduce to two memory patterns: the panel direction is
 * contiguous (sx == 1: copy runs of `panel` values per k step) or the k direction is
 * contiguous (sp == 1: a gather, read along k and scatter with stride `panel`).
 */
#ifndef FASTNN_GEMM_PACK_H
#define FASTNN_GEMM_PACK_H

#include <string.h>

#include "gemm_internal.h"

#define DEFINE_PACK(NAME, T)                                                            \
    void NAME(int64_t w, int64_t kc, const T *src, int64_t sx, int64_t sp, int panel,   \
              T *dst)                                                                   \
    {                                                                                   \
        for (int64_t x0 = 0; x0 < w; x0 += panel) {                                     \
            int64_t wn = w - x0 < panel ? w - x0 : panel;                               \
            const T *s = src + x0 * sx;                                                 \
            if (sx == 1) {                                                              \
                for (int64_t p = 0; p < kc; p++) {                                      \
                    memcpy(dst + p * panel, s + p * sp, (size_t)wn * sizeof(T));        \
                    for (int64_t x = wn; x < panel; x++)                                \
                        dst[p * panel + x] = 0;                                         \
                }                                                                       \
            } else {                                                                    \
                for (int64_t x = 0; x < wn; x++)                                        \
                    for (int64_t p = 0; p < kc; p++)                                    \
                        dst[p * panel + x] = s[x * sx + p * sp];                        \
                for (int64_t p = 0; p < kc; p++)                                        \
                    for (int64_t x = wn; x < panel; x++)                                \
                        dst[p * panel + x] = 0;                                         \
            }                                                                           \
            dst += (int64_t)panel * kc;                                                 \
        }                                                                               \
    }

/* dst := src^T (fnn_s_transpose_t) in 8 x 8 blocks, so that the reads along src's rows
 * and the writes along dst's rows both stay within a few cache lines. */
#define DEFINE_TRANSPOSE(NAME, T)                                                       \
    void NAME(int64_t rows, int64_t cols, const T *src, int64_t lds, T *dst, int64_t ldd) \
    {                                                                                   \
        for (int64_t i0 = 0; i0 < rows; i0 += 8)                                        \
            for (int64_t j0 = 0; j0 < cols; j0 += 8) {                                  \
                int64_t i1 = rows - i0 < 8 ? rows : i0 + 8;                             \
                int64_t j1 = cols - j0 < 8 ? cols : j0 + 8;                             \
                for (int64_t i = i0; i < i1; i++)                                       \
                    for (int64_t j = j0; j < j1; j++)                                   \
                        dst[j * ldd + i] = src[i * lds + j];                            \
            }                                                                           \
    }

#endif /* FASTNN_GEMM_PACK_H */
