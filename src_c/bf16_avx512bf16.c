/* The vdpbf16ps route of the bfloat16 GEMM (src_c/bf16.h): packing float32 into
 * bfloat16 pairs and the 12 x 32 register tile. Compiled with -mavx512bf16; run only
 * where src_c/isa.c finds AVX512_BF16.
 *
 * Packed layouts (k-pair r holds k = 2r in its low half, 2r + 1 in its high half, as
 * vdpbf16ps reads them; a pair past k is zero):
 *   A~: panels of MR rows; pair r of row i of a panel at a[r*MR + i];
 *   B~: panels of NR columns over all KP = ceil(k/2) pairs; pair r of column j of
 *       panel q at b[(q*KP + r)*NR + j]; columns past n are zero.
 * The tile holds 24 accumulators and reads 2 vectors of B~ and 12 broadcast pairs of A~
 * per k-pair: 24 of the 32 zmm registers, like the float32 12 x 32 tile.
 */
#include <immintrin.h>

#include "bf16.h"
#include "gemm_internal.h"

/* 16 pairs from 16 values of row lo (k = 2r) and 16 of row hi (k = 2r + 1). */
static inline __m512i pairs_of(__m512 lo, __m512 hi)
{
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25,
                                         9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2,
                                         17, 1, 16, 0);
    __m512i words = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* lo in 0..15, hi in 16..31 */
    return _mm512_permutexvar_epi16(idx, words);
}

/* 16 pairs from 32 values in k order (pair r = values 2r, 2r + 1). */
static inline __m512i pairs_in_order(__m512 first, __m512 second)
{
    return (__m512i)_mm512_cvtne2ps_pbh(second, first);
}

static inline uint32_t pair_scalar(float lo, float hi)
{
    return (uint32_t)fnn_bf16_bits(lo) | ((uint32_t)fnn_bf16_bits(hi) << 16);
}

/* The pairs p0 .. p0+kp of `rows` rows of op(A) (A stored k x m when ta) into A~. */
void fnn_bf16_pack_a_avx512bf16(int ta, int64_t rows, int64_t p0, int64_t kp, int64_t k,
                                const float *a, int64_t lda, uint32_t *dst)
{
    const int MR = FNN_BF16_MR;
    for (int64_t i0 = 0; i0 < rows; i0 += MR) {
        int h = rows - i0 < MR ? (int)(rows - i0) : MR;
        uint32_t *panel = dst + i0 * kp;
        __mmask16 mask = (__mmask16)((1u << h) - 1);
        if (ta) { /* the panel's rows are contiguous in A's rows 2r and 2r + 1 */
            for (int64_t r = 0; r < kp; r++) {
                int64_t k0 = 2 * (p0 + r);
                const float *s = a + k0 * lda + i0;
                __m512 lo = _mm512_maskz_loadu_ps(mask, s);
                __m512 hi = k0 + 1 < k ? _mm512_maskz_loadu_ps(mask, s + lda)
                                       : _mm512_setzero_ps();
                /* MR = 12: the first 12 pairs, zero in rows past h */
                _mm512_mask_storeu_epi32(panel + r * MR, (__mmask16)0x0FFF,
                                         _mm512_maskz_mov_epi32(mask, pairs_of(lo, hi)));
            }
            continue;
        }
        /* row i's pairs are adjacent values: 16 pairs at a time, then placed */
        for (int i = 0; i < MR; i++) {
            const float *s = a + (i0 + i) * lda + 2 * p0;
            int64_t r = 0;
            if (i < h) {
                uint32_t buf[16];
                for (; 2 * (p0 + r) + 32 <= k && r + 16 <= kp; r += 16) {
                    _mm512_storeu_si512(buf, pairs_in_order(_mm512_loadu_ps(s + 2 * r),
                                                            _mm512_loadu_ps(s + 2 * r + 16)));
                    for (int t = 0; t < 16; t++)
                        panel[(r + t) * MR + i] = buf[t];
                }
                for (; r < kp; r++) {
                    int64_t k0 = 2 * (p0 + r);
                    panel[r * MR + i] = pair_scalar(s[2 * r], k0 + 1 < k ? s[2 * r + 1] : 0.0f);
                }
            } else {
                for (; r < kp; r++)
                    panel[r * MR + i] = 0u;
            }
        }
    }
}

/* Panels q0 .. q1 of B~ (all pairs) from op(B), B stored n x k when tb. */
void fnn_bf16_pack_b_avx512bf16(int tb, int64_t k, int64_t n, const float *b, int64_t ldb,
                                uint32_t *dst, int64_t q0, int64_t q1)
{
    const int NR = FNN_BF16_NR;
    const int64_t KP = (k + 1) / 2;
    for (int64_t q = q0; q < q1; q++) {
        int64_t j0 = q * NR;
        int w = n - j0 < NR ? (int)(n - j0) : NR;
        uint32_t *panel = dst + q * KP * NR;
        if (!tb) {
            __mmask16 m0 = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1);
            __mmask16 m1 = (__mmask16)(w >= 32 ? 0xFFFF : w > 16 ? (1u << (w - 16)) - 1 : 0);
            for (int64_t r = 0; r < KP; r++) {
                const float *s = b + 2 * r * ldb + j0;
                int two = 2 * r + 1 < k;
                __m512 lo0 = _mm512_maskz_loadu_ps(m0, s), lo1 = _mm512_maskz_loadu_ps(m1, s + 16);
                __m512 hi0 = two ? _mm512_maskz_loadu_ps(m0, s + ldb) : _mm512_setzero_ps();
                __m512 hi1 = two ? _mm512_maskz_loadu_ps(m1, s + ldb + 16) : _mm512_setzero_ps();
                _mm512_storeu_si512(panel + r * NR, pairs_of(lo0, hi0));
                _mm512_storeu_si512(panel + r * NR + 16, pairs_of(lo1, hi1));
            }
        } else {
            /* column j of op(B) is row j of B: its pairs are adjacent values */
            for (int j = 0; j < NR; j++) {
                const float *s = b + (j0 + j) * ldb;
                int64_t r = 0;
                if (j < w) {
                    uint32_t buf[16];
                    for (; 2 * r + 32 <= k; r += 16) {
                        _mm512_storeu_si512(buf, pairs_in_order(_mm512_loadu_ps(s + 2 * r),
                                                                _mm512_loadu_ps(s + 2 * r + 16)));
                        for (int t = 0; t < 16; t++)
                            panel[(r + t) * NR + j] = buf[t];
                    }
                    for (; r < KP; r++)
                        panel[r * NR + j] = pair_scalar(s[2 * r], 2 * r + 1 < k ? s[2 * r + 1] : 0.0f);
                } else {
                    for (; r < KP; r++)
                        panel[r * NR + j] = 0u;
                }
            }
        }
    }
}

/* C[0:mr, 0:nr] := (first ? 0 : C) + A~ B~ over kp pairs, by vdpbf16ps. */
void fnn_bf16_ukr_avx512bf16_12x32(int64_t kp, const uint32_t *a, const uint32_t *b,
                                   float *c, int64_t ldc, int first, int mr, int nr)
{
    enum { MR = FNN_BF16_MR, NR = FNN_BF16_NR };
    __m512 acc0[MR], acc1[MR];
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
    FNN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
        if (first || i >= mr) {
            acc0[i] = _mm512_setzero_ps();
            acc1[i] = _mm512_setzero_ps();
        } else {
            acc0[i] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
            acc1[i] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
        }
    }
    fnn_prefetch_tile(c, ldc * 4, mr, (int64_t)nr * 4);
    for (int64_t r = 0; r < kp; r++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + r * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + r * NR + 16);
        FNN_UNROLL_ALL
        for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[r * MR + i]);
            acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
            acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
        }
    }
    FNN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
        if (i < mr) {
            _mm512_mask_storeu_ps(c + i * ldc, m0, acc0[i]);
            _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc1[i]);
        }
    }
}
