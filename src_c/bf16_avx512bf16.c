/* The vdpbf16ps route of the bfloat16 GEMM (src_c/bf16.h): packing float32 into
 * bfloat16 pairs and the 12 x 32 register tile. Compiled with -mavx512bf16; run only
 * where src_c/isa.c finds AVX512_BF16.
 *
 * Packed layouts (k-pair r holds k = 2r in its low half, 2r + 1 in its high half, as
 * vdpbf16ps reads them; a pair past k is zero):
 *   A~ of a block of kp <= FNN_BF16_KCP pairs: rows of FNN_BF16_KCP pairs, so that panel
 *       i0 / MR starts at i0 * FNN_BF16_KCP; within it, for a row-major A (a_rows), pair
 *       r of row i at a[i*FNN_BF16_KCP + r], each row converted in place by whole vectors;
 *       for an A stored transposed, pair r of row i at a[r*MR + i] (A's rows 2r and
 *       2r + 1 hold the panel's pairs side by side). The tile reads either by constant
 *       offsets. Rows of the last panel past the block's are zero. (A row-major A once
 *       went into the interleaved layout too, pair by pair: its pack took a fifth of a
 *       bfloat16 predict. Zen 4, one thread, C harness, 1,024 x 784 x 128 x.W chunks of
 *       60,000 rows: 147 -> 168 GFLOP/s by the rows alone.)
 *   B~: panels of NR columns over all KP = ceil(k/2) pairs; pair r of column j of
 *       panel q at b[(q*KP + r)*NR + j]; columns past n are zero. From a B stored
 *       transposed (W^T of an input gradient), 16 x 16 blocks of pairs are transposed in
 *       registers: the 128 x 784 W^T of a T1 layer 15.7 -> 5.9 us (pair by pair before).
 * The tile holds 24 accumulators and reads 2 vectors of B~ and 12 broadcast pairs of A~
 * per k-pair: 24 of the 32 zmm registers, like the float32 12 x 32 tile.
 */
#include <immintrin.h>

#include "bf16.h"
#include "bf16_pairs_avx512bf16.h"
#include "gemm_ahead.h"
#include "gemm_internal.h"

/* A row-major A's rows into A~ rows: whole vectors, up to FNN_BF16_KCP pairs a row. */
static void pack_a_rows_avx512bf16(int64_t rows, int64_t p0, int64_t kp, int64_t k,
                                   const float *a, int64_t lda, uint32_t *dst)
{
    const int MR = FNN_BF16_MR, KCP = FNN_BF16_KCP;
    const int64_t vals = 2 * kp < k - 2 * p0 ? 2 * kp : k - 2 * p0;
    const int64_t padded = (rows + MR - 1) / MR * MR;
    for (int64_t i = 0; i < padded; i++) {
        uint32_t *d = dst + i * KCP;
        /* r < kp <= KCP in steps of 16: the vector stays in the row */
        if (i >= rows) {
            for (int64_t r = 0; r < kp; r += 16)
                _mm512_storeu_si512(d + r, _mm512_setzero_si512());
            continue;
        }
        const float *s = a + i * lda + 2 * p0;
        for (int64_t r = 0; r < kp; r += 16)
            _mm512_storeu_si512(d + r, pairs_at_avx512bf16(s + 2 * r, vals - 2 * r));
    }
}

/* The pairs p0 .. p0+kp of `rows` rows of op(A) (A stored k x m when ta) into A~. */
void fnn_bf16_pack_a_avx512bf16(int ta, int64_t rows, int64_t p0, int64_t kp, int64_t k,
                                const float *a, int64_t lda, uint32_t *dst)
{
    const int MR = FNN_BF16_MR;
    if (!ta) {
        pack_a_rows_avx512bf16(rows, p0, kp, k, a, lda, dst);
        return;
    }
    for (int64_t i0 = 0; i0 < rows; i0 += MR) {
        int h = rows - i0 < MR ? (int)(rows - i0) : MR;
        uint32_t *panel = dst + i0 * FNN_BF16_KCP;
        __mmask16 mask = (__mmask16)((1u << h) - 1);
        /* the panel's rows are contiguous in A's rows 2r and 2r + 1 */
        for (int64_t r = 0; r < kp; r++) {
            int64_t k0 = 2 * (p0 + r);
            const float *s = a + k0 * lda + i0;
            __m512 lo = _mm512_maskz_loadu_ps(mask, s);
            __m512 hi = k0 + 1 < k ? _mm512_maskz_loadu_ps(mask, s + lda) : _mm512_setzero_ps();
            /* MR = 12: the first 12 pairs, zero in rows past h */
            _mm512_mask_storeu_epi32(panel + r * MR, (__mmask16)0x0FFF,
                                     _mm512_maskz_mov_epi32(mask, pairs_of_avx512bf16(lo, hi)));
        }
    }
}

/* The 16 x 16 transpose of v's 32-bit lanes (v[t][u] := v[u][t]): pairs of rows
 * interleaved by 32 then 64 bits, then the 128-bit lanes of four rows transposed. */
static inline void transpose_16x16(__m512i v[16])
{
    __m512i t[16];
    FNN_UNROLL_ALL
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    /* v[4i + c], lane L: rows 4i .. 4i+3 of column 4L + c */
    FNN_UNROLL_ALL
    for (int i = 0; i < 4; i++) {
        v[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        v[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        v[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        v[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    FNN_UNROLL_ALL
    for (int c = 0; c < 4; c++) {
        __m512i x0 = _mm512_shuffle_i32x4(v[c], v[4 + c], 0x88);
        __m512i x1 = _mm512_shuffle_i32x4(v[c], v[4 + c], 0xDD);
        __m512i x2 = _mm512_shuffle_i32x4(v[8 + c], v[12 + c], 0x88);
        __m512i x3 = _mm512_shuffle_i32x4(v[8 + c], v[12 + c], 0xDD);
        t[c] = _mm512_shuffle_i32x4(x0, x2, 0x88);      /* column c */
        t[4 + c] = _mm512_shuffle_i32x4(x1, x3, 0x88);  /* column 4 + c */
        t[8 + c] = _mm512_shuffle_i32x4(x0, x2, 0xDD);  /* column 8 + c */
        t[12 + c] = _mm512_shuffle_i32x4(x1, x3, 0xDD); /* column 12 + c */
    }
    FNN_UNROLL_ALL
    for (int i = 0; i < 16; i++)
        v[i] = t[i];
}

/* Pairs r0 .. r0+16 of the 16 columns j0 .. j0+16 of op(B) = B^T (B's rows, `w` of them
 * before n, the rest zero) into B~ panel rows r0 .., at column `col` of the panel. */
static void pack_bt_block_avx512bf16(const float *b, int64_t ldb, int64_t j0, int w,
                                     int64_t r0, int64_t k, uint32_t *panel, int col)
{
    const int NR = FNN_BF16_NR;
    const int64_t KP = (k + 1) / 2;
    __m512i v[16];
    FNN_UNROLL_ALL
    for (int t = 0; t < 16; t++)
        v[t] = t < w ? pairs_at_avx512bf16(b + (j0 + t) * ldb + 2 * r0, k - 2 * r0)
                     : _mm512_setzero_si512();
    transpose_16x16(v);
    int64_t np = KP - r0 < 16 ? KP - r0 : 16;
    FNN_UNROLL_ALL
    for (int u = 0; u < 16; u++)
        if (u < np)
            _mm512_storeu_si512(panel + (r0 + u) * NR + col, v[u]);
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
                __m512i b0, b1;
                row_pairs_avx512bf16(b + 2 * r * ldb + j0, ldb, 2 * r + 1 < k, m0, m1, &b0, &b1);
                _mm512_storeu_si512(panel + r * NR, b0);
                _mm512_storeu_si512(panel + r * NR + 16, b1);
            }
        } else {
            /* column j of op(B) is row j of B: 16 pairs of 16 rows, transposed */
            for (int64_t r0 = 0; r0 < KP; r0 += 16)
                for (int half = 0; half < 2; half++)
                    pack_bt_block_avx512bf16(b, ldb, j0 + 16 * half, w - 16 * half, r0, k, panel,
                                  16 * half);
        }
    }
}

/* Rows [r_lo, r_hi) of a row-major k x n B into their places in B~ (the layout of tb = 0
 * above): two rows of one pair, both in the range, as whole pairs; a row alone as the
 * 16-bit halves it owns, so that threads packing neighbouring rows never write the same
 * bytes. vcvtneps2bf16 rounds as vcvtne2ps2bf16: the bits of a whole pack. */
void fnn_bf16_pack_b_rows_avx512bf16(int64_t k, int64_t n, const float *b, int64_t ldb,
                                     uint32_t *dst, int64_t r_lo, int64_t r_hi)
{
    const int NR = FNN_BF16_NR;
    const int64_t KP = (k + 1) / 2, panels = (n + NR - 1) / NR;
    for (int64_t p = r_lo; p < r_hi;) {
        /* a pair past k has a zero high half, which nobody else writes */
        int pair = p % 2 == 0 && (p + 1 < r_hi || p + 1 == k), two = p + 1 < k;
        for (int64_t q = 0; q < panels; q++) {
            __mmask16 m0, m1;
            masks_of_avx512bf16(n - q * NR, &m0, &m1);
            const float *s = b + p * ldb + q * NR;
            uint32_t *d = dst + (q * KP + p / 2) * NR;
            if (pair) {
                __m512i b0, b1;
                row_pairs_avx512bf16(s, ldb, two, m0, m1, &b0, &b1);
                _mm512_storeu_si512(d, b0);
                _mm512_storeu_si512(d + 16, b1);
                continue;
            }
            __m512 lo0 = _mm512_maskz_loadu_ps(m0, s), lo1 = _mm512_maskz_loadu_ps(m1, s + 16);
            __m512i v0 = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo0));
            __m512i v1 = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo1));
            __mmask32 half = 0x55555555u;                /* the low half: k = 2r */
            if (p % 2) {
                v0 = _mm512_slli_epi32(v0, 16);
                v1 = _mm512_slli_epi32(v1, 16);
                half = 0xAAAAAAAAu;
            }
            _mm512_mask_storeu_epi16(d, half, v0);
            _mm512_mask_storeu_epi16(d + 16, half, v1);
        }
        p += pair ? 2 : 1;
    }
}

/* C[0:mr, 0:nr] := (first ? 0 : C) + A~ B~ over kp pairs (+ bias, relu), pair r of row i
 * of A~ at a[r*cs + i*rs]: constants, so that each broadcast is one load at a fixed
 * offset. A tile of at most 16 columns (!wide) runs half the multiply-adds, the same ones
 * for its columns, so the same bits (1,024 x 128 x 10, a T1 output layer: 58 -> 98
 * GFLOP/s). One line of ah's walk is prefetched per k-pair. */
FNN_FORCE_INLINE void tile_12x32(int64_t kp, const uint32_t *a, const int rs, const int cs,
                                 const int wide, const uint32_t *b, float *c, int64_t ldc,
                                 int first, int mr, int nr, ahead_t *ah, const float *bias,
                                 int relu)
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
            acc1[i] = wide ? _mm512_maskz_loadu_ps(m1, c + i * ldc + 16) : acc0[i];
        }
    }
    fnn_prefetch_tile(c, ldc * 4, mr, (int64_t)nr * 4);
    /* the walk of ah, in registers */
    const char *row = ah->row;
    int64_t off = ah->off, rows = ah->rows;
    for (int64_t r = 0; r < kp; r++) {
        if (rows > 0) {
            __builtin_prefetch(row + off, 0, 1);
            off += 64;
            if (off >= ah->len) {
                row += ah->stride;
                off = -(int64_t)((uintptr_t)row & 63);
                rows--;
            }
        }
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + r * NR);
        __m512bh b1 = wide ? (__m512bh)_mm512_loadu_si512(b + r * NR + 16) : b0;
        const uint32_t *ar = a + r * cs;
        FNN_UNROLL_ALL
        for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)ar[i * rs]);
            acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
            if (wide)
                acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
        }
    }
    ah->row = row;
    ah->off = off;
    ah->rows = rows;
    if (bias != NULL) { /* C + bias, one rounding, as the epilogue adds it */
        __m512 bias0 = _mm512_maskz_loadu_ps(m0, bias);
        __m512 bias1 = wide ? _mm512_maskz_loadu_ps(m1, bias + 16) : bias0;
        FNN_UNROLL_ALL
        for (int i = 0; i < MR; i++) {
            acc0[i] = _mm512_add_ps(acc0[i], bias0);
            acc1[i] = _mm512_add_ps(acc1[i], bias1);
        }
    }
    if (relu) { /* max(x, +0) is +0 for -0 and NaN, as relu_forward */
        FNN_UNROLL_ALL
        for (int i = 0; i < MR; i++) {
            acc0[i] = _mm512_max_ps(acc0[i], _mm512_setzero_ps());
            acc1[i] = _mm512_max_ps(acc1[i], _mm512_setzero_ps());
        }
    }
    FNN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
        if (i < mr) {
            _mm512_mask_storeu_ps(c + i * ldc, m0, acc0[i]);
            if (wide)
                _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc1[i]);
        }
    }
}

/* C[0:mr, 0:nr] := (first ? 0 : C) + A~ B~ over kp pairs, by vdpbf16ps; A~ in rows
 * (a_rows) or interleaved (see the layouts above); then + bias (when not NULL) and relu
 * (when set), as the epilogue would (src_c/bf16_gemm.c passes them on the last k-block).
 * One line of the walk `ah` (src_c/gemm_ahead.h) is prefetched per k-pair. */
void fnn_bf16_ukr_avx512bf16_12x32(int64_t kp, const uint32_t *a, int a_rows,
                                   const uint32_t *b, float *c, int64_t ldc, int first,
                                   int mr, int nr, ahead_t *ah, const float *bias, int relu)
{
    if (a_rows && nr > 16)
        tile_12x32(kp, a, FNN_BF16_KCP, 1, 1, b, c, ldc, first, mr, nr, ah, bias, relu);
    else if (a_rows)
        tile_12x32(kp, a, FNN_BF16_KCP, 1, 0, b, c, ldc, first, mr, nr, ah, bias, relu);
    else if (nr > 16)
        tile_12x32(kp, a, 1, FNN_BF16_MR, 1, b, c, ldc, first, mr, nr, ah, bias, relu);
    else
        tile_12x32(kp, a, 1, FNN_BF16_MR, 0, b, c, ldc, first, mr, nr, ah, bias, relu);
}
