/* vdpbf16ps peak of this machine: the ceiling of the bfloat16 GEMM (src_c/bf16.h), measured
 * as benchmarks/peak_fma.c measures the FMA's.
 *
 *   cc -O2 -mavx512f -mavx512bf16 -fopenmp benchmarks/peak_bf16.c -o peak_bf16 && ./peak_bf16 2
 *
 * Each thread runs 12 independent chains of zmm vdpbf16ps (32 multiply-adds each: 16
 * lanes x a pair) for a fixed count and prints "bfloat16 GFLOPS float32-FMA GFLOPS", the
 * second from the same chains of vfmadd on the same machine in the same run, so the two
 * ceilings are side by side. Needs a CPU with AVX512_BF16.
 */
#include <immintrin.h>

#include "peak.h"

static double run_bf16(void)
{
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)i);
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, x, y);
#define ADD(i) s += _mm512_reduce_add_ps(c##i);
    PEAK_CHAIN_LOOP(float, PEAK_MEMORY_BARRIER)
#undef DECL
#undef STEP
#undef ADD
}

static double run_fma(void)
{
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)i);
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, m, a);
#define ADD(i) s += _mm512_reduce_add_ps(c##i);
    PEAK_CHAIN_LOOP(float, PEAK_MEMORY_BARRIER)
#undef DECL
#undef STEP
#undef ADD
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    /* 32 multiply-adds per vdpbf16ps (16 lanes x a pair), 16 per zmm FMA */
    printf("%.1f %.1f\n", peak_measure(run_bf16, threads, 2.0 * 32),
           peak_measure(run_fma, threads, 2.0 * 16));
    return 0;
}
