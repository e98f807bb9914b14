/* vpdpbusd peak of this machine: the ceiling for the int8 GEMM (benchmarks/bench_quantized.py).
 *
 *   cc -O2 -march=native -fopenmp benchmarks/peak_vnni.c -o peak_vnni && ./peak_vnni 2
 *
 * As benchmarks/peak_fma.c does for FMA: each thread runs 12 independent chains of
 * vpdpbusd (u8 x s8 -> int32, 4 multiply-adds per 32-bit lane) for a fixed time and
 * prints "int8 GOPS" (2 operations per multiply-add), on zmm with AVX512_VNNI, else on
 * ymm with AVX-VNNI.
 */
#include <immintrin.h>

#include "peak.h"

#if defined(__AVX512VNNI__)
#define VI __m512i
#define LANES 16
#define SET _mm512_set1_epi32
#define DOT(c, a, b) _mm512_dpbusd_epi32(c, a, b)
#define FIRST(x) _mm_cvtsi128_si32(_mm512_castsi512_si128(x))
#elif defined(__AVXVNNI__)
#define VI __m256i
#define LANES 8
#define SET _mm256_set1_epi32
#define DOT(c, a, b) _mm256_dpbusd_avx_epi32(c, a, b)
#define FIRST(x) _mm_cvtsi128_si32(_mm256_castsi256_si128(x))
#else
#error "needs AVX512_VNNI or AVX-VNNI (-march=native on such a CPU)"
#endif

static double run(void)
{
    VI a = SET(0x01010101), b = SET(0x01010101);
#define DECL(i) VI c##i = SET(i);
#define STEP(i) c##i = DOT(c##i, a, b);
#define ADD(i) s += FIRST(c##i);
    /* the barrier hides a and b from the compiler: integer chains of constant
     * steps could otherwise be folded */
    PEAK_CHAIN_LOOP(int, __asm__ volatile("" : "+v"(a), "+v"(b)))
#undef DECL
#undef STEP
#undef ADD
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    /* 4 multiply-adds per 32-bit lane, 2 operations each */
    printf("int8 %.1f GOPS (%d threads)\n", peak_measure(run, threads, 2.0 * 4 * LANES),
           threads);
    return 0;
}
