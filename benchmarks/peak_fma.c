/* FMA peak of this machine: the ceiling for benchmarks/bench_matmul.py.
 *
 *   cc -O2 -march=native -fopenmp benchmarks/peak_fma.c -o peak_fma && ./peak_fma 2
 *
 * Each thread runs 12 independent chains of vector FMAs (enough to cover the FMA latency
 * on every x86 core we know) for a fixed time and prints "float32 GFLOPS float64 GFLOPS".
 * Widest vectors the compiler targets: AVX-512, else AVX2, else SSE (no FMA: mul+add).
 */
#include <immintrin.h>

#include "peak.h"

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

static double run_f(void)
{
    VF m = SETF(0.999999f), a = SETF(1e-7f);
#define DECL(i) VF c##i = SETF((float)i);
#define STEP(i) c##i = FMAF(c##i, m, a);
#define ADD(i) s += SUMF(c##i);
    PEAK_CHAIN_LOOP(float, PEAK_MEMORY_BARRIER)
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
    PEAK_CHAIN_LOOP(double, PEAK_MEMORY_BARRIER)
#undef DECL
#undef STEP
#undef ADD
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    printf("%.1f %.1f\n", peak_measure(run_f, threads, 2.0 * WF),
           peak_measure(run_d, threads, 2.0 * (WF / 2)));
    return 0;
}
