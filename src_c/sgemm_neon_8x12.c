/* float micro-kernel, NEON (AArch64 Advanced SIMD), 8 x 12 tile: per k step 3 vector
 * loads of B (12 columns), 2 of A (8 rows) and 24 multiply-adds by lane (fmla v.4s,
 * v.s[i]) into 24 accumulators, 29 of the 32 vector registers. It is the tile of the
 * ARMv8 sgemm kernels of BLIS and OpenBLAS (8 x 12 there in their column-major view).
 * The accumulators are named variables, as in the x86 kernels, so that they stay in
 * registers. A tile of at most 4 rows (m = 100, 4, ...) runs a 4-row body. Edge tiles
 * store only their mr rows and nr columns, a partial row through a small buffer; every
 * element gets the same arithmetic wherever the tile ends, so the bits do not depend on
 * it. Compiled only for AArch64, where NEON is part of the baseline. */
#include <arm_neon.h>

#include "gemm_internal.h"

#define ROW_DECL(i)                                                                       \
    float32x4_t c##i##_0 = vdupq_n_f32(0.0f), c##i##_1 = vdupq_n_f32(0.0f),               \
                c##i##_2 = vdupq_n_f32(0.0f);
#define ROW_FMA(i, av, lane)                                                              \
    c##i##_0 = vfmaq_laneq_f32(c##i##_0, b0, av, lane);                                   \
    c##i##_1 = vfmaq_laneq_f32(c##i##_1, b1, av, lane);                                   \
    c##i##_2 = vfmaq_laneq_f32(c##i##_2, b2, av, lane);
#define ROW_STORE(i)                                                                      \
    if (i < mr)                                                                           \
        store_row(c + (i) * ldc, c##i##_0, c##i##_1, c##i##_2, nr, alpha, beta, bias, relu);

/* The epilogue on 12 values: alpha * acc + beta * C (beta != 0 only) (+ bias) (relu,
 * mapping NaN to 0 as the activations do: fmaxnm(NaN, 0) = 0). */
static inline void finish(float32x4_t x[3], const float *c, float alpha, float beta,
                          const float *bias, int relu)
{
    for (int v = 0; v < 3; v++) {
        x[v] = vmulq_n_f32(x[v], alpha);
        if (beta != 0.0f)
            x[v] = vfmaq_f32(x[v], vdupq_n_f32(beta), vld1q_f32(c + 4 * v));
        if (bias != NULL)
            x[v] = vaddq_f32(x[v], vld1q_f32(bias + 4 * v));
        if (relu)
            x[v] = vmaxnmq_f32(x[v], vdupq_n_f32(0.0f));
    }
}

/* C row := the finished row, its first nr columns only. */
static inline void store_row(float *c, float32x4_t x0, float32x4_t x1, float32x4_t x2,
                             int nr, float alpha, float beta, const float *bias, int relu)
{
    float32x4_t x[3] = {x0, x1, x2};
    if (nr == 12) {
        finish(x, c, alpha, beta, bias, relu);
        for (int v = 0; v < 3; v++)
            vst1q_f32(c + 4 * v, x[v]);
        return;
    }
    /* a partial row: C and the bias read into zero-padded buffers, only nr values back */
    float old[12] = {0}, b[12] = {0}, out[12];
    for (int j = 0; j < nr; j++) {
        if (beta != 0.0f)
            old[j] = c[j];
        if (bias != NULL)
            b[j] = bias[j];
    }
    finish(x, old, alpha, beta, bias != NULL ? b : NULL, relu);
    for (int v = 0; v < 3; v++)
        vst1q_f32(out + 4 * v, x[v]);
    for (int j = 0; j < nr; j++)
        c[j] = out[j];
}

#define DECL4 ROW_DECL(0) ROW_DECL(1) ROW_DECL(2) ROW_DECL(3)
#define FMA4 ROW_FMA(0, a0, 0) ROW_FMA(1, a0, 1) ROW_FMA(2, a0, 2) ROW_FMA(3, a0, 3)
#define STORE4 ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3)
#define DECL8 DECL4 ROW_DECL(4) ROW_DECL(5) ROW_DECL(6) ROW_DECL(7)
#define FMA8 FMA4 ROW_FMA(4, a1, 0) ROW_FMA(5, a1, 1) ROW_FMA(6, a1, 2) ROW_FMA(7, a1, 3)
#define STORE8 STORE4 ROW_STORE(4) ROW_STORE(5) ROW_STORE(6) ROW_STORE(7)

/* The k loop and the write-out of the first ROWS rows of the 8-row panel. */
#define KERNEL_BODY(ROWS_DECL, ROWS_FMA, ROWS_STORE, LOAD_A)                              \
    ROWS_DECL                                                                             \
    for (int64_t p = 0; p < k; p++) {                                                     \
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);     \
        LOAD_A                                                                            \
        ROWS_FMA                                                                          \
        a += 8;                                                                           \
        b += rs_b;                                                                        \
    }                                                                                     \
    ROWS_STORE

#define LOAD_A4 float32x4_t a0 = vld1q_f32(a);
#define LOAD_A8 float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);

static void rows_4(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                   int64_t ldc, float alpha, float beta, int mr, int nr, const float *bias,
                   int relu)
{
    KERNEL_BODY(DECL4, FMA4, STORE4, LOAD_A4)
}

void fnn_sgemm_neon_8x12(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                         int64_t ldc, float alpha, float beta, int mr, int nr,
                         const float *bias, int relu)
{
    if (mr <= 4) {
        rows_4(k, a, b, rs_b, c, ldc, alpha, beta, mr, nr, bias, relu);
        return;
    }
    KERNEL_BODY(DECL8, FMA8, STORE8, LOAD_A8)
}
