/* int8 micro-kernel, AVX2 without VNNI, 6 x 16 tile: both operands widened to int16 (A
 * when quantized, B~ when packed), then per k pair 2 vector loads of B~, 6 broadcasts of
 * a pair of A and 12 vpmaddwd + vpaddd. vpmaddubsw would take the bytes as they are, but
 * its int16 sums of two u8 x s8 products saturate (255 * 127 * 2 > 32767), so it cannot
 * give the exact integers of the other kernels; vpmaddwd on int16 never saturates here.
 * Also the AVX2 row quantization into int16 and into q + 128 bytes (the AVX-VNNI
 * kernel's format). */
#include "qgemm_avx2_tile.h"

#define ROW_MADD(i)                                                                       \
    {                                                                                     \
        __m256i ai = _mm256_set1_epi32(*(const int32_t *)(a16 + (i) * lda + 2 * g));     \
        c##i##_0 = _mm256_add_epi32(c##i##_0, _mm256_madd_epi16(ai, b0));                 \
        c##i##_1 = _mm256_add_epi32(c##i##_1, _mm256_madd_epi16(ai, b1));                 \
    }

void fnn_q8_ukr_avx2_6x16(int64_t k_groups, const void *a, int64_t lda, const void *b,
                          const int32_t *corr, int mr, int nr, const fnn_q8_epilogue *ep,
                          void *c, int64_t ldc)
{
    const int16_t *a16 = (const int16_t *)a;
    const int16_t *b16 = (const int16_t *)b;
    Q8_AVX2_ROWS(Q8_AVX2_DECL)
    for (int64_t g = 0; g < k_groups; g++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b16 + g * 32));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b16 + g * 32 + 16));
        Q8_AVX2_ROWS(ROW_MADD)
    }
    q8_avx2_panel pan;
    q8_avx2_panel_of(&pan, corr, nr, ep);
    Q8_AVX2_ROWS(Q8_AVX2_STORE)
}

/* 8 floats -> their q as 8 int32 */
FNN_FORCE_INLINE __m256i quant8(const float *x, __m256 s)
{
    __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), s));
    return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)),
                            _mm256_set1_epi32(127));
}

/* one scalar, as src_c/qgemm_generic.c's quant_one */
FNN_FORCE_INLINE int quant1(float v)
{
    __m128i q = _mm_cvtps_epi32(_mm_set_ss(v));
    int r = _mm_cvtsi128_si32(q);
    return r < -127 ? -127 : r > 127 ? 127 : r;
}

/* the row's scale; *bad += how many of its values are NaN or infinite */
FNN_FORCE_INLINE float row_scale(const float *x, int64_t k, int64_t *bad)
{
    __m256 sign = _mm256_set1_ps(-0.0f), top = _mm256_setzero_ps(), nonfinite = top;
    const __m256 big = _mm256_set1_ps(3.4028235e38f);
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + p));
        nonfinite = _mm256_or_ps(nonfinite, _mm256_cmp_ps(v, big, _CMP_NLE_UQ));
        top = _mm256_max_ps(top, v);
    }
    int row_bad = _mm256_movemask_ps(nonfinite) != 0;
    float t[8], amax = 0.0f;
    _mm256_storeu_ps(t, top);
    for (int j = 0; j < 8; j++)
        amax = t[j] > amax ? t[j] : amax;
    for (; p < k; p++) {
        float v = x[p] < 0 ? -x[p] : x[p];
        row_bad |= !(v <= 3.4028235e38f);
        amax = v > amax ? v : amax;
    }
    if (row_bad)
        *bad += fnn_q8_count_bad(x, k);
    return fnn_q8_scale(amax);
}

int64_t fnn_q8_quant_avx2_s16(int64_t rows, int64_t k, int64_t kp, const float *x,
                              int64_t ldx, void *a, int64_t lda, float *scale)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        int16_t *ai = (int16_t *)a + i * lda;
        float s = scale[i] = row_scale(xi, k, &bad);
        __m256 vs = _mm256_set1_ps(s);
        int64_t p = 0;
        for (; p + 8 <= k; p += 8) {
            __m256i q = quant8(xi + p, vs);
            __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q),
                                        _mm256_extracti128_si256(q, 1));
            _mm_storeu_si128((__m128i *)(ai + p), w);
        }
        for (; p < k; p++)
            ai[p] = (int16_t)quant1(xi[p] * s);
        for (; p < kp; p++)
            ai[p] = 0;
    }
    return bad;
}

int64_t fnn_q8_quant_avx2_u8(int64_t rows, int64_t k, int64_t kp, const float *x,
                             int64_t ldx, void *a, int64_t lda, float *scale)
{
    int64_t bad = 0;
    __m256i off = _mm256_set1_epi32(128);
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        uint8_t *ai = (uint8_t *)a + i * lda;
        float s = scale[i] = row_scale(xi, k, &bad);
        __m256 vs = _mm256_set1_ps(s);
        int64_t p = 0;
        for (; p + 8 <= k; p += 8) {
            __m256i q = _mm256_add_epi32(quant8(xi + p, vs), off);
            __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q),
                                        _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(ai + p), _mm_packus_epi16(w, w));
        }
        for (; p < k; p++)
            ai[p] = (uint8_t)(quant1(xi[p] * s) + 128);
        memset(ai + k, 128, (size_t)(kp - k));
    }
    return bad;
}
