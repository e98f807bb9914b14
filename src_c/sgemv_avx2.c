/* float C := A B for a row or two of A, AVX2+FMA: src_c/sgemv_avx512.c with 8-float
 * vectors and column blocks of at most 64 for one row, 32 for two (2 x 4 accumulators
 * leave room in the 16 ymm registers for the loads of B). */
#include <immintrin.h>

#include "gemm_internal.h"

/* the first n of 8 lanes: the sign bit of each 32-bit lane selects it */
static inline __m256i lanes(int64_t n)
{
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int32_t count = n >= 8 ? 8 : n > 0 ? (int32_t)n : 0;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), index);
}

FNN_FORCE_INLINE void block(int R, int NV, int64_t k, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float *c, int64_t ldc, int64_t w)
{
    __m256 acc[2][8];
    __m256i m[8];
    for (int v = 0; v < NV; v++) {
        m[v] = lanes(w - 8 * v);
        for (int r = 0; r < R; r++)
            acc[r][v] = _mm256_setzero_ps();
    }
    const int full = w == 8 * NV; /* plain loads: AVX2's masked loads are slower */
    for (int64_t p = 0; p < k; p++) {
        const float *brow = b + p * ldb;
        __m256 a0 = _mm256_set1_ps(a[p]);
        __m256 a1 = R > 1 ? _mm256_set1_ps(a[lda + p]) : a0;
        for (int v = 0; v < NV; v++) {
            __m256 bv = full ? _mm256_loadu_ps(brow + 8 * v)
                             : _mm256_maskload_ps(brow + 8 * v, m[v]);
            acc[0][v] = _mm256_fmadd_ps(a0, bv, acc[0][v]);
            if (R > 1)
                acc[1][v] = _mm256_fmadd_ps(a1, bv, acc[1][v]);
        }
    }
    for (int v = 0; v < NV; v++)
        for (int r = 0; r < R; r++)
            _mm256_maskstore_ps(c + r * ldc + 8 * v, m[v], acc[r][v]);
}

#define VL 8
#include "sgemv_loop.h"

SGEMV_ENTRY(fnn_sgemv_avx2, 64, 32)
