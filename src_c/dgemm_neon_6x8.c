/* double micro-kernel, NEON (AArch64 Advanced SIMD), 6 x 8 tile: per k step 4 vector
 * loads of B (8 columns), 3 of A (6 rows) and 24 multiply-adds by lane (fmla v.2d,
 * v.d[i]) into 24 accumulators, 31 of the 32 vector registers. It is the tile of BLIS's
 * ARMv8 dgemm kernel (6 x 8). As in src_c/sgemm_neon_8x12.c: named accumulators, edge
 * tiles that store only their mr rows and nr columns, the same arithmetic for every
 * element wherever the tile ends. Compiled only for AArch64. */
#include <arm_neon.h>

#include "gemm_internal.h"

#define ROW_DECL(i)                                                                       \
    float64x2_t c##i##_0 = vdupq_n_f64(0.0), c##i##_1 = vdupq_n_f64(0.0),                 \
                c##i##_2 = vdupq_n_f64(0.0), c##i##_3 = vdupq_n_f64(0.0);
#define ROW_FMA(i, av, lane)                                                              \
    c##i##_0 = vfmaq_laneq_f64(c##i##_0, b0, av, lane);                                   \
    c##i##_1 = vfmaq_laneq_f64(c##i##_1, b1, av, lane);                                   \
    c##i##_2 = vfmaq_laneq_f64(c##i##_2, b2, av, lane);                                   \
    c##i##_3 = vfmaq_laneq_f64(c##i##_3, b3, av, lane);
#define ROW_STORE(i)                                                                      \
    if (i < mr)                                                                           \
        store_row(c + (i) * ldc, c##i##_0, c##i##_1, c##i##_2, c##i##_3, nr, alpha, beta, \
                  bias, relu);

/* The epilogue on 8 values: alpha * acc + beta * C (beta != 0 only) (+ bias) (relu,
 * mapping NaN to 0: fmaxnm(NaN, 0) = 0). */
static inline void finish(float64x2_t x[4], const double *c, double alpha, double beta,
                          const double *bias, int relu)
{
    for (int v = 0; v < 4; v++) {
        x[v] = vmulq_n_f64(x[v], alpha);
        if (beta != 0.0)
            x[v] = vfmaq_f64(x[v], vdupq_n_f64(beta), vld1q_f64(c + 2 * v));
        if (bias != NULL)
            x[v] = vaddq_f64(x[v], vld1q_f64(bias + 2 * v));
        if (relu)
            x[v] = vmaxnmq_f64(x[v], vdupq_n_f64(0.0));
    }
}

/* C row := the finished row, its first nr columns only. */
static inline void store_row(double *c, float64x2_t x0, float64x2_t x1, float64x2_t x2,
                             float64x2_t x3, int nr, double alpha, double beta,
                             const double *bias, int relu)
{
    float64x2_t x[4] = {x0, x1, x2, x3};
    if (nr == 8) {
        finish(x, c, alpha, beta, bias, relu);
        for (int v = 0; v < 4; v++)
            vst1q_f64(c + 2 * v, x[v]);
        return;
    }
    double old[8] = {0}, b[8] = {0}, out[8];
    for (int j = 0; j < nr; j++) {
        if (beta != 0.0)
            old[j] = c[j];
        if (bias != NULL)
            b[j] = bias[j];
    }
    finish(x, old, alpha, beta, bias != NULL ? b : NULL, relu);
    for (int v = 0; v < 4; v++)
        vst1q_f64(out + 2 * v, x[v]);
    for (int j = 0; j < nr; j++)
        c[j] = out[j];
}

void fnn_dgemm_neon_6x8(int64_t k, const double *a, const double *b, int64_t rs_b,
                        double *c, int64_t ldc, double alpha, double beta, int mr, int nr,
                        const double *bias, int relu)
{
    ROW_DECL(0) ROW_DECL(1) ROW_DECL(2) ROW_DECL(3) ROW_DECL(4) ROW_DECL(5)
    for (int64_t p = 0; p < k; p++) {
        float64x2_t b0 = vld1q_f64(b), b1 = vld1q_f64(b + 2), b2 = vld1q_f64(b + 4),
                    b3 = vld1q_f64(b + 6);
        float64x2_t a0 = vld1q_f64(a), a1 = vld1q_f64(a + 2), a2 = vld1q_f64(a + 4);
        ROW_FMA(0, a0, 0) ROW_FMA(1, a0, 1)
        ROW_FMA(2, a1, 0) ROW_FMA(3, a1, 1)
        ROW_FMA(4, a2, 0) ROW_FMA(5, a2, 1)
        a += 6;
        b += rs_b;
    }
    ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3) ROW_STORE(4) ROW_STORE(5)
}
