/* bfloat16 GEMM: float32 inputs rounded to bfloat16, products summed in float32.
 *
 * The arithmetic is that of AVX512_BF16's vdpbf16ps, defined here in portable C so that a
 * CPU without it (and the tests) can compute the same bits:
 *   - float32 -> bfloat16 as vcvtne2ps2bf16: round to nearest even, a denormal becomes a
 *     zero of its sign, a NaN stays a quiet NaN (fnn_bf16_bits);
 *   - C[i][j] = sum over k-pairs r = 0, 1, ... of A[i][2r+1] B[2r+1][j], then
 *     A[i][2r] B[2r][j], each added to the float32 sum by one FMA with denormal inputs
 *     read as zero, a denormal result written as zero and round to nearest even, as
 *     Intel's pseudo-code of vdpbf16ps states (fnn_bf16_fma). An odd k ends with a zero
 *     pair member. The sum starts at +0.
 * fnn_bf16_gemm_ref is that definition as a loop. fnn_bf16_gemm runs it with vdpbf16ps
 * (bit-identical to the loop) where the CPU has AVX512_BF16 and the AVX-512 kernels are in
 * use; elsewhere it rounds A and B to bfloat16 and runs the float32 GEMM of the ISA in
 * use: the same products, exact in float32, summed in that GEMM's order without the
 * flush (|difference| <= 2 k u sum_p |A[i][p] B[p][j]|, u = 2^-24), at float32 speed.
 * Every result is the same for any thread count: the k sum is never split.
 *
 * Scratch slots (fnn_gemm_scratch): 0 holds a thread's packed A~, 6 the A~ a team shares
 * (a product split by column panels), 5 the rounded A of the float32 route.
 */
#ifndef FASTNN_BF16_H
#define FASTNN_BF16_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastnn.h"
#include "gemm_ahead.h"

/* The bfloat16 bits of x (vcvtne2ps2bf16's rounding). */
static inline uint16_t fnn_bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7F800000u) == 0)
        return (uint16_t)((u >> 16) & 0x8000u);        /* zero, denormal: signed zero */
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x0040u);        /* NaN: quiet */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16); /* nearest even */
}

/* The float32 value of bfloat16 bits (exact). */
static inline float fnn_bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* x rounded to the nearest bfloat16, as a float32. */
static inline float fnn_bf16_round(float x) { return fnn_bf16_value(fnn_bf16_bits(x)); }

/* acc + a * b as one step of vdpbf16ps: a and b bfloat16 values (so never denormal, and
 * a * b is exact in double), acc read as zero when denormal, the sum rounded once to
 * float32 (nearest even), and a result that is tiny after rounding (x86 detects
 * underflow after rounding) flushed to a zero of its sign. The double sum is exact
 * whenever it can matter: when it is not, the product is below a 2^-29 part of acc's
 * last place and the float32 result is acc either way. */
static inline float fnn_bf16_fma(float acc, float a, float b)
{
    if (fabsf(acc) < FLT_MIN)
        acc = copysignf(0.0f, acc);
    double v = (double)acc + (double)a * (double)b;
    float r = (float)v;
    if (fabsf((float)(v * 0x1p64)) < 0x1p-62f) /* below FLT_MIN at 24 bits */
        r = copysignf(0.0f, r);
    return r;
}

/* The definition above as a loop: C := op(A) op(B), op(A) m x k (A stored k x m when ta),
 * op(B) k x n (B stored n x k when tb), row-major. */
void fnn_bf16_gemm_ref(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);

/* Whether fnn_bf16_gemm runs vdpbf16ps (1) or the float32 route (0). */
int fnn_bf16_native(void);
/* Tests: 0 makes fnn_bf16_gemm take the float32 route even on an AVX512_BF16 CPU; 1
 * restores the CPU's choice. Packed B~ is laid out for the route in use when packed. */
void fnn_bf16_set_native(int on);

/* The bytes of B~ of a k x n op(B), enough for either route. */
size_t fnn_bf16_packed_b_bytes(int64_t k, int64_t n);
/* bp := B~ of op(B): bfloat16 pairs in panels of the kernel's columns (vdpbf16ps), or
 * the bfloat16-rounded op(B) as a k x n float32 matrix (the float32 route). */
void fnn_bf16_pack_b(int tb, int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                     int n_threads);
/* C := op(A) B (ldc) then the epilogue (fastnn.h), with B~ from fnn_bf16_pack_b. */
void fnn_bf16_gemm(int ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                   const void *bp, float *c, int64_t ldc, const fnn_epilogue *ep,
                   int n_threads);
/* C := op(A) op(B) (ldc) then the epilogue, as fnn_bf16_pack_b into `bp` (of
 * fnn_bf16_packed_b_bytes(k, n)) then fnn_bf16_gemm compute it, with the same bits; a
 * product of a few rows of a row-major A and B (a single-sample forward) reads B as it
 * is instead of packing it. */
void fnn_bf16_matmul(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                     int64_t lda, const float *b, int64_t ldb, void *bp, float *c,
                     int64_t ldc, const fnn_epilogue *ep, int n_threads);
/* Rows [r_lo, r_hi) of a row-major k x n B (ldb) into B~ as fnn_bf16_pack_b(0, ...)
 * packs them, touching no byte of another row's: threads may pack neighbouring rows at
 * once (an optimizer update keeping a bfloat16 copy of the weights it updates). */
void fnn_bf16_pack_b_rows(int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                          int64_t r_lo, int64_t r_hi);
/* Blocking of the route in use: {MR, NR, MC, KC pairs}, zeros on the float32 route. */
void fnn_bf16_kernel_info(int64_t info[4]);

/* dst[i] := fnn_bf16_round(src[i]) for i < n. */
void fnn_bf16_round_array(const float *src, float *dst, int64_t n);

/* Internals of the vdpbf16ps route (src_c/bf16_avx512bf16.c, layouts there): the tile,
 * and the k-pairs per block (FNN_BF16_KCP pairs, 256 values: a 32-column panel of B~,
 * 16 KiB, stays in L1 while A~ streams from L2), which is also the row stride of A~. */
#define FNN_BF16_MR 12
#define FNN_BF16_NR 32
#define FNN_BF16_KCP 128
void fnn_bf16_pack_a_avx512bf16(int ta, int64_t rows, int64_t p0, int64_t kp, int64_t k,
                                const float *a, int64_t lda, uint32_t *dst);
void fnn_bf16_pack_b_avx512bf16(int tb, int64_t k, int64_t n, const float *b, int64_t ldb,
                                uint32_t *dst, int64_t q0, int64_t q1);
void fnn_bf16_pack_b_rows_avx512bf16(int64_t k, int64_t n, const float *b, int64_t ldb,
                                     uint32_t *dst, int64_t r_lo, int64_t r_hi);
void fnn_bf16_ukr_avx512bf16_12x32(int64_t kp, const uint32_t *a, int a_rows,
                                   const uint32_t *b, float *c, int64_t ldc, int first,
                                   int mr, int nr, ahead_t *ah, const float *bias,
                                   int relu);
/* Rows of a batch small enough for the few-rows tile (up to 4 panels in one pass). */
#define FNN_BF16_FEW 3
void fnn_bf16_ukr_avx512bf16_few(int64_t kp, const uint32_t *a, int a_rows, int mr,
                                 const uint32_t *b, int64_t pstride, int np, float *c,
                                 int64_t ldc, int first, int64_t ncols, const float *bias,
                                 int relu);
void fnn_bf16_gemm_direct_avx512bf16(int64_t m, int64_t n, int64_t k, const float *a,
                                     int64_t lda, const float *b, int64_t ldb,
                                     uint32_t *ap, float *c, int64_t ldc, const float *bias,
                                     int relu);
/* 1 if this CPU and OS run AVX512_BF16 (src_c/isa.c). */
int fnn_cpu_has_avx512bf16(void);

#endif /* FASTNN_BF16_H */
