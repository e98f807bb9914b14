/* double micro-kernel, AVX-512, 8 x 24 tile (the shape of AOCL's zen4 dgemm 8x24):
 * per k step 3 vector loads of B, 8 broadcasts of A, 24 FMAs into 24 zmm accumulators.
 * Named accumulators (an array spills); masked loads and stores for edge tiles, and an
 * edge tile of at most 8 or 16 columns runs only its vectors' multiply-adds (n = 128 is
 * 5 tiles and 8 columns: 256 x 784 x 128 x.W 43-46 -> 48-51 GFLOP/s on one thread,
 * 60,000 x 784 x 128 73-78 -> 86-89 on two; Zen 4, C harness, alternated builds). Two
 * variants read a full 8-row tile of A in place instead of from A~ (_a_rows, _a_cols:
 * src_c/gemm_driver.h, a_in_place). */
#include <immintrin.h>

#include "gemm_internal.h"

#define ROW_DECL(i)                         \
    __m512d c##i##_0 = _mm512_setzero_pd(); \
    __m512d c##i##_1 = _mm512_setzero_pd(); \
    __m512d c##i##_2 = _mm512_setzero_pd();
#define ROW_FMA_OF(i, x)                                  \
    {                                                     \
        __m512d ai = _mm512_set1_pd(x);                   \
        c##i##_0 = _mm512_fmadd_pd(ai, b0, c##i##_0);     \
        if (vecs > 1)                                     \
            c##i##_1 = _mm512_fmadd_pd(ai, b1, c##i##_1); \
        if (vecs > 2)                                     \
            c##i##_2 = _mm512_fmadd_pd(ai, b2, c##i##_2); \
    }
#define ROW_FMA(i) ROW_FMA_OF(i, a[i])             /* packed A~: the 8 rows of a k step */
#define ROW_FMA_IN_PLACE(i) ROW_FMA_OF(i, a[(i) * lda + p]) /* A read in place */
#define ROW_STORE(i)                                                                        \
    if (i < mr) {                                                                           \
        double *ci = c + (i) * ldc;                                                         \
        store_vec(ci, c##i##_0, m0, va, vb, beta != 0.0, bias != NULL, bb0, relu);          \
        if (vecs > 1)                                                                       \
            store_vec(ci + 8, c##i##_1, m1, va, vb, beta != 0.0, bias != NULL, bb1, relu);  \
        if (vecs > 2)                                                                       \
            store_vec(ci + 16, c##i##_2, m2, va, vb, beta != 0.0, bias != NULL, bb2, relu); \
    }

/* C := alpha * acc + beta * C (+ bias) (relu; NaN -> 0 as the activations do) */
static inline void store_vec(double *c, __m512d x, __mmask8 m, __m512d va, __m512d vb,
                             int use_beta, int use_bias, __m512d bb, int relu)
{
    x = _mm512_mul_pd(x, va);
    if (use_beta)
        x = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m, c), x);
    if (use_bias)
        x = _mm512_add_pd(x, bb);
    if (relu)
        x = _mm512_max_pd(x, _mm512_setzero_pd());
    _mm512_mask_storeu_pd(c, m, x);
}

static __mmask8 lanes(int n)
{
    return n >= 8 ? (__mmask8)0xFF : n > 0 ? (__mmask8)((1u << n) - 1) : 0;
}

/* The k loop and the write-out of the tile over its first VECS vectors of 8 columns (an
 * edge tile of at most 8 or 16 columns, n = 128's last, runs a third or two thirds of the
 * multiply-adds); ROW_FMA_ reads row i's value of k step p, A_STEP advances a per k step. */
#define KERNEL_BODY(ROW_FMA_, A_STEP, VECS)                                                  \
    const int vecs = VECS;                                                                   \
    ROW_DECL(0) ROW_DECL(1) ROW_DECL(2) ROW_DECL(3)                                          \
    ROW_DECL(4) ROW_DECL(5) ROW_DECL(6) ROW_DECL(7)                                          \
    for (int64_t p = 0; p < k; p++) {                                                        \
        __m512d b0 = _mm512_loadu_pd(b);                                                     \
        __m512d b1 = vecs > 1 ? _mm512_loadu_pd(b + 8) : _mm512_setzero_pd();                \
        __m512d b2 = vecs > 2 ? _mm512_loadu_pd(b + 16) : _mm512_setzero_pd();               \
        ROW_FMA_(0) ROW_FMA_(1) ROW_FMA_(2) ROW_FMA_(3)                                      \
        ROW_FMA_(4) ROW_FMA_(5) ROW_FMA_(6) ROW_FMA_(7)                                      \
        a += A_STEP;                                                                         \
        b += rs_b;                                                                           \
    }                                                                                        \
    __mmask8 m0 = lanes(nr), m1 = lanes(nr - 8), m2 = lanes(nr - 16);                        \
    __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);                           \
    __m512d bb0 = _mm512_setzero_pd(), bb1 = _mm512_setzero_pd(), bb2 = _mm512_setzero_pd(); \
    if (bias) {                                                                              \
        bb0 = _mm512_maskz_loadu_pd(m0, bias);                                               \
        bb1 = _mm512_maskz_loadu_pd(m1, bias + 8);                                           \
        bb2 = _mm512_maskz_loadu_pd(m2, bias + 16);                                          \
    }                                                                                        \
    ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3)                                      \
    ROW_STORE(4) ROW_STORE(5) ROW_STORE(6) ROW_STORE(7)

/* The three widths of a body, chosen by the tile's columns. */
#define KERNEL_BODIES(ROW_FMA_, A_STEP)  \
    if (nr <= 8) {                       \
        KERNEL_BODY(ROW_FMA_, A_STEP, 1) \
    } else if (nr <= 16) {               \
        KERNEL_BODY(ROW_FMA_, A_STEP, 2) \
    } else {                             \
        KERNEL_BODY(ROW_FMA_, A_STEP, 3) \
    }

void fnn_dgemm_avx512_8x24(int64_t k, const double *a, const double *b, int64_t rs_b,
                           double *c, int64_t ldc, double alpha, double beta, int mr,
                           int nr, const double *bias, int relu)
{
    KERNEL_BODIES(ROW_FMA, 8)
}

/* The same 8-row tile with A read in place, row i at a + i * lda (row-major, k
 * contiguous): the same multiply-adds in the same order, so the same bits as from A~. */
void fnn_dgemm_avx512_8x24_a_rows(int64_t k, const double *a, int64_t lda, const double *b,
                                  int64_t rs_b, double *c, int64_t ldc, double alpha,
                                  double beta, int nr, const double *bias, int relu)
{
    const int mr = 8;
    KERNEL_BODIES(ROW_FMA_IN_PLACE, 0)
}

/* The same 8-row tile with A read in place as stored transposed, the 8 values of k step
 * p at a + p * lda (the layout of A~ with lda for 8). */
void fnn_dgemm_avx512_8x24_a_cols(int64_t k, const double *a, int64_t lda, const double *b,
                                  int64_t rs_b, double *c, int64_t ldc, double alpha,
                                  double beta, int nr, const double *bias, int relu)
{
    const int mr = 8;
    KERNEL_BODIES(ROW_FMA, lda)
}
