/* The vdpbf16ps products of a batch of a few rows (src_c/bf16.h: FNN_BF16_FEW), such as
 * a single-sample predict: a 12 x 32 tile would run 12 rows' multiply-adds for each,
 * and packing B would cost more than the product. Compiled with -mavx512bf16; run only
 * where src_c/isa.c finds AVX512_BF16. Each element sums the same pairs in the same
 * order with the same instruction as the tiles of src_c/bf16_avx512bf16.c: their bits.
 */
#include <immintrin.h>

#include "bf16.h"
#include "bf16_pairs_avx512bf16.h"
#include "gemm_internal.h"

/* The tile of a batch of at most FNN_BF16_FEW rows (a single-sample predict): up to 4
 * panels (128 columns) in one pass, so that a row costs its own multiply-adds and not
 * the 12 of a 12 x 32 tile's. Each element sums the same pairs in the same order with
 * the same instruction: the bits of the 12 x 32 tile. */
FNN_FORCE_INLINE void few_rows(int64_t kp, const uint32_t *a, const int rs, const int cs,
                               const int mr, const uint32_t *b, int64_t pstride, int np,
                               float *c, int64_t ldc, int first, int64_t ncols,
                               const float *bias, int relu)
{
    enum { F = FNN_BF16_FEW, P = 4 };
    __m512 acc[F][2 * P];
    __mmask16 mask[2 * P];
    FNN_UNROLL_ALL
    for (int v = 0; v < 2 * P; v++) {
        int64_t left = ncols - 16 * v;
        mask[v] = (__mmask16)(v >= 2 * np || left <= 0 ? 0 : left >= 16 ? 0xFFFF
                                                                        : (1u << left) - 1);
    }
    FNN_UNROLL_ALL
    for (int i = 0; i < F; i++)
        FNN_UNROLL_ALL
        for (int v = 0; v < 2 * P; v++)
            acc[i][v] = first || i >= mr ? _mm512_setzero_ps()
                                         : _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v);
    for (int64_t r = 0; r < kp; r++) {
        __m512bh bv[2 * P];
        FNN_UNROLL_ALL
        for (int v = 0; v < 2 * P; v++)
            bv[v] = (__m512bh)(v < 2 * np ? _mm512_loadu_si512(b + (v / 2) * pstride + r * 32 +
                                                                16 * (v % 2))
                                          : _mm512_setzero_si512());
        FNN_UNROLL_ALL
        for (int i = 0; i < F; i++) {
            if (i >= mr)
                break;
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[r * cs + i * rs]);
            FNN_UNROLL_ALL
            for (int v = 0; v < 2 * P; v++)
                if (v < 2 * np)
                    acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, bv[v]);
        }
    }
    FNN_UNROLL_ALL
    for (int i = 0; i < F; i++) {
        if (i >= mr)
            break;
        FNN_UNROLL_ALL
        for (int v = 0; v < 2 * P; v++) {
            __m512 x = acc[i][v];
            if (bias != NULL) /* C + bias, one rounding, as the epilogue adds it */
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], bias + 16 * v));
            if (relu) /* max(x, +0) is +0 for -0 and NaN, as relu_forward */
                x = _mm512_max_ps(x, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], x);
        }
    }
}

/* C[0:mr, 0:ncols] (mr <= FNN_BF16_FEW, ncols <= 32 np, np <= 4 panels of B~ pstride
 * words apart) := (first ? 0 : C) + A~ B~ over kp pairs, then + bias and relu as the
 * 12 x 32 tile (whose bits it gives); A~ in rows (a_rows) or interleaved. */
void fnn_bf16_ukr_avx512bf16_few(int64_t kp, const uint32_t *a, int a_rows, int mr,
                                 const uint32_t *b, int64_t pstride, int np, float *c,
                                 int64_t ldc, int first, int64_t ncols, const float *bias,
                                 int relu)
{
    if (a_rows)
        few_rows(kp, a, FNN_BF16_KCP, 1, mr, b, pstride, np, c, ldc, first, ncols, bias, relu);
    else
        few_rows(kp, a, 1, FNN_BF16_MR, mr, b, pstride, np, c, ldc, first, ncols, bias, relu);
}

/* C[0:m, 0:n] (m <= FNN_BF16_FEW) := A B over all of k, B a row-major k x n float32
 * matrix read as it is: each 32 columns of a k-pair converted to bfloat16 pairs as they
 * are used (as fnn_bf16_pack_b_avx512bf16 would pack them), the rows of A converted once
 * into `ap` (m x ceil(k/2) words). For a few rows the pack of B cost more than the
 * product: a single-sample T1 forward, 784 x 128: 13 -> ~5 us. Then + bias and relu,
 * as the tiles. The bits of the packed route. */
void fnn_bf16_gemm_direct_avx512bf16(int64_t m, int64_t n, int64_t k, const float *a,
                                     int64_t lda, const float *b, int64_t ldb,
                                     uint32_t *ap, float *c, int64_t ldc, const float *bias,
                                     int relu)
{
    enum { F = FNN_BF16_FEW };
    const int64_t KP = (k + 1) / 2;
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < KP; r += 16) {
            __m512i v = pairs_at_avx512bf16(a + i * lda + 2 * r, k - 2 * r);
            __mmask16 w = (__mmask16)(KP - r >= 16 ? 0xFFFF : (1u << (KP - r)) - 1);
            _mm512_mask_storeu_epi32(ap + i * KP + r, w, v);
        }
    for (int64_t j = 0; j < n; j += 32) {
        __mmask16 m0, m1;
        masks_of_avx512bf16(n - j, &m0, &m1);
        __m512 acc[F][2];
        FNN_UNROLL_ALL
        for (int i = 0; i < F; i++)
            acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (int64_t r = 0; r < KP; r++) {
            __m512i p0, p1;
            row_pairs_avx512bf16(b + 2 * r * ldb + j, ldb, 2 * r + 1 < k, m0, m1, &p0, &p1);
            __m512bh b0 = (__m512bh)p0, b1 = (__m512bh)p1;
            FNN_UNROLL_ALL
            for (int i = 0; i < F; i++) {
                if (i >= m)
                    break;
                __m512bh ai = (__m512bh)_mm512_set1_epi32((int)ap[i * KP + r]);
                acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
                acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            }
        }
        FNN_UNROLL_ALL
        for (int i = 0; i < F; i++) {
            if (i >= m)
                break;
            FNN_UNROLL_ALL
            for (int h = 0; h < 2; h++) {
                __mmask16 mh = h ? m1 : m0;
                __m512 x = acc[i][h];
                if (bias != NULL) /* C + bias, one rounding, as the epilogue adds it */
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mh, bias + j + 16 * h));
                if (relu) /* max(x, +0) is +0 for -0 and NaN, as relu_forward */
                    x = _mm512_max_ps(x, _mm512_setzero_ps());
                _mm512_mask_storeu_ps(c + i * ldc + j + 16 * h, mh, x);
            }
        }
    }
}
