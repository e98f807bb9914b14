/* Dropout keep-masks from Philox4x32-10, for one ISA: included by eltwise_isa.h with
 * ISA_FN(name) defined. The same numbers as fnn_philox4x32_10 (src_c/philox.c): with
 * AVX2 or AVX-512, 8 or 16 counters go through the rounds at once, one per 32-bit lane
 * (_mul_epu32 gives the 32 x 32 -> 64-bit products of even lanes, a shift the odd ones);
 * the four output words of each lane are then interleaved into mask bytes by
 * unpack + saturating pack, which within each 128-bit lane leaves them in element order. */

#include "philox_constants.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define PHILOX_LANES 16
typedef __m512i pvec;
#define PV_SET1(x) _mm512_set1_epi32((int)(x))
#define PV_XOR(a, b) _mm512_xor_si512(a, b)
#define PV_ADD(a, b) _mm512_add_epi32(a, b)
#define PV_MUL_EVEN(a, b) _mm512_mul_epu32(a, b)
#define PV_SRL64(a) _mm512_srli_epi64(a, 32)
#define PV_SLL64(a) _mm512_slli_epi64(a, 32)
#define PV_ODD(a, b) _mm512_mask_blend_epi32((__mmask16)0xAAAA, a, b)
#define PV_LANES _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
/* 0 where a >= t (kept), -1 where dropped */
#define PV_DROPPED(a, t) _mm512_movm_epi32(_mm512_cmplt_epu32_mask(a, t))
#define PV_UNPACKLO32 _mm512_unpacklo_epi32
#define PV_UNPACKHI32 _mm512_unpackhi_epi32
#define PV_UNPACKLO64 _mm512_unpacklo_epi64
#define PV_UNPACKHI64 _mm512_unpackhi_epi64
#define PV_PACK32 _mm512_packs_epi32
#define PV_PACK16 _mm512_packs_epi16
#define PV_ADD8(a, b) _mm512_add_epi8(a, b)
#define PV_SET1_8(x) _mm512_set1_epi8(x)
#define PV_STORE(p, a) _mm512_storeu_si512((void *)(p), a)
#elif defined(__AVX2__)
#include <immintrin.h>
#define PHILOX_LANES 8
typedef __m256i pvec;
#define PV_SET1(x) _mm256_set1_epi32((int)(x))
#define PV_XOR(a, b) _mm256_xor_si256(a, b)
#define PV_ADD(a, b) _mm256_add_epi32(a, b)
#define PV_MUL_EVEN(a, b) _mm256_mul_epu32(a, b)
#define PV_SRL64(a) _mm256_srli_epi64(a, 32)
#define PV_SLL64(a) _mm256_slli_epi64(a, 32)
#define PV_ODD(a, b) _mm256_blend_epi32(a, b, 0xAA)
#define PV_LANES _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
/* AVX2 has no unsigned compare: flip the sign bits and compare signed */
#define PV_DROPPED(a, t) _mm256_cmpgt_epi32(PV_XOR(t, PV_SET1(0x80000000u)), \
                                            PV_XOR(a, PV_SET1(0x80000000u)))
#define PV_UNPACKLO32 _mm256_unpacklo_epi32
#define PV_UNPACKHI32 _mm256_unpackhi_epi32
#define PV_UNPACKLO64 _mm256_unpacklo_epi64
#define PV_UNPACKHI64 _mm256_unpackhi_epi64
#define PV_PACK32 _mm256_packs_epi32
#define PV_PACK16 _mm256_packs_epi16
#define PV_ADD8(a, b) _mm256_add_epi8(a, b)
#define PV_SET1_8(x) _mm256_set1_epi8(x)
#define PV_STORE(p, a) _mm256_storeu_si256((__m256i *)(p), a)
#endif

#ifdef PHILOX_LANES
/* (hi, lo) := the 64-bit products of the 32-bit lanes of a with the constant m */
static inline void ISA_FN(philox_mul)(pvec a, pvec m, pvec *hi, pvec *lo)
{
    pvec even = PV_MUL_EVEN(a, m);
    pvec odd = PV_MUL_EVEN(PV_SRL64(a), m);
    *lo = PV_ODD(even, PV_SLL64(odd));
    *hi = PV_ODD(PV_SRL64(even), odd);
}

/* keep[0 .. 4 * PHILOX_LANES) for the blocks first_block.. (first_block % 2^32 plus
 * PHILOX_LANES must not wrap: the caller splits there) */
static inline void ISA_FN(philox_lanes)(uint64_t first_block, uint32_t key0, uint32_t key1,
                                        uint32_t layer, uint32_t step, uint32_t threshold,
                                        uint8_t *keep)
{
    pvec c0 = PV_ADD(PV_SET1((uint32_t)first_block), PV_LANES);
    pvec c1 = PV_SET1((uint32_t)(first_block >> 32));
    pvec c2 = PV_SET1(layer), c3 = PV_SET1(step);
    const pvec m0 = PV_SET1(PHILOX_M0), m1 = PV_SET1(PHILOX_M1);
    uint32_t k0 = key0, k1 = key1;
    for (int r = 0; r < 10; r++) {
        pvec hi0, lo0, hi1, lo1;
        ISA_FN(philox_mul)(c0, m0, &hi0, &lo0);
        ISA_FN(philox_mul)(c2, m1, &hi1, &lo1);
        c0 = PV_XOR(PV_XOR(hi1, c1), PV_SET1(k0));
        c2 = PV_XOR(PV_XOR(hi0, c3), PV_SET1(k1));
        c1 = lo1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    const pvec t = PV_SET1(threshold);
    pvec d0 = PV_DROPPED(c0, t), d1 = PV_DROPPED(c1, t);
    pvec d2 = PV_DROPPED(c2, t), d3 = PV_DROPPED(c3, t);
    pvec a = PV_UNPACKLO32(d0, d1), b = PV_UNPACKLO32(d2, d3);
    pvec c = PV_UNPACKHI32(d0, d1), d = PV_UNPACKHI32(d2, d3);
    pvec e0 = PV_UNPACKLO64(a, b), e1 = PV_UNPACKHI64(a, b);
    pvec e2 = PV_UNPACKLO64(c, d), e3 = PV_UNPACKHI64(c, d);
    pvec bytes = PV_PACK16(PV_PACK32(e0, e1), PV_PACK32(e2, e3));
    PV_STORE(keep, PV_ADD8(bytes, PV_SET1_8(1)));  /* dropped -1 -> 0, kept 0 -> 1 */
}
#endif

static void ISA_FN(dropout_keep)(uint64_t seed, uint32_t layer, uint32_t step,
                                 uint32_t threshold, int64_t start, int64_t n,
                                 uint8_t *restrict keep)
{
#ifdef PHILOX_LANES
    const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    /* one block at a time up to a block boundary, then PHILOX_LANES blocks at once */
    int64_t i = (4 - (start & 3)) & 3;
    if (i > n)
        i = n;
    if (i)
        fnn_dropout_keep(seed, layer, step, threshold, start, i, keep);
    for (; n - i >= 4 * PHILOX_LANES; i += 4 * PHILOX_LANES) {
        uint64_t block = (uint64_t)(start + i) >> 2;
        if ((uint32_t)block > UINT32_MAX - PHILOX_LANES)
            break;  /* the low counter word would wrap inside the vector */
        ISA_FN(philox_lanes)(block, key0, key1, layer, step, threshold, keep + i);
    }
    if (i < n)
        fnn_dropout_keep(seed, layer, step, threshold, start + i, n - i, keep + i);
#else
    fnn_dropout_keep(seed, layer, step, threshold, start, n, keep);
#endif
}

#ifdef PHILOX_LANES
#undef PHILOX_LANES
#undef PV_SET1
#undef PV_XOR
#undef PV_ADD
#undef PV_MUL_EVEN
#undef PV_SRL64
#undef PV_SLL64
#undef PV_ODD
#undef PV_LANES
#undef PV_DROPPED
#undef PV_UNPACKLO32
#undef PV_UNPACKHI32
#undef PV_UNPACKLO64
#undef PV_UNPACKHI64
#undef PV_PACK32
#undef PV_PACK16
#undef PV_ADD8
#undef PV_SET1_8
#undef PV_STORE
#endif
