/* AVX2 pack routines, used with the AVX2 micro-kernels. Both memory patterns of
 * gemm_pack.h, vectorised as in src_c/gemm_pack_avx512.c:
 *  - sx == 1 (op(B) row-major, op(A) stored transposed): per k step, vector copies of
 *    `panel` contiguous values, each source row read once and dealt out to the panels;
 *  - sp == 1 (op(A) row-major: every forward product; op(B) stored transposed, e.g.
 *    dZ . W^T): blocks of 8 x 8 floats (4 x 4 doubles) are loaded along k, transposed in
 *    registers and stored as k steps. Done element by element (the portable loop), this
 *    pack made the small-batch products up to 2x slower than OpenBLAS on Zen 3.
 * Masked loads read the edges (lanes left out are never touched). Masked stores are slow
 * on AMD (the A pack of 6-row panels ran 40 % slower with one per k step than the
 * portable loop), so a panel that is not a whole number of vectors (A's 6 rows) is
 * written with full vectors whose spill-over lands on values written after it: the next
 * k step, the next panel, or the 64-byte slack the driver adds to the buffers.
 */
#include <immintrin.h>

#include "gemm_internal.h"

/* The lane mask of the first n (clamped to 0..8) 32-bit lanes. */
static inline __m256i mask32(int64_t n)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)), lanes);
}

/* The lane mask of the first n (clamped to 0..4) 64-bit lanes. */
static inline __m256i mask64(int64_t n)
{
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : n > 4 ? 4 : n), lanes);
}

static inline void transpose8(__m256 r[8])
{
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    __m256 s[8];
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

static inline void transpose4(__m256d r[4])
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* The pack loop, written once for both dtypes: T the element type, VEC its vector, VL
 * the lanes, MASK(n) the mask of the first n lanes, LOAD / LOADM (masked: lanes left out
 * read as 0 and are never touched) / STORE / STOREM (masked) / ZERO the vector
 * operations, TRANSPOSE the VL x VL transpose. */
#define DEFINE_PACK_AVX2(NAME)                                                            \
    void NAME(int64_t w, int64_t kc, const T *src, int64_t sx, int64_t sp, int panel,     \
              T *dst)                                                                     \
    {                                                                                     \
        if (sx == 1) {                                                                    \
            /* k rows of the source are contiguous: read each once, in order */           \
            int64_t n_panels = (w + panel - 1) / panel;                                   \
            for (int64_t p = 0; p < kc; p++) {                                            \
                const T *row = src + p * sp;                                              \
                for (int64_t q = 0; q < n_panels; q++) {                                  \
                    int64_t x0 = q * panel;                                               \
                    T *d = dst + q * panel * kc + p * panel;                              \
                    for (int g = 0; g < panel; g += VL) {                                 \
                        const T *sg = row + x0 + g;                                       \
                        int64_t have = w - x0 - g;                                        \
                        VEC v = have >= VL ? LOAD(sg) : LOADM(sg, MASK(have));            \
                        if (p == kc - 1 && panel - g < VL) /* next panel already written */ \
                            STOREM(d + g, MASK(panel - g), v);                            \
                        else                                                              \
                            STORE(d + g, v);                                              \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            return;                                                                       \
        }                                                                                 \
        for (int64_t x0 = 0; x0 < w; x0 += panel, dst += (int64_t)panel * kc) {           \
            int64_t wn = w - x0 < panel ? w - x0 : panel;                                 \
            const T *s = src + x0 * sx;                                                   \
            if (sp != 1) {                                                                \
                for (int64_t p = 0; p < kc; p++)                                          \
                    for (int x = 0; x < panel; x++)                                       \
                        dst[p * panel + x] = x < wn ? s[x * sx + p * sp] : (T)0;          \
                continue;                                                                 \
            }                                                                             \
            /* the last (partial) group first: its spill-over into the next k step is  \
             * overwritten by the groups before it */                                     \
            for (int g = (panel - 1) / VL * VL; g >= 0; g -= VL) {                        \
                int64_t rows = wn - g;                                                    \
                for (int64_t p0 = 0; p0 < kc; p0 += VL) {                                 \
                    int64_t kn = kc - p0 < VL ? kc - p0 : VL;                             \
                    __m256i km = MASK(kn);                                                \
                    VEC r[VL];                                                            \
                    for (int i = 0; i < VL; i++) {                                        \
                        const T *si = s + (g + i) * sx + p0;                              \
                        r[i] = i >= rows ? ZERO() : kn == VL ? LOAD(si) : LOADM(si, km);  \
                    }                                                                     \
                    TRANSPOSE(r);                                                         \
                    for (int q = 0; q < kn; q++)                                          \
                        STORE(dst + (p0 + q) * panel + g, r[q]);                          \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

#define T float
#define VEC __m256
#define VL 8
#define MASK mask32
#define LOAD _mm256_loadu_ps
#define LOADM _mm256_maskload_ps
#define STORE _mm256_storeu_ps
#define STOREM _mm256_maskstore_ps
#define ZERO _mm256_setzero_ps
#define TRANSPOSE transpose8
DEFINE_PACK_AVX2(fnn_s_pack_avx2)
#undef T
#undef VEC
#undef VL
#undef MASK
#undef LOAD
#undef LOADM
#undef STORE
#undef STOREM
#undef ZERO
#undef TRANSPOSE

#define T double
#define VEC __m256d
#define VL 4
#define MASK mask64
#define LOAD _mm256_loadu_pd
#define LOADM _mm256_maskload_pd
#define STORE _mm256_storeu_pd
#define STOREM _mm256_maskstore_pd
#define ZERO _mm256_setzero_pd
#define TRANSPOSE transpose4
DEFINE_PACK_AVX2(fnn_d_pack_avx2)
