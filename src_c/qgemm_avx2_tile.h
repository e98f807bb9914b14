/* The write-out of a 6 x 16 int32 tile (two ymm per row) for the AVX2 int8 kernels
 * (src_c/qgemm_avx2_6x16.c, src_c/qgemm_avx2vnni_6x16.c): acc - corr as int32, or the
 * float epilogue of src_c/qgemm.h. Columns past nr go through a bounce row. */
#ifndef FASTNN_QGEMM_AVX2_TILE_H
#define FASTNN_QGEMM_AVX2_TILE_H

#include <immintrin.h>
#include <string.h>

#include "gemm_internal.h"
#include "qgemm.h"

#define Q8_AVX2_MR 6
#define Q8_AVX2_NR 16

FNN_FORCE_INLINE __m256 q8_avx2_scale(__m256i acc, const float *ws, float xs)
{
    return _mm256_div_ps(_mm256_cvtepi32_ps(acc),
                         _mm256_mul_ps(_mm256_loadu_ps(ws), _mm256_set1_ps(xs)));
}

/* row i of the tile, x0 and x1 its 16 int32 sums; ws, bias, corr padded to 16 */
FNN_FORCE_INLINE void q8_avx2_store_row(int i, __m256i x0, __m256i x1, const int32_t *corr,
                                        const float *ws, const float *bias, int nr,
                                        const fnn_q8_epilogue *ep, void *c, int64_t ldc)
{
    x0 = _mm256_sub_epi32(x0, _mm256_loadu_si256((const __m256i *)corr));
    x1 = _mm256_sub_epi32(x1, _mm256_loadu_si256((const __m256i *)(corr + 8)));
    if (ep == NULL) {
        int32_t *row = (int32_t *)c + i * ldc;
        if (nr == Q8_AVX2_NR) {
            _mm256_storeu_si256((__m256i *)row, x0);
            _mm256_storeu_si256((__m256i *)(row + 8), x1);
        } else {
            int32_t tmp[16];
            _mm256_storeu_si256((__m256i *)tmp, x0);
            _mm256_storeu_si256((__m256i *)(tmp + 8), x1);
            memcpy(row, tmp, (size_t)nr * sizeof(int32_t));
        }
        return;
    }
    __m256 v0 = q8_avx2_scale(x0, ws, ep->xs[i]), v1 = q8_avx2_scale(x1, ws + 8, ep->xs[i]);
    if (bias != NULL) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
    }
    float *row = (float *)c + i * ldc;
    if (nr == Q8_AVX2_NR) {
        _mm256_storeu_ps(row, v0);
        _mm256_storeu_ps(row + 8, v1);
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, v0);
        _mm256_storeu_ps(tmp + 8, v1);
        memcpy(row, tmp, (size_t)nr * sizeof(float));
    }
}

/* The panel's corrections, column scales and bias padded to 16 (edge panels), so that
 * the row stores read whole vectors; masked lanes get scale 1 and no correction. */
typedef struct {
    int32_t corr[16];
    float ws[16], bias[16];
} q8_avx2_panel;

FNN_FORCE_INLINE void q8_avx2_panel_of(q8_avx2_panel *p, const int32_t *corr, int nr,
                                       const fnn_q8_epilogue *ep)
{
    for (int j = 0; j < 16; j++) {
        p->corr[j] = corr != NULL && j < nr ? corr[j] : 0;
        p->ws[j] = ep != NULL && j < nr ? ep->ws[j] : 1.0f;
        p->bias[j] = ep != NULL && ep->bias != NULL && j < nr ? ep->bias[j] : 0.0f;
    }
}

#define Q8_AVX2_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define Q8_AVX2_DECL(i) __m256i c##i##_0 = _mm256_setzero_si256(), c##i##_1 = c##i##_0;
#define Q8_AVX2_STORE(i)                                                                  \
    if (i < mr)                                                                           \
        q8_avx2_store_row(i, c##i##_0, c##i##_1, pan.corr, pan.ws,                        \
                          ep != NULL && ep->bias != NULL ? pan.bias : NULL, nr, ep, c, ldc);

#endif /* FASTNN_QGEMM_AVX2_TILE_H */
