/* The element-wise kernels of one ISA as a table of function pointers: eltwise_<isa>.c
 * define one table each, src_c/eltwise.c calls through the table of the ISA in use.
 * Internal to src_c/; the public entry points are declared in fastnn.h. */
#ifndef FASTNN_ELTWISE_KERNELS_H
#define FASTNN_ELTWISE_KERNELS_H

#include <stdint.h>

#include "fastnn.h"
#include "isa.h"

typedef struct {
    void (*s_act_forward)(int act, double param, float *x, const float *bias, int64_t n);
    void (*d_act_forward)(int act, double param, double *x, const double *bias, int64_t n);
    void (*s_act_backward)(int act, double param, const float *grad, const float *saved,
                           float *out, int64_t n);
    void (*d_act_backward)(int act, double param, const double *grad, const double *saved,
                           double *out, int64_t n);
    void (*s_adam)(float *p, const float *g, float *m, float *v, int64_t n, float alpha,
                   float c1, float c2, float eps, float wd);
    void (*d_adam)(double *p, const double *g, double *m, double *v, int64_t n,
                   double alpha, double c1, double c2, double eps, double wd);
    void (*s_rmsprop)(float *p, const float *g, float *velocity, int64_t n, float lr,
                      float rho, float eps, float wd);
    void (*d_rmsprop)(double *p, const double *g, double *velocity, int64_t n, double lr,
                      double rho, double eps, double wd);
    void (*s_dropout_forward)(const float *x, float *out, uint8_t *keep, int64_t start,
                              int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                              uint32_t threshold, double scale);
    void (*d_dropout_forward)(const double *x, double *out, uint8_t *keep, int64_t start,
                              int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                              uint32_t threshold, double scale);
    void (*s_dropout_backward)(const float *grad, const uint8_t *keep, const float *saved,
                               int act, double param, double scale, float *out, int64_t n);
    void (*d_dropout_backward)(const double *grad, const uint8_t *keep, const double *saved,
                               int act, double param, double scale, double *out, int64_t n);
    void (*s_col_sums)(const float *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                       float *out);
    void (*d_col_sums)(const double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                       double *out);
    int64_t (*s_count_nonfinite)(const float *x, int64_t n);
    int64_t (*d_count_nonfinite)(const double *x, int64_t n);
    void (*s_exp_rows)(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *top,
                       double *total);
    void (*d_exp_rows)(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, double *top,
                       double *total);
    void (*s_softmax_rows)(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, int log_out);
    void (*d_softmax_rows)(double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                           int log_out);
    void (*s_gemm_few_rows)(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                            int64_t cs_a, const float *b, int64_t ldb, float *c,
                            int64_t ldc, const float *bias, int relu);
    void (*d_gemm_few_rows)(int64_t m, int64_t n, int64_t k, const double *a,
                            int64_t rs_a, int64_t cs_a, const double *b, int64_t ldb,
                            double *c, int64_t ldc, const double *bias, int relu);
    void (*dropout_keep)(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                         int64_t start, int64_t n, uint8_t *keep);
} fnn_eltwise_table;

extern const fnn_eltwise_table fnn_eltwise_generic;
#ifdef FNN_X86
extern const fnn_eltwise_table fnn_eltwise_avx2;
extern const fnn_eltwise_table fnn_eltwise_avx512;
#endif

#endif /* FASTNN_ELTWISE_KERNELS_H */
