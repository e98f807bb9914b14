/* FMA peak of this machine: the ceiling for benchmarks/bench_matmul.py.
 *
 *   cc -O2 -march=native -fopenmp benchmarks/peak_fma.c -o peak_fma && ./peak_fma 2
 *
 * Each thread runs 12 independent chains of vector FMAs (enough to cover the FMA latency
 * on every x86 core we know) for a fixed time and prints "float32 GFLOPS float64 GFLOPS".
 * Widest vectors the compiler targets: AVX-512, else AVX2, else SSE (no FMA: mul+add).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#include <immintrin.h>

#if defined(__AVX512F__)
#define VF __m512
#define VD __m512d
#define WF 16
#define SETF _mm512_set1_ps
#define SETD _mm512_set1_pd
#define FMAF(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FMAD(a, b, c) _mm512_fmadd_pd(a, b, c)
#define SUMF(x) _mm512_reduce_add_ps(x)
#define SUMD(x) _mm512_reduce_add_pd(x)
#elif defined(__AVX2__) && defined(__FMA__)
#define VF __m256
#define VD __m256d
#define WF 8
#define SETF _mm256_set1_ps
#define SETD _mm256_set1_pd
#define FMAF(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FMAD(a, b, c) _mm256_fmadd_pd(a, b, c)
#define SUMF(x) _mm256_cvtss_f32(x)
#define SUMD(x) _mm256_cvtsd_f64(x)
#else
#define VF __m128
#define VD __m128d
#define WF 4
#define SETF _mm_set1_ps
#define SETD _mm_set1_pd
#define FMAF(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define FMAD(a, b, c) _mm_add_pd(_mm_mul_pd(a, b), c)
#define SUMF(x) _mm_cvtss_f32(x)
#define SUMD(x) _mm_cvtsd_f64(x)
#endif

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ITERS 1000000L

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run_f(void)
{
    VF m = SETF(0.999999f), a = SETF(1e-7f);
#define DECL(i) VF c##i = SETF((float)i);
#define STEP(i) c##i = FMAF(c##i, m, a);
#define ADD(i) s += SUMF(c##i);
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

static double run_d(void)
{
    VD m = SETD(0.999999), a = SETD(1e-7);
#define DECL(i) VD c##i = SETD((double)i);
#define STEP(i) c##i = FMAD(c##i, m, a);
#define ADD(i) s += SUMD(c##i);
    CHAINS(DECL)
    for (long i = 0; i < ITERS; i++) {
        CHAINS(STEP)
        __asm__ volatile("" ::: "memory");
    }
    double s = 0;
    CHAINS(ADD)
    return s;
#undef DECL
#undef STEP
#undef ADD
}

/* GFLOP/s of `threads` threads each running fn, best of 5 */
static double measure(double (*fn)(void), int threads, int lanes)
{
    double best = 0, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += fn();
        double dt = seconds() - t0;
        double gf = 2.0 * 12 * lanes * (double)ITERS * threads / dt / 1e9;
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
    printf("%.1f %.1f\n", measure(run_f, threads, WF), measure(run_d, threads, WF / 2));
    return 0;
}
