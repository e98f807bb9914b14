/* float C := A B for a row or two of A (a single-sample predict, a batch of 1-2), AVX-512.
 *
 * The register-tile micro-kernel would compute 4 rows to keep 1, and a plain C loop keeps
 * the output row in memory, so every k step reloads and stores it (7.7 us for 1 x 784 x
 * 128). Here the output is held in up to 2 x 8 zmm accumulators over the whole k loop,
 * and each k step streams one row of B (one pass over B in all): 4.2 us, about the time
 * to read B's 400 KB from L2. Column blocks of at most 128; the last is masked, so neither
 * B nor C is read or written past its end. Each element is summed over k in order, as in
 * the micro-kernels. */
#include <immintrin.h>

#include "gemm_internal.h"

static inline __mmask16 lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
}

/* rows R (1 or 2) of C[:, 0:w] := A[0:R, :] B[:, 0:w], w <= 16 * NV; both constant after
 * inlining, so the accumulators stay in registers */
FNN_FORCE_INLINE void block(int R, int NV, int64_t k, const float *a, int64_t rs_a,
                            int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                            int64_t w, const float *bias, int relu)
{
    __m512 acc[16], ar[4]; /* acc[r * NV + v]: at most 16, all in registers */
    __mmask16 m[8];
    for (int v = 0; v < NV; v++) {
        m[v] = lanes(w - 16 * v);
        for (int r = 0; r < R; r++)
            acc[r * NV + v] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < k; p++) {
        const float *brow = b + p * ldb;
        for (int r = 0; r < R; r++)
            ar[r] = _mm512_set1_ps(a[r * rs_a + p * cs_a]);
        for (int v = 0; v < NV; v++) {
            __m512 bv = _mm512_maskz_loadu_ps(m[v], brow + 16 * v);
            for (int r = 0; r < R; r++)
                acc[r * NV + v] = _mm512_fmadd_ps(ar[r], bv, acc[r * NV + v]);
        }
    }
    FNN_UNROLL_ALL for (int v = 0; v < NV; v++) {
        __m512 bv = bias ? _mm512_maskz_loadu_ps(m[v], bias + 16 * v) : _mm512_setzero_ps();
        FNN_UNROLL_ALL for (int r = 0; r < R; r++) {
            __m512 x = bias ? _mm512_add_ps(acc[r * NV + v], bv) : acc[r * NV + v];
            if (relu) /* NaN -> 0 as the activations do */
                x = _mm512_max_ps(x, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(c + r * ldc + 16 * v, m[v], x);
        }
    }
}

#define VL 16
#include "sgemv_loop.h"

SGEMV_ENTRY(fnn_sgemv_avx512, 128, 128)
