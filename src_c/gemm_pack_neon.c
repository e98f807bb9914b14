/* NEON pack routines (AArch64), used with the NEON micro-kernels. Both memory patterns of
 * gemm_pack.h, vectorised as in src_c/gemm_pack_avx512.c:
 *  - sx == 1 (op(B) row-major, op(A) stored transposed): per k step, vector copies of
 *    the panel's values (every panel of the NEON tiles, 8 or 12 floats and 6 or 8
 *    doubles, is a whole number of vectors; on Zen 4 the order of the copies, panel by
 *    panel or row by row, made no difference);
 *  - sp == 1 (op(A) row-major: every forward product; op(B) stored transposed, dZ . W^T):
 *    blocks of 4 x 4 floats (2 x 2 doubles) loaded along k, transposed in registers and
 *    stored as k steps. On x86 this pattern, done element by element, made small-batch
 *    products up to 2x slower than OpenBLAS (Zen 3); on ARM it has not been timed.
 * The edge panel of a block (fewer than `panel` rows or columns) and the k steps past
 * the last whole block take the portable element loop. */
#include <arm_neon.h>

#include "gemm_internal.h"

static inline void transpose4(float32x4_t r[4])
{
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

static inline void transpose2(float64x2_t r[2])
{
    float64x2_t t0 = vtrn1q_f64(r[0], r[1]), t1 = vtrn2q_f64(r[0], r[1]);
    r[0] = t0;
    r[1] = t1;
}

/* The pack loop for both dtypes: T the element type, VEC its vector, VL the lanes, LOAD
 * / STORE the vector operations, TRANSPOSE the VL x VL transpose. */
#define DEFINE_PACK_NEON(NAME)                                                            \
    void NAME(int64_t w, int64_t kc, const T *src, int64_t sx, int64_t sp, int panel,     \
              T *dst)                                                                     \
    {                                                                                     \
        for (int64_t x0 = 0; x0 < w; x0 += panel, dst += (int64_t)panel * kc) {           \
            int64_t wn = w - x0 < panel ? w - x0 : panel;                                 \
            const T *s = src + x0 * sx;                                                   \
            int64_t p = 0;                                                                \
            if (wn == panel && panel % VL == 0 && sx == 1) {                              \
                for (; p < kc; p++)                                                       \
                    for (int g = 0; g < panel; g += VL)                                   \
                        STORE(dst + p * panel + g, LOAD(s + p * sp + g));                 \
            } else if (wn == panel && panel % VL == 0 && sp == 1) {                       \
                for (; p + VL <= kc; p += VL)                                             \
                    for (int g = 0; g < panel; g += VL) {                                 \
                        VEC r[VL];                                                        \
                        for (int i = 0; i < VL; i++)                                      \
                            r[i] = LOAD(s + (g + i) * sx + p);                            \
                        TRANSPOSE(r);                                                     \
                        for (int q = 0; q < VL; q++)                                      \
                            STORE(dst + (p + q) * panel + g, r[q]);                       \
                    }                                                                     \
            }                                                                             \
            for (; p < kc; p++) /* what is left: the portable loop */                     \
                for (int x = 0; x < panel; x++)                                           \
                    dst[p * panel + x] = x < wn ? s[x * sx + p * sp] : (T)0;              \
        }                                                                                 \
    }

#define T float
#define VEC float32x4_t
#define VL 4
#define LOAD vld1q_f32
#define STORE vst1q_f32
#define TRANSPOSE transpose4
DEFINE_PACK_NEON(fnn_s_pack_neon)
#undef T
#undef VEC
#undef VL
#undef LOAD
#undef STORE
#undef TRANSPOSE

#define T double
#define VEC float64x2_t
#define VL 2
#define LOAD vld1q_f64
#define STORE vst1q_f64
#define TRANSPOSE transpose2
DEFINE_PACK_NEON(fnn_d_pack_neon)
