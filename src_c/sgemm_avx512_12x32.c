/* float micro-kernel, AVX-512, 12 x 32 tile (row-major view of BLIS's skx 32x12):
 * per k step 2 vector loads of B, 12 broadcasts of A, 24 FMAs into 24 zmm accumulators.
 * The accumulators are named variables: GCC spills an accumulator array every k step.
 * The C tile is prefetched before the k loop: on large products it is read back from L3
 * or memory once per k-block (beta = 1), 24 lines at ldc apart that no hardware prefetcher
 * predicts. Zen 4, one thread, C harness, builds alternated: 2048^3 90-100 -> 94-103
 * GFLOP/s, 4096^3 95-98 -> 96-100; the MLP shapes (k <= 784) alike within noise. (The
 * double 8 x 24 kernel measured the same with and without, and has none.)
 * Edge tiles use masked loads and stores; tiles of at most 8 or 4 rows, or of at most 16
 * columns, run a shorter body (same arithmetic per element, so the bits do not depend on
 * where a tile ends). The 16-column body: 2000 x 512 x 48 x.W 70-77 -> 90-94 GFLOP/s on
 * one thread (Zen 4, C harness, alternated builds).
 * The plain write-out (alpha = 1, beta = 0, no bias, no relu: most products) is a copy of
 * its own, without the per-vector tests of the general one, which weigh where k is short:
 * 784 x 32 x 128 x^T.dZ 165 -> 170 GFLOP/s on two threads and 92 -> 100 on one, 784 x 64
 * x 128 192 -> 196 on two (Zen 4, C harness, builds alternated 10 times, medians); the
 * others alike within noise. Multiplying by alpha = 1 changes no bits, so neither does
 * skipping it.
 * Two variants read a full 12-row tile of A in place instead of from A~ (_a_rows,
 * _a_cols: src_c/gemm_driver.h, a_in_place). */
#include <immintrin.h>

#include "gemm_internal.h"

#define ROW_DECL(i)                         \
    __m512 c##i##_0 = _mm512_setzero_ps(); \
    __m512 c##i##_1 = _mm512_setzero_ps();
#define ROW_FMA_OF(i, x)                                  \
    {                                                     \
        __m512 ai = _mm512_set1_ps(x);                    \
        c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);     \
        if (wide)                                         \
            c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1); \
    }
#define ROW_FMA(i) ROW_FMA_OF(i, a[i])             /* packed A~: the 12 rows of a k step */
#define ROW_FMA_IN_PLACE(i) ROW_FMA_OF(i, a[(i) * lda + p]) /* A read in place */
#define ROW_STORE(i)                                                               \
    if (i < mr)                                                                    \
        store_row(c + (i) * ldc, c##i##_0, c##i##_1, m0, m1, va, vb, use_alpha,   \
                  use_beta, use_bias, bb0, bb1, use_relu, wide);

/* 16 values of a C row := alpha * acc + beta * C (+ bias) (relu; NaN -> 0 as the
 * activations do) */
FNN_FORCE_INLINE void store_vec(float *c, __m512 x, __mmask16 m, __m512 va, __m512 vb,
                                int use_alpha, int use_beta, int use_bias, __m512 bb,
                                int relu)
{
    if (use_alpha)
        x = _mm512_mul_ps(x, va);
    if (use_beta)
        x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, c), x);
    if (use_bias)
        x = _mm512_add_ps(x, bb);
    if (relu)
        x = _mm512_max_ps(x, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(c, m, x);
}

/* A C row of the tile: its second 16 columns only in a wide tile */
FNN_FORCE_INLINE void store_row(float *c, __m512 x0, __m512 x1, __mmask16 m0, __mmask16 m1,
                                __m512 va, __m512 vb, int use_alpha, int use_beta,
                                int use_bias, __m512 bb0, __m512 bb1, int relu, int wide)
{
    store_vec(c, x0, m0, va, vb, use_alpha, use_beta, use_bias, bb0, relu);
    if (wide)
        store_vec(c + 16, x1, m1, va, vb, use_alpha, use_beta, use_bias, bb1, relu);
}

/* The k loop and the write-out of the first ROWS rows of the 12-row panel (a tile of at
 * most 8 or 4 rows, the last of m = 32, 128, ..., runs a shorter body instead of
 * computing 12 rows and storing fewer), over 32 columns (WIDE) or the first 16 (an edge
 * tile of at most 16 columns, n = 784's last, runs half the multiply-adds). */
#define KERNEL_BODY(ROWS_DECL, ROWS_FMA, ROWS_STORE, A_STEP, WIDE)                \
    const int wide = WIDE;                                                        \
    fnn_prefetch_tile(c, ldc * (int64_t)sizeof(float), mr, (wide ? 32 : 16) * 4); \
    ROWS_DECL                                                                     \
    for (int64_t p = 0; p < k; p++) {                                             \
        __m512 b0 = _mm512_loadu_ps(b);                                           \
        __m512 b1 = wide ? _mm512_loadu_ps(b + 16) : _mm512_setzero_ps();         \
        ROWS_FMA                                                                  \
        a += A_STEP;                                                              \
        b += rs_b;                                                                \
    }                                                                             \
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);    \
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF                                   \
                 : nr > 16  ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;  \
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                 \
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();                  \
    if (bias) {                                                                   \
        bb0 = _mm512_maskz_loadu_ps(m0, bias);                                    \
        if (wide)                                                                 \
            bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);                           \
    }                                                                             \
    if (alpha == 1.0f && beta == 0.0f && bias == NULL && !relu) {                 \
        const int use_alpha = 0, use_beta = 0, use_bias = 0, use_relu = 0;        \
        ROWS_STORE                                                                \
    } else {                                                                      \
        const int use_alpha = 1, use_beta = beta != 0.0f;                         \
        const int use_bias = bias != NULL, use_relu = relu;                       \
        ROWS_STORE                                                                \
    }

/* Both widths of a body, chosen by the tile's columns. */
#define KERNEL_BODIES(ROWS_DECL, ROWS_FMA, ROWS_STORE, A_STEP)  \
    if (nr <= 16) {                                             \
        KERNEL_BODY(ROWS_DECL, ROWS_FMA, ROWS_STORE, A_STEP, 0) \
    } else {                                                    \
        KERNEL_BODY(ROWS_DECL, ROWS_FMA, ROWS_STORE, A_STEP, 1) \
    }

#define DECL4 ROW_DECL(0) ROW_DECL(1) ROW_DECL(2) ROW_DECL(3)
#define FMA4 ROW_FMA(0) ROW_FMA(1) ROW_FMA(2) ROW_FMA(3)
#define STORE4 ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3)
#define DECL8 DECL4 ROW_DECL(4) ROW_DECL(5) ROW_DECL(6) ROW_DECL(7)
#define FMA8 FMA4 ROW_FMA(4) ROW_FMA(5) ROW_FMA(6) ROW_FMA(7)
#define STORE8 STORE4 ROW_STORE(4) ROW_STORE(5) ROW_STORE(6) ROW_STORE(7)
#define DECL12 DECL8 ROW_DECL(8) ROW_DECL(9) ROW_DECL(10) ROW_DECL(11)
#define FMA12 FMA8 ROW_FMA(8) ROW_FMA(9) ROW_FMA(10) ROW_FMA(11)
#define STORE12 STORE8 ROW_STORE(8) ROW_STORE(9) ROW_STORE(10) ROW_STORE(11)
#define FMA12_IN_PLACE                                                                \
    ROW_FMA_IN_PLACE(0) ROW_FMA_IN_PLACE(1) ROW_FMA_IN_PLACE(2) ROW_FMA_IN_PLACE(3)   \
    ROW_FMA_IN_PLACE(4) ROW_FMA_IN_PLACE(5) ROW_FMA_IN_PLACE(6) ROW_FMA_IN_PLACE(7)   \
    ROW_FMA_IN_PLACE(8) ROW_FMA_IN_PLACE(9) ROW_FMA_IN_PLACE(10) ROW_FMA_IN_PLACE(11)

static void rows_4(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                   int64_t ldc, float alpha, float beta, int mr, int nr, const float *bias,
                   int relu)
{
    KERNEL_BODIES(DECL4, FMA4, STORE4, 12)
}

static void rows_8(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                   int64_t ldc, float alpha, float beta, int mr, int nr, const float *bias,
                   int relu)
{
    KERNEL_BODIES(DECL8, FMA8, STORE8, 12)
}

void fnn_sgemm_avx512_12x32(int64_t k, const float *a, const float *b, int64_t rs_b,
                            float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                            const float *bias, int relu)
{
    if (mr <= 4) {
        rows_4(k, a, b, rs_b, c, ldc, alpha, beta, mr, nr, bias, relu);
        return;
    }
    if (mr <= 8) {
        rows_8(k, a, b, rs_b, c, ldc, alpha, beta, mr, nr, bias, relu);
        return;
    }
    KERNEL_BODIES(DECL12, FMA12, STORE12, 12)
}

/* The same 12-row tile with A read in place, row i at a + i * lda (row-major, k
 * contiguous): the same multiply-adds in the same order, so the same bits as from A~. */
void fnn_sgemm_avx512_12x32_a_rows(int64_t k, const float *a, int64_t lda, const float *b,
                                   int64_t rs_b, float *c, int64_t ldc, float alpha,
                                   float beta, int nr, const float *bias, int relu)
{
    const int mr = 12;
    KERNEL_BODIES(DECL12, FMA12_IN_PLACE, STORE12, 0)
}

/* The same 12-row tile with A read in place as stored transposed, the 12 values of k step
 * p at a + p * lda (the layout of A~ with lda for 12): an x^T.dZ whose x is read where
 * it lies. */
void fnn_sgemm_avx512_12x32_a_cols(int64_t k, const float *a, int64_t lda, const float *b,
                                   int64_t rs_b, float *c, int64_t ldc, float alpha,
                                   float beta, int nr, const float *bias, int relu)
{
    const int mr = 12;
    KERNEL_BODIES(DECL12, FMA12, STORE12, lda)
}
