/* int8 micro-kernel, AVX-VNNI (the VEX vpdpbusd of Alder Lake and Zen 5 on ymm), 6 x 16
 * tile: per k group of 4, 2 vector loads of B~ (16 columns x 4 bytes), 6 broadcasts of 4
 * bytes of A (q + 128) and 12 vpdpbusd. The rows are quantized by
 * fnn_q8_quant_avx2_u8. Compiled with -mavxvnni (setup.py). */
#include "qgemm_avx2_tile.h"

#define ROW_DOT(i)                                                                       \
    {                                                                                    \
        __m256i ai = _mm256_set1_epi32(*(const int32_t *)(a8 + (i) * lda + 4 * g));     \
        c##i##_0 = _mm256_dpbusd_avx_epi32(c##i##_0, ai, b0);                            \
        c##i##_1 = _mm256_dpbusd_avx_epi32(c##i##_1, ai, b1);                            \
    }

void fnn_q8_ukr_avx2vnni_6x16(int64_t k_groups, const void *a, int64_t lda, const void *b,
                              const int32_t *corr, int mr, int nr,
                              const fnn_q8_epilogue *ep, void *c, int64_t ldc)
{
    const uint8_t *a8 = (const uint8_t *)a;
    const int8_t *b8 = (const int8_t *)b;
    Q8_AVX2_ROWS(Q8_AVX2_DECL)
    for (int64_t g = 0; g < k_groups; g++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b8 + g * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b8 + g * 64 + 32));
        Q8_AVX2_ROWS(ROW_DOT)
    }
    q8_avx2_panel pan;
    q8_avx2_panel_of(&pan, corr, nr, ep);
    Q8_AVX2_ROWS(Q8_AVX2_STORE)
}
