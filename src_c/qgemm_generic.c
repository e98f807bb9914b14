/* Portable int8 pieces: the 4 x 8 micro-kernel that is both fallback and test oracle
 * (plain C sums of q * w in int32), the row quantization of src_c/qgemm.h in scalar C,
 * and the pack and copy routines of every kernel's layout. Baseline flags. */
#include <math.h>
#include <string.h>

#include "qgemm.h"

#define MR 4
#define NR 8
#define KG 4

void fnn_q8_ukr_generic_4x8(int64_t k_groups, const void *a, int64_t lda, const void *b,
                            const int32_t *corr, int mr, int nr, const fnn_q8_epilogue *ep,
                            void *c, int64_t ldc)
{
    int32_t acc[MR][NR] = {{0}};
    const int8_t *bp = (const int8_t *)b;
    for (int i = 0; i < mr; i++) {
        const int8_t *ai = (const int8_t *)a + i * lda;
        for (int64_t g = 0; g < k_groups; g++)
            for (int j = 0; j < NR; j++)
                for (int t = 0; t < KG; t++)
                    acc[i][j] += (int32_t)ai[g * KG + t] * bp[(g * NR + j) * KG + t];
    }
    fnn_q8_store_tile(&acc[0][0], NR, mr, nr, corr, ep, c, ldc);
}

/* round half to even, clipped to [-127, 127]; NaN -> -127 (as cvtps + saturation) */
static inline int8_t quant_one(float v)
{
    if (!(v >= -127.0f))
        return -127;
    if (v > 127.0f)
        return 127;
    return (int8_t)rintf(v);
}

int64_t fnn_q8_quant_generic(int64_t rows, int64_t k, int64_t kp, const float *x,
                             int64_t ldx, void *a, int64_t lda, float *scale)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        int8_t *ai = (int8_t *)a + i * lda;
        float amax = 0.0f;
        for (int64_t p = 0; p < k; p++) {
            float v = fabsf(xi[p]);
            amax = v > amax || v != v ? v : amax;
        }
        float s = fnn_q8_scale(amax);
        for (int64_t p = 0; p < k; p++)
            ai[p] = quant_one(xi[p] * s);
        memset(ai + k, 0, (size_t)(kp - k));
        scale[i] = s;
        if (!(amax <= 3.4028235e38f))
            bad += fnn_q8_count_bad(xi, k);
    }
    return bad;
}

void fnn_q8_copy_s8(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                    void *a, int64_t lda)
{
    for (int64_t i = 0; i < rows; i++) {
        int8_t *ai = (int8_t *)a + i * lda;
        memcpy(ai, src + i * lds, (size_t)k);
        memset(ai + k, 0, (size_t)(kp - k));
    }
}

void fnn_q8_copy_u8(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                    void *a, int64_t lda)
{
    for (int64_t i = 0; i < rows; i++) {
        uint8_t *ai = (uint8_t *)a + i * lda;
        for (int64_t p = 0; p < kp; p++)
            ai[p] = (uint8_t)((p < k ? (int)src[i * lds + p] : 0) + 128);
    }
}

void fnn_q8_copy_s16(int64_t rows, int64_t k, int64_t kp, const int8_t *src, int64_t lds,
                     void *a, int64_t lda)
{
    for (int64_t i = 0; i < rows; i++) {
        int16_t *ai = (int16_t *)a + i * lda;
        for (int64_t p = 0; p < kp; p++)
            ai[p] = (int16_t)(p < k ? src[i * lds + p] : 0);
    }
}

/* B~ element (p, j) of column panel q: w[p, q * nr + j], zero past k and n */
static inline int8_t w_at(const int8_t *w, int64_t ldw, int64_t k, int64_t n, int64_t p,
                          int64_t col)
{
    return p < k && col < n ? w[p * ldw + col] : 0;
}

static void col_corrections(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int offset,
                            int32_t *corr)
{
    for (int64_t j = 0; j < n; j++) {
        int32_t sum = 0;
        for (int64_t p = 0; p < k; p++)
            sum += w[p * ldw + j];
        corr[j] = offset * sum;
    }
}

/* B~ of w in elements of `bytes` bytes (1: int8, 2: int16), as fnn_q8_pack_t says */
static void pack(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int nr, int kg,
                 int offset, void *b, int32_t *corr, int bytes)
{
    int64_t groups = (k + kg - 1) / kg, panels = (n + nr - 1) / nr, at = 0;
    for (int64_t q = 0; q < panels; q++)
        for (int64_t g = 0; g < groups; g++)
            for (int j = 0; j < nr; j++)
                for (int t = 0; t < kg; t++, at++) {
                    int8_t v = w_at(w, ldw, k, n, g * kg + t, q * nr + j);
                    if (bytes == 2)
                        ((int16_t *)b)[at] = v;
                    else
                        ((int8_t *)b)[at] = v;
                }
    col_corrections(k, n, w, ldw, offset, corr);
}

void fnn_q8_pack_s8(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int nr, int kg,
                    int offset, void *b, int32_t *corr)
{
    pack(k, n, w, ldw, nr, kg, offset, b, corr, 1);
}

void fnn_q8_pack_s16(int64_t k, int64_t n, const int8_t *w, int64_t ldw, int nr, int kg,
                     int offset, void *b, int32_t *corr)
{
    pack(k, n, w, ldw, nr, kg, offset, b, corr, 2);
}
