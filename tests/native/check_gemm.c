/* The GEMM of src_c/ checked from C, for every ISA the CPU runs: tests/test_neon.py
 * cross-compiles it with src_c/ for AArch64 and runs it under QEMU, where the Python
 * tests cannot go (the NEON micro-kernels).
 *
 * Against a double-precision product on shapes around the register tiles (8 x 12 and
 * 6 x 8 on NEON, every edge from 1 to 3 tiles) and across the cache blocks (k past KC,
 * m past MC), in the four transpose cases, with leading dimensions wider than the
 * matrices, alpha, beta (C full of NaN where beta = 0: it must not be read), the fused
 * bias + relu and relu' epilogues, the k-halves forward; and bit for bit the same on 1
 * and 2 threads. Prints "N passed, M failed"; exits 1 on a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastnn.h"

static int passed, failed;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void) /* in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static void check(int ok, const char *what, const char *isa, int dbl, int ta, int tb,
                  long m, long n, long k)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    if (failed <= 20)
        printf("FAIL %s: isa %s %s ta %d tb %d m %ld n %ld k %ld\n", what, isa,
               dbl ? "double" : "float", ta, tb, m, n, k);
}

enum { PLAIN, BIAS_RELU, RELU_GRAD, K_HALVES };

/* One product of each kind at this shape, in one dtype, against the reference. */
#define DEFINE_CASE(NAME, T, GEMM, HALVES, EPS)                                           \
    static void NAME(const char *isa, int ta, int tb, long m, long n, long k, int kind,   \
                     double alpha, double beta)                                           \
    {                                                                                     \
        long lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;                 \
        long ra = ta ? k : m, rb = tb ? n : k;                                            \
        T *a = malloc(sizeof(T) * (ra * lda + 1)), *b = malloc(sizeof(T) * (rb * ldb + 1)); \
        T *c1 = malloc(sizeof(T) * (m * ldc + 1)), *c2 = malloc(sizeof(T) * (m * ldc + 1)); \
        T *c0 = malloc(sizeof(T) * (m * ldc + 1)), *bias = malloc(sizeof(T) * (n + 1));   \
        T *saved = malloc(sizeof(T) * (m * n + 1));                                       \
        for (long i = 0; i < ra * lda; i++) a[i] = (T)uniform();                          \
        for (long i = 0; i < rb * ldb; i++) b[i] = (T)uniform();                          \
        for (long j = 0; j < n; j++) bias[j] = (T)uniform();                              \
        for (long i = 0; i < m * n; i++) saved[i] = (T)uniform();                         \
        for (long i = 0; i < m * ldc; i++) c0[i] = beta != 0 ? (T)uniform() : (T)NAN;     \
        fnn_epilogue ep = {NULL, FNN_ACT_LINEAR, 0.0, NULL, 0};                           \
        if (kind == BIAS_RELU || kind == K_HALVES) {                                      \
            ep.bias = bias;                                                               \
            ep.act = FNN_ACT_RELU;                                                        \
        } else if (kind == RELU_GRAD) {                                                   \
            ep.act = FNN_ACT_RELU;                                                        \
            ep.saved = saved;                                                             \
            ep.ld_saved = n;                                                              \
        }                                                                                 \
        T *outs[2] = {c1, c2};                                                            \
        for (int t = 0; t < 2; t++) {                                                     \
            memcpy(outs[t], c0, sizeof(T) * m * ldc);                                     \
            if (kind == K_HALVES)                                                         \
                HALVES(m, n, k, a, lda, b, ldb, outs[t], ldc, &ep, t + 1);                \
            else                                                                          \
                GEMM(ta, tb, m, n, k, (T)alpha, a, lda, b, ldb, (T)beta, outs[t], ldc,    \
                     kind == PLAIN ? NULL : &ep, t + 1);                                  \
        }                                                                                 \
        int close = 1;                                                                    \
        for (long i = 0; i < m; i++)                                                      \
            for (long j = 0; j < n; j++) {                                                \
                double s = 0, mag = 0;                                                    \
                for (long p = 0; p < k; p++) {                                            \
                    double x = ta ? a[p * lda + i] : a[i * lda + p];                      \
                    double y = tb ? b[j * ldb + p] : b[p * ldb + j];                      \
                    s += x * y;                                                           \
                    mag += fabs(x * y);                                                   \
                }                                                                         \
                double want = alpha * s + (beta != 0 ? beta * c0[i * ldc + j] : 0.0);     \
                mag = fabs(alpha) * mag + fabs(beta * (beta != 0 ? c0[i * ldc + j] : 0)); \
                if (kind == BIAS_RELU || kind == K_HALVES) {                              \
                    want += bias[j];                                                      \
                    mag += fabs(bias[j]);                                                 \
                    want = want > 0 ? want : 0;                                           \
                } else if (kind == RELU_GRAD) {                                           \
                    want = saved[i * n + j] > 0 ? want : 0;                               \
                }                                                                         \
                double got = c1[i * ldc + j];                                             \
                if (!(fabs(got - want) <= EPS * (mag + 1e-30) * (k + 2)))                 \
                    close = 0;                                                            \
            }                                                                             \
        static const char *what[] = {"plain", "bias + relu", "relu'", "k halves"};        \
        check(close, what[kind], isa, sizeof(T) == 8, ta, tb, m, n, k);                   \
        check(memcmp(c1, c2, sizeof(T) * m * ldc) == 0, "1 thread vs 2", isa,             \
              sizeof(T) == 8, ta, tb, m, n, k);                                           \
        free(a); free(b); free(c0); free(c1); free(c2); free(bias); free(saved);          \
    }

DEFINE_CASE(case_s, float, fnn_sgemm, fnn_sgemm_k_halves, 2e-7)
DEFINE_CASE(case_d, double, fnn_dgemm, fnn_dgemm_k_halves, 4e-16)

int main(void)
{
    static const long sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 24, 25, 31, 37};
    static const long big[][3] = {{1100, 40, 30}, {50, 700, 40}, {30, 60, 530}, {97, 301, 129}};
    static const char *isas[] = {"generic", "avx2", "avx512", "neon"};
    const int n_sizes = (int)(sizeof(sizes) / sizeof(sizes[0]));
    printf("default isa: %s\n", fnn_isa_name());
    for (int s = 0; s < 4; s++) {
        const char *isa = isas[s];
        if (!fnn_isa_available(isa))
            continue;
        check(fnn_set_isa(isa) == 0 && strcmp(fnn_isa_name(), isa) == 0, "set isa", isa, 0,
              0, 0, 0, 0, 0);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int i = 0; i < n_sizes; i++)
                    for (int j = i % 3; j < n_sizes; j += 3) {
                        long m = sizes[i], n = sizes[j], k = sizes[(i + 2 * j) % n_sizes];
                        double alpha = (i + j) % 2 ? -0.5 : 1.0, beta = j % 3 == 1 ? 0.75 : 0;
                        case_s(isa, ta, tb, m, n, k, (i + j) % 3, alpha, beta);
                        case_d(isa, ta, tb, m, n, k, (i + j + 1) % 3, alpha, beta);
                    }
        for (int b = 0; b < 4; b++) {
            long m = big[b][0], k = big[b][1], n = big[b][2];
            for (int ta = 0; ta < 2; ta++) {
                case_s(isa, ta, b % 2, m, n, k, (b + ta) % 3, 1.0, 0.0);
                case_d(isa, ta, b % 2, m, n, k, (b + ta + 1) % 3, 1.0, b % 2 ? 0.5 : 0.0);
            }
            case_s(isa, 0, 0, m, n, k, K_HALVES, 1.0, 0.0);
            case_d(isa, 0, 0, m, n, k, K_HALVES, 1.0, 0.0);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
