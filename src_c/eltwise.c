/* The public element-wise kernels (fastnn.h): each calls the same kernel of the ISA in
 * use, from the tables of eltwise_<isa>.c. The GEMM epilogue and the Cython kernels both
 * come through here, so they give identical results. Compiled with the baseline flags. */
#include <string.h>

#include "eltwise_kernels.h"

static const fnn_eltwise_table *const tables[FNN_N_ISA] = {
    &fnn_eltwise_generic,
#if defined(FNN_X86)
    &fnn_eltwise_avx2,
    &fnn_eltwise_avx512,
#elif defined(FNN_ARM64)
    &fnn_eltwise_generic, /* NEON is in AArch64's baseline: the portable build has it */
#endif
};

static const fnn_eltwise_table *table(void) { return tables[fnn_isa_index()]; }

int fnn_act_backward_needs_z(int act)
{
#define FNN_NEEDS_Z_CASE(NAME, name, needs_z) case FNN_ACT_##NAME: return needs_z;
    switch (act) {
    FNN_ACT_FUNCTIONS(FNN_NEEDS_Z_CASE)
    default:
        return 0;
    }
#undef FNN_NEEDS_Z_CASE
}

void fnn_s_act_forward(int act, double param, float *x, const float *bias, int64_t n)
{
    table()->s_act_forward(act, param, x, bias, n);
}

void fnn_d_act_forward(int act, double param, double *x, const double *bias, int64_t n)
{
    table()->d_act_forward(act, param, x, bias, n);
}

void fnn_s_act_backward(int act, double param, const float *grad, const float *saved,
                        float *out, int64_t n)
{
    table()->s_act_backward(act, param, grad, saved, out, n);
}

void fnn_d_act_backward(int act, double param, const double *grad, const double *saved,
                        double *out, int64_t n)
{
    table()->d_act_backward(act, param, grad, saved, out, n);
}

void fnn_s_adam(float *p, const float *g, float *m, float *v, int64_t n, float alpha,
                float c1, float c2, float eps, float wd)
{
    table()->s_adam(p, g, m, v, n, alpha, c1, c2, eps, wd);
}

void fnn_d_adam(double *p, const double *g, double *m, double *v, int64_t n, double alpha,
                double c1, double c2, double eps, double wd)
{
    table()->d_adam(p, g, m, v, n, alpha, c1, c2, eps, wd);
}

void fnn_s_rmsprop(float *p, const float *g, float *velocity, int64_t n, float lr, float rho,
                   float eps, float wd)
{
    table()->s_rmsprop(p, g, velocity, n, lr, rho, eps, wd);
}

void fnn_d_rmsprop(double *p, const double *g, double *velocity, int64_t n, double lr,
                   double rho, double eps, double wd)
{
    table()->d_rmsprop(p, g, velocity, n, lr, rho, eps, wd);
}

void fnn_s_dropout_forward(const float *x, float *out, uint8_t *keep, int64_t start,
                           int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                           uint32_t threshold, double scale)
{
    table()->s_dropout_forward(x, out, keep, start, n, seed, layer, step, threshold, scale);
}

void fnn_d_dropout_forward(const double *x, double *out, uint8_t *keep, int64_t start,
                           int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                           uint32_t threshold, double scale)
{
    table()->d_dropout_forward(x, out, keep, start, n, seed, layer, step, threshold, scale);
}

void fnn_s_dropout_backward(const float *grad, const uint8_t *keep, const float *saved,
                            int act, double param, double scale, float *out, int64_t n)
{
    table()->s_dropout_backward(grad, keep, saved, act, param, scale, out, n);
}

void fnn_d_dropout_backward(const double *grad, const uint8_t *keep, const double *saved,
                            int act, double param, double scale, double *out, int64_t n)
{
    table()->d_dropout_backward(grad, keep, saved, act, param, scale, out, n);
}

void fnn_s_col_sums(const float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *out)
{
    table()->s_col_sums(x, n_rows, n_cols, ld, out);
}

void fnn_d_col_sums(const double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                    double *out)
{
    table()->d_col_sums(x, n_rows, n_cols, ld, out);
}

int64_t fnn_s_count_nonfinite(const float *x, int64_t n)
{
    return table()->s_count_nonfinite(x, n);
}

int64_t fnn_d_count_nonfinite(const double *x, int64_t n)
{
    return table()->d_count_nonfinite(x, n);
}

void fnn_s_exp_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *top,
                    double *total)
{
    table()->s_exp_rows(x, n_rows, n_cols, ld, top, total);
}

void fnn_d_exp_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, double *top,
                    double *total)
{
    table()->d_exp_rows(x, n_rows, n_cols, ld, top, total);
}

void fnn_s_softmax_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, int log_out)
{
    table()->s_softmax_rows(x, n_rows, n_cols, ld, log_out);
}

void fnn_d_softmax_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, int log_out)
{
    table()->d_softmax_rows(x, n_rows, n_cols, ld, log_out);
}

void fnn_s_gemm_few_rows(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                         int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                         const float *bias, int relu)
{
    table()->s_gemm_few_rows(m, n, k, a, rs_a, cs_a, b, ldb, c, ldc, bias, relu);
}

void fnn_d_gemm_few_rows(int64_t m, int64_t n, int64_t k, const double *a, int64_t rs_a,
                         int64_t cs_a, const double *b, int64_t ldb, double *c,
                         int64_t ldc, const double *bias, int relu)
{
    table()->d_gemm_few_rows(m, n, k, a, rs_a, cs_a, b, ldb, c, ldc, bias, relu);
}

void fnn_dropout_keep_fast(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                           int64_t start, int64_t n, uint8_t *keep)
{
    table()->dropout_keep(seed, layer, step, threshold, start, n, keep);
}

/* How many rows ahead take_rows prefetches: a random row of the training set is in
 * DRAM, and its first lines take a memory latency to arrive; asking for the rows to
 * come while copying this one overlaps those latencies. */
#define TAKE_AHEAD 4

/* Asks for one row's lines into L2 (prefetcht1). On Zen 4 a shuffled batch of 32 rows
 * of 784 floats gathers in 9-10 us this way against 16 us with prefetchnta and 18 us
 * with prefetcht0 (a pass over 60,000 rows in DRAM), presumably because L2 can keep
 * more misses in flight than L1. */
static void prefetch_row(const char *row, int64_t row_bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    for (int64_t b = 0; b < row_bytes; b += 64)
        __builtin_prefetch(row + b, 0, 2);
#else
    (void)row;
    (void)row_bytes;
#endif
}

void fnn_take_rows(const void *src, int64_t row_bytes, const int64_t *indices, int64_t n,
                   void *dst)
{
    const char *s = (const char *)src;
    char *d = (char *)dst;
    for (int64_t i = 0; i < n && i < TAKE_AHEAD; i++)
        prefetch_row(s + indices[i] * row_bytes, row_bytes);
    for (int64_t i = 0; i < n; i++) {
        if (i + TAKE_AHEAD < n)
            prefetch_row(s + indices[i + TAKE_AHEAD] * row_bytes, row_bytes);
        memcpy(d + i * row_bytes, s + indices[i] * row_bytes, (size_t)row_bytes);
    }
}
