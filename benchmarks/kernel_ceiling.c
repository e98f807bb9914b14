/* The float micro-kernel's own rate on this machine, in cache: the second ceiling of
 * benchmarks/bench_matmul.py, beside the FMA peak of benchmarks/peak_fma.c.
 *
 *   cc -O3 -fopenmp <the ISA's flags of setup.py> -Isrc_c -DUKR=fnn_sgemm_avx512_12x32 \
 *      -DMR=12 -DNR=32 benchmarks/kernel_ceiling.c src_c/sgemm_avx512_12x32.c \
 *      -o kernel_ceiling && ./kernel_ceiling 2
 *
 * Each thread calls the micro-kernel UKR (an MR x NR tile) on packed panels that stay in
 * cache, as the GEMM driver's inner loop does at best: one A~ micro-panel (MR x KC, in
 * L1) against 12 B~ micro-panels (KC x NR each, together in L2), KC = 384, the C tiles
 * written with beta = 0 and accumulated with beta = 1 in turn (the first and the later
 * k-blocks). Nothing is packed, nothing comes from memory, no tile is an edge: what a
 * whole product can approach but not pass. Prints the GFLOP/s of all threads together,
 * the best of 7 runs of 0.2 s. Built without OpenMP it runs one thread whatever it is told.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm_internal.h"

#define KC 384
#define PANELS 12
#define RUNS 7

void UKR(int64_t k, const float *a, const float *b, int64_t rs_b, float *c, int64_t ldc,
         float alpha, float beta, int mr, int nr, const float *bias, int relu);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Multiply-adds per second of one thread's loop over its panels for about `seconds`. */
static double thread_rate(const float *a, const float *b, float *c, double seconds)
{
    const int64_t ldc = (int64_t)NR * PANELS;
    int64_t calls = 0;
    double t0 = now(), t;
    do {
        for (int j = 0; j < PANELS; j++)
            UKR(KC, a, b + (int64_t)j * KC * NR, NR, c + (int64_t)j * NR, ldc, 1.0f,
                (calls & 1) ? 1.0f : 0.0f, MR, NR, NULL, 0);
        calls++;
        t = now();
    } while (t - t0 < seconds);
    return (double)calls * PANELS * MR * NR * KC / (t - t0);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    (void)threads; /* unused without OpenMP */
    double best = 0;
    for (int run = 0; run < RUNS; run++) {
        double total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            /* small values of both signs: the sums stay far from overflow and denormals */
            float *a = aligned_alloc(64, sizeof(float) * MR * KC);
            float *b = aligned_alloc(64, sizeof(float) * KC * NR * PANELS);
            float *c = aligned_alloc(64, sizeof(float) * MR * NR * PANELS);
            for (int i = 0; i < MR * KC; i++)
                a[i] = 0.01f * (float)(i % 7 - 3);
            for (int i = 0; i < KC * NR * PANELS; i++)
                b[i] = 0.01f * (float)(i % 5 - 2);
            thread_rate(a, b, c, 0.02); /* warm the caches and the clock */
            total += thread_rate(a, b, c, 0.2);
            free(a);
            free(b);
            free(c);
        }
        if (total > best)
            best = total;
    }
    printf("%.1f\n", 2.0 * best / 1e9);
    return 0;
}
