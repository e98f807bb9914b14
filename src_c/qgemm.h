/* The int8 GEMM of a quantized Dense layer (Keras 3's "int8" mode): internals shared by
 * the driver (src_c/qgemm_driver.c), the dispatch table (src_c/qgemm_dispatch.c) and the
 * micro-kernels, one file per ISA. The public interface is in src_c/qgemm_api.h.
 *
 * The arithmetic, identical on every path:
 *   x_scale[i] = 127 / (max_k |x[i, k]| + 1e-7)                   (float32)
 *   q[i, k]    = clip(round_half_even(x[i, k] * x_scale[i]), -127, 127)
 *   acc[i, j]  = sum_k q[i, k] * w[k, j]                          (int32, exact)
 *   out[i, j]  = act(float(acc[i, j]) / (w_scale[j] * x_scale[i]) + bias[j])
 * Each kernel computes the same integers acc: vpdpbusd multiplies unsigned by signed
 * bytes, so those kernels store q + 128 (a byte in [1, 255]) and subtract 128 * the
 * column sums of w (exact in int32); the AVX2 kernel without VNNI widens both operands
 * to int16 (vpmaddwd: no saturation, unlike vpmaddubsw's int16 pair sums, which
 * 255 * 127 * 2 overflows). Integers are exact, and the float epilogue is one rounding
 * per operation in a fixed order, so every kernel gives the same bits.
 *
 * Layouts: A (the quantized rows) is row-major, lda elements apart, its k padded to the
 * kernel's k group with zeros (q = 0); B~ holds micro-panels of NR columns, each k group
 * of KG values of a column contiguous: element (p, j) of a panel at
 * b[(p / KG) * NR * KG + j * KG + p % KG], zero past k and past n.
 */
#ifndef FASTNN_QGEMM_H
#define FASTNN_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "fastnn.h"

/* What a micro-kernel does with its int32 tile once the k loop is done: with `ep`
 * NULL, C (int32) := acc - corr[j]; else C (float) := float(acc - corr[j]) /
 * (ws[j] * xs[i]) + bias[j] (bias may be NULL). corr may be NULL (no correction). */
typedef struct {
    const float *xs;      /* the tile's row scales */
    const float *ws;      /* the panel's column scales */
    const float *bias;    /* the panel's bias, or NULL */
} fnn_q8_epilogue;

/* C[0:mr, 0:nr] from the k groups of `mr` rows of A (lda elements apart) and a panel of
 * B~; corr: the panel's column corrections (or NULL). */
typedef void (*fnn_q8_ukr_t)(int64_t k_groups, const void *a, int64_t lda, const void *b,
                             const int32_t *corr, int mr, int nr,
                             const fnn_q8_epilogue *ep, void *c, int64_t ldc);

/* rows of x (ldx floats apart) -> quantized rows of A in the kernel's format (lda
 * elements apart, k padded to kp with q = 0) and their scales; returns how many of the
 * values read are NaN or infinite (predict's input check, made as x is read). */
typedef int64_t (*fnn_q8_quant_t)(int64_t rows, int64_t k, int64_t kp, const float *x,
                               int64_t ldx, void *a, int64_t lda, float *scale);

/* int8 rows (lda apart) -> rows of A in the kernel's format (the integer entry point). */
typedef void (*fnn_q8_copy_t)(int64_t rows, int64_t k, int64_t kp, const int8_t *src,
                              int64_t lds, void *a, int64_t lda);

/* w (k x n int8, ldw) -> B~ for panels of nr columns, and per column
 * corr[j] = offset * sum_k w[k, j] (offset 128 for kernels on q + 128, else 0). */
typedef void (*fnn_q8_pack_t)(int64_t k, int64_t n, const int8_t *w, int64_t ldw,
                              int nr, int kg, int offset, void *b, int32_t *corr);

typedef struct {
    const char *name;
    int mr, nr, kg;       /* register tile, and the k values one multiply-add step takes */
    int a_bytes;          /* bytes per element of A (1: int8 or uint8, 2: int16) */
    int b_bytes;          /* bytes per element of B~ */
    int offset;           /* 128 where A holds q + 128 */
    int64_t mc;           /* rows quantized per block (L2) */
    fnn_q8_ukr_t ukr;
    fnn_q8_quant_t quant;
    fnn_q8_copy_t copy;
    fnn_q8_pack_t pack;
} fnn_q8_kernels;

/* The table in use (src_c/qgemm_dispatch.c). */
const fnn_q8_kernels *fnn_q8_kernels_get(void);

/* float32 scale of a row whose largest |x| is amax: 127 / (amax + 1e-7). */
static inline float fnn_q8_scale(float amax) { return 127.0f / (amax + 1e-7f); }

/* How many of the n values at x are NaN or infinite (a row where the vector check saw
 * one: rare, so counted in scalar code). */
static inline int64_t fnn_q8_count_bad(const float *x, int64_t n)
{
    int64_t bad = 0;
    for (int64_t p = 0; p < n; p++)
        bad += !(x[p] - x[p] == 0.0f);
    return bad;
}

/* The epilogue above in scalar C, for a kernel whose int32 sums are in memory: acc[i][j]
 * (row i at acc + i * ld_acc) for i < mr, j < nr, into C (the portable kernel, and the
 * NEON one after storing its registers). */
static inline void fnn_q8_store_tile(const int32_t *acc, int ld_acc, int mr, int nr,
                                     const int32_t *corr, const fnn_q8_epilogue *ep,
                                     void *c, int64_t ldc)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            int32_t v = acc[i * ld_acc + j] - (corr ? corr[j] : 0);
            if (ep == NULL)
                ((int32_t *)c)[i * ldc + j] = v;
            else
                ((float *)c)[i * ldc + j] = (float)v / (ep->ws[j] * ep->xs[i])
                                            + (ep->bias ? ep->bias[j] : 0.0f);
        }
}

/* Portable pieces (src_c/qgemm_generic.c): the oracle, and helpers of the others. */
void fnn_q8_ukr_generic_4x8(int64_t k_groups, const void *a, int64_t lda, const void *b,
                            const int32_t *corr, int mr, int nr, const fnn_q8_epilogue *ep,
                            void *c, int64_t ldc);
int64_t fnn_q8_quant_generic(int64_t rows, int64_t k, int64_t kp, const float *x, int64_t ldx,
                          void *a, int64_t lda, float *scale);
void fnn_q8_copy_s8(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                    void *a, int64_t lda);
void fnn_q8_copy_u8(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                    void *a, int64_t lda);
void fnn_q8_copy_s16(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                     void *a, int64_t lda);
void fnn_q8_pack_s8(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int nr, int kg,
                    int offset, void *b, int32_t *corr);
void fnn_q8_pack_s16(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int nr, int kg,
                     int offset, void *b, int32_t *corr);

#if defined(__x86_64__) || defined(_M_X64)
void fnn_q8_ukr_avx512vnni_12x32(int64_t k_groups, const void *a, int64_t lda,
                                 const void *b, const int32_t *corr, int mr, int nr,
                                 const fnn_q8_epilogue *ep, void *c, int64_t ldc);
int64_t fnn_q8_quant_avx512_u8(int64_t rows, int64_t k, int64_t kp, const float *x,
                            int64_t ldx, void *a, int64_t lda, float *scale);
void fnn_q8_ukr_avx2vnni_6x16(int64_t k_groups, const void *a, int64_t lda, const void *b,
                              const int32_t *corr, int mr, int nr,
                              const fnn_q8_epilogue *ep, void *c, int64_t ldc);
void fnn_q8_ukr_avx2_6x16(int64_t k_groups, const void *a, int64_t lda, const void *b,
                          const int32_t *corr, int mr, int nr, const fnn_q8_epilogue *ep,
                          void *c, int64_t ldc);
int64_t fnn_q8_quant_avx2_u8(int64_t rows, int64_t k, int64_t kp, const float *x, int64_t ldx,
                          void *a, int64_t lda, float *scale);
int64_t fnn_q8_quant_avx2_s16(int64_t rows, int64_t k, int64_t kp, const float *x,
                           int64_t ldx, void *a, int64_t lda, float *scale);
#elif defined(__aarch64__) || defined(_M_ARM64)
void fnn_q8_ukr_neon_sdot_8x12(int64_t k_groups, const void *a, int64_t lda, const void *b,
                               const int32_t *corr, int mr, int nr,
                               const fnn_q8_epilogue *ep, void *c, int64_t ldc);
#endif

#endif /* FASTNN_QGEMM_H */
