/* bfloat16 pairs from float32 vectors, as vcvtne2ps2bf16 rounds them, for the
 * vdpbf16ps kernels (src_c/bf16_avx512bf16.c, src_c/bf16_few_avx512bf16.c; the layouts
 * there). Compiled only with -mavx512bf16; the names carry the ISA, as every function
 * with AVX-512 code in it must (.ci/check_wheel.py). */
#ifndef FASTNN_BF16_PAIRS_AVX512BF16_H
#define FASTNN_BF16_PAIRS_AVX512BF16_H

#include <immintrin.h>
#include <stdint.h>

/* 16 pairs from 16 values of row lo (k = 2r) and 16 of row hi (k = 2r + 1). */
static inline __m512i pairs_of_avx512bf16(__m512 lo, __m512 hi)
{
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25,
                                         9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2,
                                         17, 1, 16, 0);
    __m512i words = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* lo in 0..15, hi in 16..31 */
    return _mm512_permutexvar_epi16(idx, words);
}

/* 16 pairs from 32 values in k order (pair r = values 2r, 2r + 1). */
static inline __m512i pairs_in_order_avx512bf16(__m512 first, __m512 second)
{
    return (__m512i)_mm512_cvtne2ps_pbh(second, first);
}

/* Masks of the first and second 16 of 32 values of which `left` remain. */
static inline void masks_of_avx512bf16(int64_t left, __mmask16 *m0, __mmask16 *m1)
{
    *m0 = (__mmask16)(left >= 16 ? 0xFFFF : left > 0 ? (1u << left) - 1 : 0);
    *m1 = (__mmask16)(left >= 32 ? 0xFFFF : left > 16 ? (1u << (left - 16)) - 1 : 0);
}

/* 16 pairs from s[0 .. 32), of which `left` values lie before k (the rest read as 0). */
static inline __m512i pairs_at_avx512bf16(const float *s, int64_t left)
{
    if (left >= 32)
        return pairs_in_order_avx512bf16(_mm512_loadu_ps(s), _mm512_loadu_ps(s + 16));
    __mmask16 m0, m1;
    masks_of_avx512bf16(left, &m0, &m1);
    return pairs_in_order_avx512bf16(_mm512_maskz_loadu_ps(m0, s), _mm512_maskz_loadu_ps(m1, s + 16));
}

/* B~'s 16 + 16 pairs of rows 2r (at s) and 2r + 1 (at s + ldb; zero unless `two`) in
 * the columns of the masks m0, m1 (the rest zero), into b0, b1. */
static inline void row_pairs_avx512bf16(const float *s, int64_t ldb, int two, __mmask16 m0,
                                        __mmask16 m1, __m512i *b0, __m512i *b1)
{
    __m512 lo0 = _mm512_maskz_loadu_ps(m0, s), lo1 = _mm512_maskz_loadu_ps(m1, s + 16);
    __m512 hi0 = two ? _mm512_maskz_loadu_ps(m0, s + ldb) : _mm512_setzero_ps();
    __m512 hi1 = two ? _mm512_maskz_loadu_ps(m1, s + ldb + 16) : _mm512_setzero_ps();
    *b0 = pairs_of_avx512bf16(lo0, hi0);
    *b1 = pairs_of_avx512bf16(lo1, hi1);
}

#endif /* FASTNN_BF16_PAIRS_AVX512BF16_H */
