/* float micro-kernel, AVX2 + FMA, 6 x 16 tile (the shape of BLIS's haswell 6x16):
 * per k step 2 vector loads of B, 6 broadcasts of A, 12 FMAs into 12 ymm accumulators
 * (named: an accumulator array made GCC spill every k step, 41 % of peak instead of 99 %).
 * Edge tiles are written through a small tile on the stack by the same vector code, so
 * every element is computed the same way wherever it lies; tiles of at most 2 or 4 rows
 * run a shorter body. */
#include <immintrin.h>
#include <string.h>

#include "gemm_internal.h"

#define MR 6
#define NR 16

#define ROW_DECL(i) __m256 c##i##_0 = _mm256_setzero_ps(), c##i##_1 = _mm256_setzero_ps();
#define ROW_FMA(i)                                     \
    {                                                  \
        __m256 ai = _mm256_broadcast_ss(a + i);        \
        c##i##_0 = _mm256_fmadd_ps(ai, b0, c##i##_0);  \
        c##i##_1 = _mm256_fmadd_ps(ai, b1, c##i##_1);  \
    }
#define ROW_STORE(i) store_row(ct + (i) * ldt, c##i##_0, c##i##_1, va, vb, use_beta, bt, relu);

/* C row := alpha * acc + beta * C row (+ bias) (relu; NaN -> 0 as the activations do) */
static inline void store_row(float *c, __m256 x0, __m256 x1, __m256 va, __m256 vb,
                             int use_beta, const float *bias, int relu)
{
    x0 = _mm256_mul_ps(x0, va);
    x1 = _mm256_mul_ps(x1, va);
    if (use_beta) {
        x0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), x0);
        x1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), x1);
    }
    if (bias) {
        x0 = _mm256_add_ps(x0, _mm256_loadu_ps(bias));
        x1 = _mm256_add_ps(x1, _mm256_loadu_ps(bias + 8));
    }
    if (relu) {
        x0 = _mm256_max_ps(x0, _mm256_setzero_ps());
        x1 = _mm256_max_ps(x1, _mm256_setzero_ps());
    }
    _mm256_storeu_ps(c, x0);
    _mm256_storeu_ps(c + 8, x1);
}

/* The k loop and the write-out of the first ROWS rows of the 6-row panel: a tile of at
 * most 2 or 4 rows (the last of m = 32, 64, 128, ...) runs a shorter body instead of
 * computing 6 rows and storing fewer; each element gets the same arithmetic. */
#define KERNEL_BODY(ROWS, ROWS_DECL, ROWS_FMA, ROWS_STORE)                                \
    fnn_prefetch_tile(c, ldc * (int64_t)sizeof(float), mr, NR * sizeof(float));           \
    ROWS_DECL                                                                             \
    FNN_UNROLL_K for (int64_t p = 0; p < k; p++) {                                        \
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                       \
        ROWS_FMA                                                                          \
        a += MR;                                                                          \
        b += rs_b;                                                                        \
    }                                                                                     \
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);                          \
    int use_beta = beta != 0.0f;                                                          \
    float tile[MR * NR], tbias[NR];                                                       \
    float *ct = c;                                                                        \
    int64_t ldt = ldc;                                                                    \
    const float *bt = bias;                                                               \
    int edge = mr < ROWS || nr < NR;                                                      \
    if (edge) {                                                                           \
        ct = tile;                                                                        \
        ldt = NR;                                                                         \
        if (use_beta)                                                                     \
            for (int i = 0; i < mr; i++)                                                  \
                memcpy(tile + i * NR, c + i * ldc, (size_t)nr * sizeof(float));            \
        if (bias) {                                                                       \
            memset(tbias, 0, sizeof(tbias));                                              \
            memcpy(tbias, bias, (size_t)nr * sizeof(float));                              \
            bt = tbias;                                                                   \
        }                                                                                 \
    }                                                                                     \
    ROWS_STORE                                                                            \
    if (edge)                                                                             \
        for (int i = 0; i < mr; i++)                                                      \
            memcpy(c + i * ldc, tile + i * NR, (size_t)nr * sizeof(float));

#define DECL2 ROW_DECL(0) ROW_DECL(1)
#define FMA2 ROW_FMA(0) ROW_FMA(1)
#define STORE2 ROW_STORE(0) ROW_STORE(1)
#define DECL4 DECL2 ROW_DECL(2) ROW_DECL(3)
#define FMA4 FMA2 ROW_FMA(2) ROW_FMA(3)
#define STORE4 STORE2 ROW_STORE(2) ROW_STORE(3)
#define DECL6 DECL4 ROW_DECL(4) ROW_DECL(5)
#define FMA6 FMA4 ROW_FMA(4) ROW_FMA(5)
#define STORE6 STORE4 ROW_STORE(4) ROW_STORE(5)

static void rows_2(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                   int64_t ldc, float alpha, float beta, int mr, int nr, const float *bias,
                   int relu)
{
    KERNEL_BODY(2, DECL2, FMA2, STORE2)
}

static void rows_4(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                   int64_t ldc, float alpha, float beta, int mr, int nr, const float *bias,
                   int relu)
{
    KERNEL_BODY(4, DECL4, FMA4, STORE4)
}

void fnn_sgemm_avx2_6x16(int64_t k, const float *a, const float *b, int64_t rs_b,
                         float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                         const float *bias, int relu)
{
    if (mr <= 2) {
        rows_2(k, a, b, rs_b, c, ldc, alpha, beta, mr, nr, bias, relu);
        return;
    }
    if (mr <= 4) {
        rows_4(k, a, b, rs_b, c, ldc, alpha, beta, mr, nr, bias, relu);
        return;
    }
    KERNEL_BODY(6, DECL6, FMA6, STORE6)
}
