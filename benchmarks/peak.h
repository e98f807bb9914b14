/* What the peak measurements of benchmarks/ share (peak_fma.c, peak_bf16.c, peak_vnni.c):
 * each thread runs CHAINS independent chains of one vector instruction, each ITERS steps
 * long (12 chains cover the latency of FMA, vdpbf16ps and vpdpbusd on every x86 core we
 * know), all threads timed together, the best of 5 runs kept. */
#ifndef FASTNN_BENCH_PEAK_H
#define FASTNN_BENCH_PEAK_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N_CHAINS 12
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ITERS 1000000L

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* The body of a chain runner: the chains declared by the caller's DECL(i), each stepped
 * ITERS times by STEP(i) behind BARRIER (an empty asm that keeps the compiler from
 * folding or hoisting the chains), then the sum of ADD(i) into `s` of type SUM_T, which
 * the runner returns so that the chains stay live. */
#define PEAK_CHAIN_LOOP(SUM_T, BARRIER)                                                  \
    CHAINS(DECL)                                                                         \
    for (long it_ = 0; it_ < ITERS; it_++) {                                             \
        CHAINS(STEP)                                                                     \
        BARRIER;                                                                         \
    }                                                                                    \
    SUM_T s = 0;                                                                         \
    CHAINS(ADD)                                                                          \
    return s;

#define PEAK_MEMORY_BARRIER __asm__ volatile("" ::: "memory")

/* G operations per second of `threads` threads each running fn (one chain step is
 * `ops_per_step` operations: 2 per multiply-add), the best of 5 runs */
static double peak_measure(double (*fn)(void), int threads, double ops_per_step)
{
    double best = 0, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += fn();
        double dt = seconds() - t0;
        double g = ops_per_step * N_CHAINS * (double)ITERS * threads / dt / 1e9;
        if (g > best)
            best = g;
    }
    if (sink == 12345.678) /* never true: keeps the runs' results live */
        printf("%g\n", sink);
    return best;
}

#endif /* FASTNN_BENCH_PEAK_H */
