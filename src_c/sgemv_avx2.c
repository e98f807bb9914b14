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

/* acc (+ bias) (relu; NaN -> 0 as the activations do) into the first w <= 8 floats of c:
 * a plain store when w == 8, else the partial vector spilled and copied, because masked
 * stores are slow on AMD (VMASKMOVPS: one every ~12 cycles on Zen 3) */
static inline void store_vec(float *c, __m256 acc, const float *bias, int relu, int64_t w,
                             __m256i m)
{
    if (bias)
        acc = _mm256_add_ps(acc, w == 8 ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, m));
    if (relu)
        acc = _mm256_max_ps(acc, _mm256_setzero_ps());
    if (w == 8) {
        _mm256_storeu_ps(c, acc);
        return;
    }
    float spill[8];
    _mm256_storeu_ps(spill, acc);
    for (int64_t j = 0; j < w; j++)
        c[j] = spill[j];
}

FNN_FORCE_INLINE void block(int R, int NV, int64_t k, const float *a, int64_t rs_a,
                            int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                            int64_t w, const float *bias, int relu)
{
    __m256 acc[16], ar[4]; /* acc[r * NV + v]: at most 16, all in registers */
    __m256i m[8];
    for (int v = 0; v < NV; v++) {
        m[v] = lanes(w - 8 * v);
        for (int r = 0; r < R; r++)
            acc[r * NV + v] = _mm256_setzero_ps();
    }
    const int full = w == 8 * NV; /* plain loads: AVX2's masked loads are slower */
    for (int64_t p = 0; p < k; p++) {
        const float *brow = b + p * ldb;
        for (int r = 0; r < R; r++)
            ar[r] = _mm256_set1_ps(a[r * rs_a + p * cs_a]);
        for (int v = 0; v < NV; v++) {
            __m256 bv = full ? _mm256_loadu_ps(brow + 8 * v)
                             : _mm256_maskload_ps(brow + 8 * v, m[v]);
            for (int r = 0; r < R; r++)
                acc[r * NV + v] = _mm256_fmadd_ps(ar[r], bv, acc[r * NV + v]);
        }
    }
    FNN_UNROLL_ALL for (int v = 0; v < NV; v++) {
        int64_t left = w - 8 * v < 8 ? w - 8 * v : 8;
        FNN_UNROLL_ALL for (int r = 0; r < R; r++)
            store_vec(c + r * ldc + 8 * v, acc[r * NV + v], bias ? bias + 8 * v : NULL, relu,
                      left, m[v]);
    }
}

#define VL 8
#include "sgemv_loop.h"

SGEMV_ENTRY(fnn_sgemv_avx2, 64, 32)
