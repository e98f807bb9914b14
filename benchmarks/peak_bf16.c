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
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ITERS 1000000L

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run_bf16(void)
{
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)i);
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, x, y);
#define ADD(i) s += _mm512_reduce_add_ps(c##i);
    CHAINS(DECL)
    for (long i = 0; i < ITERS; i++) {
        CHAINS(STEP)
        __asm__ volatile("" ::: "memory");
    }
    float s = 0;
    CHAINS(ADD)
    return s;
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
    CHAINS(DECL)
    for (long i = 0; i < ITERS; i++) {
        CHAINS(STEP)
        __asm__ volatile("" ::: "memory");
    }
    float s = 0;
    CHAINS(ADD)
    return s;
#undef DECL
#undef STEP
#undef ADD
}

/* GFLOP/s (2 per multiply-add) of `threads` threads each running fn, best of 5 */
static double measure(double (*fn)(void), int threads, int madds_per_op)
{
    double best = 0, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += fn();
        double dt = seconds() - t0;
        double gf = 2.0 * 12 * madds_per_op * (double)ITERS * threads / dt / 1e9;
        if (gf > best)
            best = gf;
    }
    if (sink == 12345.678)
        printf("%g\n", sink);
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    printf("%.1f %.1f\n", measure(run_bf16, threads, 32), measure(run_fma, threads, 16));
    return 0;
}
