/* int8 micro-kernel, AVX-512 VNNI, 12 x 32 tile: per k group of 4, 2 vector loads of B~
 * (32 columns x 4 bytes), 12 broadcasts of 4 bytes of A (q + 128, read in place from the
 * quantized rows) and 24 vpdpbusd (u8 x s8, 64 multiply-adds each) into 24 zmm
 * accumulators; the epilogue of src_c/qgemm.h on the finished tile. Panels of at most 16
 * columns (the 10 outputs of a classifier) run on one vector per row. Also the row
 * quantization into q + 128 bytes. Compiled with -mavx512vnni (setup.py). */
#include <immintrin.h>
#include <string.h>

#include "gemm_internal.h"
#include "qgemm.h"

#define MR 12
#define NR 32

#define ROW_DECL(i)                             \
    __m512i c##i##_0 = _mm512_setzero_si512(); \
    __m512i c##i##_1 = _mm512_setzero_si512();
#define ROW_DOT(i)                                                                     \
    {                                                                                  \
        __m512i ai = _mm512_set1_epi32(*(const int32_t *)(a8 + (i) * lda + 4 * g));   \
        c##i##_0 = _mm512_dpbusd_epi32(c##i##_0, ai, b0);                              \
        if (wide)                                                                      \
            c##i##_1 = _mm512_dpbusd_epi32(c##i##_1, ai, b1);                          \
    }
#define ROW_STORE(i)                                                                  \
    if (i < mr)                                                                       \
        store_row(i, c##i##_0, c##i##_1, k0, k1, m0, m1, ep, c, ldc, wide);

#define ALL_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* 16 values of row i: int32 acc - corr, or the float epilogue */
FNN_FORCE_INLINE void store_vec(int i, int j0, __m512i acc, __m512i corr, __mmask16 m,
                                const fnn_q8_epilogue *ep, void *c, int64_t ldc)
{
    acc = _mm512_sub_epi32(acc, corr);
    if (ep == NULL) {
        _mm512_mask_storeu_epi32((int32_t *)c + i * ldc + j0, m, acc);
        return;
    }
    __m512 den = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, ep->ws + j0),
                               _mm512_set1_ps(ep->xs[i]));
    /* masked lanes divide 0 by 1, not by 0 */
    den = _mm512_mask_blend_ps(m, _mm512_set1_ps(1.0f), den);
    __m512 v = _mm512_div_ps(_mm512_cvtepi32_ps(acc), den);
    if (ep->bias != NULL)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, ep->bias + j0));
    _mm512_mask_storeu_ps((float *)c + i * ldc + j0, m, v);
}

FNN_FORCE_INLINE void store_row(int i, __m512i x0, __m512i x1, __m512i k0, __m512i k1,
                                __mmask16 m0, __mmask16 m1, const fnn_q8_epilogue *ep,
                                void *c, int64_t ldc, int wide)
{
    store_vec(i, 0, x0, k0, m0, ep, c, ldc);
    if (wide)
        store_vec(i, 16, x1, k1, m1, ep, c, ldc);
}

FNN_FORCE_INLINE void tile(int64_t k_groups, const uint8_t *a8, int64_t lda,
                           const int8_t *b, const int32_t *corr, int mr, int nr,
                           const fnn_q8_epilogue *ep, void *c, int64_t ldc, int wide)
{
    ALL_ROWS(ROW_DECL)
    for (int64_t g = 0; g < k_groups; g++) {
        __m512i b0 = _mm512_loadu_si512(b + g * NR * 4);
        __m512i b1 = wide ? _mm512_loadu_si512(b + g * NR * 4 + 64) : b0;
        ALL_ROWS(ROW_DOT)
    }
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
    __m512i k0 = corr ? _mm512_maskz_loadu_epi32(m0, corr) : _mm512_setzero_si512();
    __m512i k1 = corr && wide ? _mm512_maskz_loadu_epi32(m1, corr + 16)
                              : _mm512_setzero_si512();
    ALL_ROWS(ROW_STORE)
}

/* one row (a single-sample predict): the 12-row tile would run 24 vpdpbusd per k group
 * to keep 2 (5 of a layer's 7.6 us for 1 x 784 x 128); here 4 pairs of accumulators take
 * the k groups in turn, so the multiply-adds do not wait on each other's latency, and are
 * added at the end (integer sums: exact in any order) */
FNN_FORCE_INLINE void tile_1(int64_t k_groups, const uint8_t *a8, const int8_t *b,
                             const int32_t *corr, int nr, const fnn_q8_epilogue *ep, void *c,
                             int64_t ldc, int wide)
{
    __m512i c0[4], c1[4];
    for (int u = 0; u < 4; u++)
        c0[u] = c1[u] = _mm512_setzero_si512();
    int64_t g = 0;
    for (; g + 4 <= k_groups; g += 4) {
        FNN_UNROLL_ALL for (int u = 0; u < 4; u++) {
            __m512i ai = _mm512_set1_epi32(*(const int32_t *)(a8 + 4 * (g + u)));
            c0[u] = _mm512_dpbusd_epi32(c0[u], ai, _mm512_loadu_si512(b + (g + u) * NR * 4));
            if (wide)
                c1[u] = _mm512_dpbusd_epi32(c1[u], ai,
                                            _mm512_loadu_si512(b + (g + u) * NR * 4 + 64));
        }
    }
    for (; g < k_groups; g++) {
        __m512i ai = _mm512_set1_epi32(*(const int32_t *)(a8 + 4 * g));
        c0[0] = _mm512_dpbusd_epi32(c0[0], ai, _mm512_loadu_si512(b + g * NR * 4));
        if (wide)
            c1[0] = _mm512_dpbusd_epi32(c1[0], ai, _mm512_loadu_si512(b + g * NR * 4 + 64));
    }
    __m512i x0 = _mm512_add_epi32(_mm512_add_epi32(c0[0], c0[1]),
                                  _mm512_add_epi32(c0[2], c0[3]));
    __m512i x1 = _mm512_add_epi32(_mm512_add_epi32(c1[0], c1[1]),
                                  _mm512_add_epi32(c1[2], c1[3]));
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
    __m512i k0 = corr ? _mm512_maskz_loadu_epi32(m0, corr) : _mm512_setzero_si512();
    __m512i k1 = corr && wide ? _mm512_maskz_loadu_epi32(m1, corr + 16)
                              : _mm512_setzero_si512();
    store_row(0, x0, x1, k0, k1, m0, m1, ep, c, ldc, wide);
}

void fnn_q8_ukr_avx512vnni_12x32(int64_t k_groups, const void *a, int64_t lda,
                                 const void *b, const int32_t *corr, int mr, int nr,
                                 const fnn_q8_epilogue *ep, void *c, int64_t ldc)
{
    if (mr == 1) {
        if (nr > 16)
            tile_1(k_groups, (const uint8_t *)a, (const int8_t *)b, corr, nr, ep, c, ldc, 1);
        else
            tile_1(k_groups, (const uint8_t *)a, (const int8_t *)b, corr, nr, ep, c, ldc, 0);
        return;
    }
    /* the B~ panel is NR columns wide whatever nr is; a narrow tile reads its first half */
    if (nr > 16)
        tile(k_groups, (const uint8_t *)a, lda, (const int8_t *)b, corr, mr, nr, ep, c, ldc,
             1);
    else
        tile(k_groups, (const uint8_t *)a, lda, (const int8_t *)b, corr, mr, nr, ep, c, ldc,
             0);
}

/* 16 floats (m of them) -> q + 128 bytes */
FNN_FORCE_INLINE void quant_vec(const float *x, __m512 s, __mmask16 m, uint8_t *dst)
{
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x), s));
    q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)),
                         _mm512_set1_epi32(127));
    _mm512_mask_cvtepi32_storeu_epi8(dst, m, _mm512_add_epi32(q, _mm512_set1_epi32(128)));
}

/* 64 floats -> q + 128 bytes: two saturating packs (int32 -> int16 -> int8, which
 * interleave the four vectors by 128-bit lane), one permutation back to order; the
 * same values as quant_vec, at about half the instructions (vpmovdb to memory is slow) */
FNN_FORCE_INLINE void quant_64(const float *x, __m512 s, __m512i order, uint8_t *dst)
{
    __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), s));
    __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16), s));
    __m512i q2 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32), s));
    __m512i q3 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 48), s));
    __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
    b = _mm512_permutexvar_epi32(order, b);
    b = _mm512_max_epi8(b, _mm512_set1_epi8(-127));
    _mm512_storeu_si512(dst, _mm512_xor_si512(b, _mm512_set1_epi8((char)0x80)));
}

/* max |x| over the row; *bad := whether some value is NaN or infinite */
FNN_FORCE_INLINE float row_max_abs(const float *x, int64_t k, int *bad)
{
    const __m512 big = _mm512_set1_ps(3.4028235e38f);
    __mmask16 nonfinite = 0;
    int64_t full = k / 16 * 16;
    __mmask16 tail = (__mmask16)((1u << (k - full)) - 1);
    __m512 top0 = _mm512_setzero_ps(), top1 = top0;
    int64_t p = 0;
    for (; p + 32 <= full; p += 32) {
        __m512 v0 = _mm512_abs_ps(_mm512_loadu_ps(x + p));
        __m512 v1 = _mm512_abs_ps(_mm512_loadu_ps(x + p + 16));
        nonfinite |= _mm512_cmp_ps_mask(v0, big, _CMP_NLE_UQ)
                     | _mm512_cmp_ps_mask(v1, big, _CMP_NLE_UQ);
        top0 = _mm512_max_ps(top0, v0);
        top1 = _mm512_max_ps(top1, v1);
    }
    if (p < full) {
        __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + p));
        nonfinite |= _mm512_cmp_ps_mask(v, big, _CMP_NLE_UQ);
        top0 = _mm512_max_ps(top0, v);
    }
    if (tail) {
        __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + full));
        nonfinite |= _mm512_cmp_ps_mask(v, big, _CMP_NLE_UQ);
        top1 = _mm512_max_ps(top1, v);
    }
    *bad = nonfinite != 0;
    return _mm512_reduce_max_ps(_mm512_max_ps(top0, top1));
}

int64_t fnn_q8_quant_avx512_u8(int64_t rows, int64_t k, int64_t kp, const float *x,
                               int64_t ldx, void *a, int64_t lda, float *scale)
{
    int64_t bad = 0;
    /* dword o of the packed vector comes from dword 4 * (o % 4) + o / 4 */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7,
                                            11, 15);
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        uint8_t *ai = (uint8_t *)a + i * lda;
        int row_bad;
        float s = fnn_q8_scale(row_max_abs(xi, k, &row_bad));
        if (row_bad)
            bad += fnn_q8_count_bad(xi, k);
        scale[i] = s;
        __m512 vs = _mm512_set1_ps(s);
        int64_t p = 0;
        for (; p + 64 <= k; p += 64)
            quant_64(xi + p, vs, order, ai + p);
        for (; p < k; p += 16) {
            int64_t left = k - p;
            quant_vec(xi + p, vs, (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1),
                      ai + p);
        }
        memset(ai + k, 128, (size_t)(kp - k));
    }
    return bad;
}
