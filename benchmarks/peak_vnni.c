/* vpdpbusd peak of this machine: the ceiling for the int8 GEMM (benchmarks/bench_quantized.py).
 *
 *   cc -O2 -march=native -fopenmp benchmarks/peak_vnni.c -o peak_vnni && ./peak_vnni 2
 *
 * As benchmarks/peak_fma.c does for FMA: each thread runs 12 independent chains of
 * vpdpbusd (u8 x s8 -> int32, 4 multiply-adds per 32-bit lane) for a fixed time and
 * prints "int8 GOPS" (2 operations per multiply-add), on zmm with AVX512_VNNI, else on
 * ymm with AVX-VNNI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#include <immintrin.h>

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

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ITERS 1000000L

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int run(void)
{
    VI a = SET(0x01010101), b = SET(0x01010101);
#define DECL(i) VI c##i = SET(i);
    CHAINS(DECL)
    for (long it = 0; it < ITERS; it++) {
#define STEP(i) c##i = DOT(c##i, a, b);
        CHAINS(STEP)
        __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    int sum = 0;
#define SUM(i) sum += FIRST(c##i);
    CHAINS(SUM)
    return sum;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double best = 0;
    long sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += run();
        double dt = seconds() - t0;
        double ops = 2.0 * 4 * LANES * 12 * ITERS * threads;
        if (ops / dt > best)
            best = ops / dt;
    }
    printf("int8 %.1f GOPS (%d threads; checksum %ld)\n", best / 1e9, threads, sink % 7);
    return 0;
}
