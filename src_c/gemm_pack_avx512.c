/* AVX-512 pack routines, and the transposed copy of gemm_transposed. Stores are full
 * vectors where possible (masked stores are slow on Zen 4): a panel narrower than a vector
 * (12 floats) is written in ascending order, so the spill-over of one k step is
 * overwritten by the next one, and the last one lands in the next panel (written later)
 * or in the 64-byte slack the driver adds to the buffers. Both memory patterns of
 * gemm_pack.h, vectorised:
 *  - sx == 1 (op(B) row-major, op(A) stored transposed): per k step, masked vector copies
 *    of `panel` contiguous values;
 *  - sp == 1 (op(A) row-major, op(B) stored transposed, e.g. dZ . W^T): blocks of 16 x 16
 *    floats (8 x 8 doubles) are loaded along k, transposed in registers and stored as k
 *    steps; this is the pack that dominates small-batch backward GEMMs when done scalar.
 */
#include <immintrin.h>

#include "gemm_internal.h"

static __mmask16 mask16(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : n > 0 ? (__mmask16)((1u << n) - 1) : 0; }
static __mmask8 mask8(int64_t n) { return n >= 8 ? (__mmask8)0xFF : n > 0 ? (__mmask8)((1u << n) - 1) : 0; }

static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

static inline void transpose8(__m512d r[8])
{
    __m512d t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);
        u[i + 1] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88);
        u[i + 2] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xDD);
        u[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0x88);
        r[i + 4] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0xDD);
    }
}

/* The pack loop, written once for both dtypes: T the element type, VEC its vector, VL
 * the lanes, MASK(n) the mask (of type MASK_T) of the first n lanes, LOAD / LOADZ
 * (masked, zeroing) / STORE / STOREM (masked) / ZERO the vector operations, TRANSPOSE
 * the VL x VL transpose. The k-mask of a transposed block is computed once per block:
 * inside the row loop it cost the forward GEMM of 32 x 784 x 128 5 % (3-4 us). */
#define DEFINE_PACK_AVX512(NAME)                                                          \
    void NAME(int64_t w, int64_t kc, const T *src, int64_t sx, int64_t sp, int panel,     \
              T *dst)                                                                     \
    {                                                                                     \
        if (sx == 1) {                                                                    \
            /* k rows of the source are contiguous: read each once, in order, and deal   \
             * its values out to the panels (reading panel by panel strides over the     \
             * rows and misses L1 on every load) */                                       \
            int64_t n_panels = (w + panel - 1) / panel;                                   \
            for (int64_t p = 0; p < kc; p++) {                                            \
                const T *row = src + p * sp;                                              \
                for (int64_t q = 0; q < n_panels; q++) {                                  \
                    int64_t x0 = q * panel, wn = w - x0 < panel ? w - x0 : panel;         \
                    T *d = dst + q * panel * kc + p * panel;                              \
                    for (int g = 0; g < panel; g += VL) {                                 \
                        const T *sg = row + x0 + g;                                       \
                        VEC v = x0 + g + VL <= w ? LOAD(sg) : LOADZ(MASK(wn - g), sg);    \
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
            for (int g = 0; g < panel; g += VL) {                                         \
                int64_t rows = wn - g;                                                    \
                for (int64_t p0 = 0; p0 < kc; p0 += VL) {                                 \
                    MASK_T km = MASK(kc - p0);                                            \
                    VEC r[VL];                                                            \
                    for (int i = 0; i < VL; i++)                                          \
                        r[i] = i < rows ? LOADZ(km, s + (g + i) * sx + p0) : ZERO();      \
                    TRANSPOSE(r);                                                         \
                    int64_t kn = kc - p0 < VL ? kc - p0 : VL;                             \
                    for (int q = 0; q < kn; q++)                                          \
                        STORE(dst + (p0 + q) * panel + g, r[q]);                          \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

/* dst := src^T for a rows x cols block (dst[j*ldd + i] = src[i*lds + j]) in VL x VL
 * blocks transposed in registers; the edge blocks load and store with masks. The copy
 * of a product computed as its transpose (src_c/gemm_transposed.h). Zen 4,
 * the 784 x 32 C^T of a 32 x 128 x 784 dZ . W^T: 4.6 us against 14.5 us for a scalar
 * loop, of about 60 us for the product. */
#define DEFINE_TRANSPOSE_AVX512(NAME)                                                     \
    void NAME(int64_t rows, int64_t cols, const T *src, int64_t lds, T *dst, int64_t ldd) \
    {                                                                                     \
        for (int64_t i0 = 0; i0 < rows; i0 += VL) {                                       \
            int64_t rn = rows - i0 < VL ? rows - i0 : VL;                                 \
            MASK_T rm = MASK(rn);                                                         \
            for (int64_t j0 = 0; j0 < cols; j0 += VL) {                                   \
                int64_t cn = cols - j0 < VL ? cols - j0 : VL;                             \
                MASK_T cm = MASK(cn);                                                     \
                VEC r[VL];                                                                \
                for (int i = 0; i < VL; i++)                                              \
                    r[i] = i < rn ? LOADZ(cm, src + (i0 + i) * lds + j0) : ZERO();        \
                TRANSPOSE(r);                                                             \
                T *d = dst + j0 * ldd + i0;                                               \
                if (rn == VL) {                                                           \
                    for (int q = 0; q < cn; q++)                                          \
                        STORE(d + q * ldd, r[q]);                                         \
                } else {                                                                  \
                    for (int q = 0; q < cn; q++)                                          \
                        STOREM(d + q * ldd, rm, r[q]);                                    \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

#define T float
#define VEC __m512
#define VL 16
#define MASK mask16
#define MASK_T __mmask16
#define LOAD _mm512_loadu_ps
#define LOADZ _mm512_maskz_loadu_ps
#define STORE _mm512_storeu_ps
#define STOREM _mm512_mask_storeu_ps
#define ZERO _mm512_setzero_ps
#define TRANSPOSE transpose16
DEFINE_PACK_AVX512(fnn_s_pack_avx512)
DEFINE_TRANSPOSE_AVX512(fnn_s_transpose_avx512)
#undef T
#undef VEC
#undef VL
#undef MASK
#undef MASK_T
#undef LOAD
#undef LOADZ
#undef STORE
#undef STOREM
#undef ZERO
#undef TRANSPOSE

#define T double
#define VEC __m512d
#define VL 8
#define MASK mask8
#define MASK_T __mmask8
#define LOAD _mm512_loadu_pd
#define LOADZ _mm512_maskz_loadu_pd
#define STORE _mm512_storeu_pd
#define STOREM _mm512_mask_storeu_pd
#define ZERO _mm512_setzero_pd
#define TRANSPOSE transpose8
DEFINE_PACK_AVX512(fnn_d_pack_avx512)
DEFINE_TRANSPOSE_AVX512(fnn_d_transpose_avx512)
