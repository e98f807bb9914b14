/* The portable half of the bfloat16 GEMM (src_c/bf16.h): its definition as a loop (the
 * tests' oracle) and the rounding of the float32 route. Baseline flags: runs anywhere. */
#include "bf16.h"

void fnn_bf16_gemm_ref(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    const int64_t sa_i = ta ? 1 : lda, sa_p = ta ? lda : 1;
    const int64_t sb_p = tb ? 1 : ldb, sb_j = tb ? ldb : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; p += 2) {
                float a_lo = fnn_bf16_round(a[i * sa_i + p * sa_p]);
                float b_lo = fnn_bf16_round(b[p * sb_p + j * sb_j]);
                float a_hi = 0.0f, b_hi = 0.0f;  /* an odd k's last pair */
                if (p + 1 < k) {
                    a_hi = fnn_bf16_round(a[i * sa_i + (p + 1) * sa_p]);
                    b_hi = fnn_bf16_round(b[(p + 1) * sb_p + j * sb_j]);
                }
                acc = fnn_bf16_fma(acc, a_hi, b_hi); /* the high half first, as vdpbf16ps */
                acc = fnn_bf16_fma(acc, a_lo, b_lo);
            }
            c[i * ldc + j] = acc;
        }
}

void fnn_bf16_round_array(const float *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = fnn_bf16_round(src[i]);
}
