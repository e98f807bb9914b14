/* double micro-kernel, AVX2 + FMA, 6 x 8 tile (the shape of BLIS's haswell 6x8):
 * per k step 2 vector loads of B, 6 broadcasts of A, 12 FMAs into 12 named ymm
 * accumulators. Edge tiles go through a stack tile with the same vector write-out. */
#include <immintrin.h>
#include <string.h>

#include "gemm_internal.h"

#define MR 6
#define NR 8

#define ROW_DECL(i) __m256d c##i##_0 = _mm256_setzero_pd(), c##i##_1 = _mm256_setzero_pd();
#define ROW_FMA(i)                                     \
    {                                                  \
        __m256d ai = _mm256_broadcast_sd(a + i);       \
        c##i##_0 = _mm256_fmadd_pd(ai, b0, c##i##_0);  \
        c##i##_1 = _mm256_fmadd_pd(ai, b1, c##i##_1);  \
    }
#define ROW_STORE(i) store_row(ct + (i) * ldt, c##i##_0, c##i##_1, va, vb, use_beta, bt, relu);

/* C row := alpha * acc + beta * C row (+ bias) (relu; NaN -> 0 as the activations do) */
static inline void store_row(double *c, __m256d x0, __m256d x1, __m256d va, __m256d vb,
                             int use_beta, const double *bias, int relu)
{
    x0 = _mm256_mul_pd(x0, va);
    x1 = _mm256_mul_pd(x1, va);
    if (use_beta) {
        x0 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(c), x0);
        x1 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + 4), x1);
    }
    if (bias) {
        x0 = _mm256_add_pd(x0, _mm256_loadu_pd(bias));
        x1 = _mm256_add_pd(x1, _mm256_loadu_pd(bias + 4));
    }
    if (relu) {
        x0 = _mm256_max_pd(x0, _mm256_setzero_pd());
        x1 = _mm256_max_pd(x1, _mm256_setzero_pd());
    }
    _mm256_storeu_pd(c, x0);
    _mm256_storeu_pd(c + 4, x1);
}

void fnn_dgemm_avx2_6x8(int64_t k, const double *a, const double *b, int64_t rs_b,
                        double *c, int64_t ldc, double alpha, double beta, int mr, int nr,
                        const double *bias, int relu)
{
    fnn_prefetch_tile(c, ldc * (int64_t)sizeof(double), mr, NR * sizeof(double));
    ROW_DECL(0) ROW_DECL(1) ROW_DECL(2) ROW_DECL(3) ROW_DECL(4) ROW_DECL(5)
    FNN_UNROLL_K for (int64_t p = 0; p < k; p++) {
        __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
        ROW_FMA(0) ROW_FMA(1) ROW_FMA(2) ROW_FMA(3) ROW_FMA(4) ROW_FMA(5)
        a += MR;
        b += rs_b;
    }
    __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    int use_beta = beta != 0.0;
    double tile[MR * NR], tbias[NR];
    double *ct = c;
    int64_t ldt = ldc;
    const double *bt = bias;
    int edge = mr < MR || nr < NR;
    if (edge) {
        ct = tile;
        ldt = NR;
        if (use_beta)
            for (int i = 0; i < mr; i++)
                memcpy(tile + i * NR, c + i * ldc, (size_t)nr * sizeof(double));
        if (bias) {
            memset(tbias, 0, sizeof(tbias));
            memcpy(tbias, bias, (size_t)nr * sizeof(double));
            bt = tbias;
        }
    }
    ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3) ROW_STORE(4) ROW_STORE(5)
    if (edge)
        for (int i = 0; i < mr; i++)
            memcpy(c + i * ldc, tile + i * NR, (size_t)nr * sizeof(double));
}
