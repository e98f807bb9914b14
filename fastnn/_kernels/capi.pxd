# The C interface of src_c/ (see src_c/fastnn.h), declared once for every .pyx.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

# The activation and loss codes (enum fnn_act, enum fnn_loss of src_c/fnn_codes.h) are
# declared in fastnn/_kernels/fnn_codes.pxd, which setup.py generates with that header
# from the table in fastnn/_codes.py.
cdef extern from "fastnn.h" nogil:
    int fnn_act_backward_needs_z(int act)
    void fnn_s_act_forward(int act, double param, float *x, const float *bias, int64_t n)
    void fnn_d_act_forward(int act, double param, double *x, const double *bias, int64_t n)
    void fnn_s_act_backward(int act, double param, const float *grad, const float *saved,
                            float *out, int64_t n)
    void fnn_d_act_backward(int act, double param, const double *grad, const double *saved,
                            double *out, int64_t n)

    ctypedef struct fnn_epilogue:
        const void *bias
        int act
        double act_param
        const void *saved
        int64_t ld_saved

    void fnn_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc, const fnn_epilogue *ep, int n_threads)
    void fnn_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                   double beta, double *c, int64_t ldc, const fnn_epilogue *ep, int n_threads)

    void fnn_sgemm_k_halves(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float *c, int64_t ldc,
                            const fnn_epilogue *ep, int n_threads)
    void fnn_dgemm_k_halves(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                            const double *b, int64_t ldb, double *c, int64_t ldc,
                            const fnn_epilogue *ep, int n_threads)
    int64_t fnn_gemm_row_strip(int double_precision, int64_t rows, int parts)
    int fnn_gemm_take_alloc_failure()
    void fnn_gemm_scratch_fail_next(int n)

    const char *fnn_isa_name()
    int fnn_isa_available(const char *name)
    int fnn_set_isa(const char *name)

    int fnn_openmp_enabled()
    int fnn_omp_team_size()
    int fnn_omp_max_threads()
    int fnn_omp_pause()
    void fnn_omp_set_max_threads(int n)

    void fnn_s_adam(float *p, const float *g, float *m, float *v, int64_t n, float alpha,
                    float c1, float c2, float eps, float wd)
    void fnn_d_adam(double *p, const double *g, double *m, double *v, int64_t n,
                    double alpha, double c1, double c2, double eps, double wd)
    void fnn_s_rmsprop(float *p, const float *g, float *velocity, int64_t n, float lr,
                       float rho, float eps, float wd)
    void fnn_d_rmsprop(double *p, const double *g, double *velocity, int64_t n, double lr,
                       double rho, double eps, double wd)

    void fnn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
    void fnn_dropout_keep(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                          int64_t start, int64_t n, uint8_t *keep)
    void fnn_dropout_keep_fast(uint64_t seed, uint32_t layer, uint32_t step,
                               uint32_t threshold, int64_t start, int64_t n, uint8_t *keep)
    void fnn_s_dropout_forward(const float *x, float *out, uint8_t *keep, int64_t start,
                               int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                               uint32_t threshold, double scale)
    void fnn_d_dropout_forward(const double *x, double *out, uint8_t *keep, int64_t start,
                               int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                               uint32_t threshold, double scale)
    void fnn_s_dropout_backward(const float *grad, const uint8_t *keep, const float *saved,
                                int act, double param, double scale, float *out, int64_t n)
    void fnn_d_dropout_backward(const double *grad, const uint8_t *keep,
                                const double *saved, int act, double param, double scale,
                                double *out, int64_t n)
    void fnn_s_exp_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *top,
                        double *total)
    void fnn_d_exp_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, double *top,
                        double *total)
    void fnn_s_softmax_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                            int log_out)
    void fnn_d_softmax_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                            int log_out)
    void fnn_take_rows(const void *src, int64_t row_bytes, const int64_t *indices,
                       int64_t n, void *dst)
    void fnn_s_col_sums(const float *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                        float *out)
    void fnn_d_col_sums(const double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                        double *out)
    int64_t fnn_s_count_nonfinite(const float *x, int64_t n)
    int64_t fnn_d_count_nonfinite(const double *x, int64_t n)


cdef extern from "fpmode.h" nogil:
    unsigned fnn_flush_subnormals_begin()
    void fnn_flush_subnormals_end(unsigned saved)
