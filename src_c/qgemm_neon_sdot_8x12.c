/* int8 micro-kernel, NEON with the dot-product extension (ARMv8.2 sdot, s8 x s8), 8 x 12
 * tile: per k group of 4, 3 vector loads of B~ (12 columns x 4 bytes), 8 duplicated 4-byte
 * groups of A (q itself: sdot is signed on both sides, no offset) and 24 sdot into 24
 * accumulators. Built for the dot-product extension by the target pragma below and run
 * only where the CPU has it (src_c/isa.c, fnn_isa_dot_features). */
#if defined(__aarch64__) || defined(_M_ARM64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
#include <arm_neon.h>

#include "qgemm.h"

#define MR 8
#define NR 12

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define DECL(i) int32x4_t c##i##_0 = vdupq_n_s32(0), c##i##_1 = c##i##_0, c##i##_2 = c##i##_0;
#define DOT(i)                                                                           \
    {                                                                                    \
        int8x16_t ai = vreinterpretq_s8_s32(                                             \
            vld1q_dup_s32((const int32_t *)(a8 + (i) * lda + 4 * g)));                   \
        c##i##_0 = vdotq_s32(c##i##_0, b0, ai);                                          \
        c##i##_1 = vdotq_s32(c##i##_1, b1, ai);                                          \
        c##i##_2 = vdotq_s32(c##i##_2, b2, ai);                                          \
    }
#define KEEP(i)                                \
    vst1q_s32(acc[i], c##i##_0);               \
    vst1q_s32(acc[i] + 4, c##i##_1);           \
    vst1q_s32(acc[i] + 8, c##i##_2);

void fnn_q8_ukr_neon_sdot_8x12(int64_t k_groups, const void *a, int64_t lda, const void *b,
                               const int32_t *corr, int mr, int nr,
                               const fnn_q8_epilogue *ep, void *c, int64_t ldc)
{
    const int8_t *a8 = (const int8_t *)a, *b8 = (const int8_t *)b;
    ROWS(DECL)
    for (int64_t g = 0; g < k_groups; g++) {
        int8x16_t b0 = vld1q_s8(b8 + g * 48), b1 = vld1q_s8(b8 + g * 48 + 16),
                  b2 = vld1q_s8(b8 + g * 48 + 32);
        ROWS(DOT)
    }
    int32_t acc[MR][NR];
    ROWS(KEEP)
    fnn_q8_store_tile(&acc[0][0], NR, mr, nr, corr, ep, c, ldc);
}
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
