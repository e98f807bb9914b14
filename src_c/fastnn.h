/* fastnn's C interface: GEMM with fused epilogues, CPU-feature dispatch,
 * element-wise activations and the Philox counter-based RNG.
 *
 * Everything here is row-major, takes leading dimensions in elements, and
 * trusts its arguments: the Python boundary validates shapes and dtypes.
 * Every function is safe to call without the GIL.
 */
#ifndef FASTNN_H
#define FASTNN_H

#include <stdint.h>

/* MSVC's C compiler takes the C99 keyword `restrict` only from /std:c11 on */
#if defined(_MSC_VER) && !defined(__clang__) && !defined(__cplusplus) && !defined(restrict) \
    && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L)
#define restrict __restrict
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Element-wise kernels (src_c/eltwise*.c, compiled once per ISA)       */
/* ------------------------------------------------------------------ */

/* Codes shared by the GEMM epilogue and the Cython element-wise kernels.
 * The numbers are part of the Python interface (fastnn/activations.py). */
enum fnn_act {
    FNN_ACT_LINEAR = 0,
    FNN_ACT_RELU = 1,
    FNN_ACT_LEAKY_RELU = 2,   /* param: negative slope */
    FNN_ACT_ELU = 3,          /* param: alpha */
    FNN_ACT_SELU = 4,
    FNN_ACT_GELU = 5,         /* exact (erf) form, as Keras' default */
    FNN_ACT_SILU = 6,
    FNN_ACT_SIGMOID = 7,
    FNN_ACT_HARD_SIGMOID = 8, /* relu6(x + 3) / 6, as Keras 3 */
    FNN_ACT_TANH = 9,
    FNN_ACT_SOFTPLUS = 10,
    FNN_ACT_SOFTSIGN = 11
};

/* Whether act' is computed from the pre-activation z (1) or the output y (0). */
int fnn_act_backward_needs_z(int act);

/* x[i] := act(x[i] + bias[i]) for i < n; bias may be NULL. */
void fnn_s_act_forward(int act, double param, float *x, const float *bias, int64_t n);
void fnn_d_act_forward(int act, double param, double *x, const double *bias, int64_t n);

/* out[i] := grad[i] * act'(saved[i]); saved is z or y per fnn_act_backward_needs_z.
 * out may alias grad. */
void fnn_s_act_backward(int act, double param, const float *grad, const float *saved,
                        float *out, int64_t n);
void fnn_d_act_backward(int act, double param, const double *grad, const double *saved,
                        double *out, int64_t n);

/* ------------------------------------------------------------------ */
/* GEMM (src_c/gemm_*.c, micro-kernels per ISA)                         */
/* ------------------------------------------------------------------ */

/* What happens to each finished output tile, after alpha/beta:
 *   forward  (saved == NULL): C := act(C + bias)       bias may be NULL
 *   backward (saved != NULL): C := C * act'(saved)     saved is m x n, ld_saved
 * A NULL epilogue pointer means plain GEMM. */
typedef struct {
    const void *bias;      /* length n, same dtype as C, or NULL */
    int act;               /* enum fnn_act */
    double act_param;
    const void *saved;     /* backward mode when non-NULL */
    int64_t ld_saved;
} fnn_epilogue;

/* C := alpha * op(A) @ op(B) + beta * C, then the epilogue.
 * op(A) is m x k: A is m x k (trans_a = 0) or k x m (trans_a = 1), row-major, lda.
 * op(B) is k x n: B is k x n (trans_b = 0) or n x k (trans_b = 1), row-major, ldb.
 * When beta == 0, C is not read (it may hold NaN).
 * n_threads >= 1; the result is bit-identical for every n_threads (K is never split). */
void fnn_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
               float beta, float *c, int64_t ldc, const fnn_epilogue *ep, int n_threads);
void fnn_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
               double beta, double *c, int64_t ldc, const fnn_epilogue *ep, int n_threads);

/* C := act(A[:, :h] B[:h, :] + (A[:, h:] B[h:, :] + bias)) with h =
 * fnn_gemm_row_strip(dbl, k, 2) (no transposes, alpha 1, beta 0, a forward epilogue or
 * none): each half summed as a GEMM of its own, then the two added, so the bits depend
 * on the shape, not on n_threads. On two threads each
 * reads one half of B's rows: a training step's forward product, whose weights the
 * update and the gradient product split by the same rows. h >= k: plain fnn_sgemm. */
void fnn_sgemm_k_halves(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc,
                        const fnn_epilogue *ep, int n_threads);
void fnn_dgemm_k_halves(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                        const double *b, int64_t ldb, double *c, int64_t ldc,
                        const fnn_epilogue *ep, int n_threads);

/* The rows of each strip when a GEMM splits `rows` rows of C over `parts` threads: cut on
 * the register tile's rows of the ISA in use (double_precision selects the table). The
 * optimizer update splits a weight's rows the same way, so each core updates the rows of
 * the gradient it computed. */
int64_t fnn_gemm_row_strip(int double_precision, int64_t rows, int parts);

/* 1 if a GEMM since the last call could not allocate its packing buffers (its output
 * is then unspecified), else 0; clears the flag. The Python boundary raises MemoryError. */
int fnn_gemm_take_alloc_failure(void);
/* For tests: the next n requests for GEMM buffers fail as if memory had run out. */
void fnn_gemm_scratch_fail_next(int n);

/* ------------------------------------------------------------------ */
/* CPU-feature dispatch (src_c/isa.c)                                   */
/* ------------------------------------------------------------------ */

/* The ISA in use: "avx512", "avx2", "neon" or "generic". Chosen once, on first
 * use, from CPUID + XCR0, or from the FASTNN_ISA environment variable. */
const char *fnn_isa_name(void);
/* Whether this CPU and build can run the named ISA. */
int fnn_isa_available(const char *name);
/* Switch ISA (tests); returns 0 on success, -1 if unknown or unavailable. */
int fnn_set_isa(const char *name);

/* ------------------------------------------------------------------ */
/* Threads (src_c/threads.c)                                            */
/* ------------------------------------------------------------------ */

int fnn_openmp_enabled(void);
/* omp_get_max_threads(), or 1 without OpenMP. */
int fnn_omp_max_threads(void);
/* The size of the calling thread's team (omp_get_num_threads()), or 1. */
int fnn_omp_team_size(void);
/* Release the OpenMP thread pool (before fork); 0 on success, -1 where unsupported. */
int fnn_omp_pause(void);
/* omp_set_num_threads(n) for the calling thread; nothing without OpenMP. */
void fnn_omp_set_max_threads(int n);

/* ------------------------------------------------------------------ */
/* Optimizer updates on a contiguous chunk (src_c/eltwise*.c)           */
/* ------------------------------------------------------------------ */

/* Keras Adam: m += (g - m) c1; v += (g^2 - v) c2; p := p - p wd - alpha m / (sqrt(v) + eps) */
void fnn_s_adam(float *p, const float *g, float *m, float *v, int64_t n, float alpha,
                float c1, float c2, float eps, float wd);
void fnn_d_adam(double *p, const double *g, double *m, double *v, int64_t n, double alpha,
                double c1, double c2, double eps, double wd);
/* Keras RMSprop: v := rho v + (1 - rho) g^2; p := p - p wd - lr g / sqrt(v + eps) */
void fnn_s_rmsprop(float *p, const float *g, float *velocity, int64_t n, float lr, float rho,
                   float eps, float wd);
void fnn_d_rmsprop(double *p, const double *g, double *velocity, int64_t n, double lr,
                   double rho, double eps, double wd);

/* ------------------------------------------------------------------ */
/* Philox4x32-10 (src_c/philox.c)                                       */
/* ------------------------------------------------------------------ */

/* out := Philox4x32-10(counter, key) */
void fnn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* Dropout keep-mask of n elements for (seed, layer, step), starting at element
 * index `start` (so any slice can be regenerated independently):
 * element i draws word (i % 4) of Philox(counter = (i / 4 lo, i / 4 hi, layer, step),
 * key = (seed lo, seed hi)); it is kept iff the word >= threshold. */
void fnn_dropout_keep(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                      int64_t start, int64_t n, uint8_t *keep);

/* The same mask, with the ISA's vector units (src_c/eltwise*.c). */
void fnn_dropout_keep_fast(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                           int64_t start, int64_t n, uint8_t *keep);

/* keep := the mask of elements start .. start + n (as fnn_dropout_keep);
 * out := x * keep * scale. */
void fnn_s_dropout_forward(const float *x, float *out, uint8_t *keep, int64_t start,
                           int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                           uint32_t threshold, double scale);
void fnn_d_dropout_forward(const double *x, double *out, uint8_t *keep, int64_t start,
                           int64_t n, uint64_t seed, uint32_t layer, uint32_t step,
                           uint32_t threshold, double scale);
/* out := grad * keep * scale, times act'(saved) when act >= 0 (the backward of the
 * activation that fed the dropout, fused). out may alias grad. */
void fnn_s_dropout_backward(const float *grad, const uint8_t *keep, const float *saved,
                            int act, double param, double scale, float *out, int64_t n);
void fnn_d_dropout_backward(const double *grad, const uint8_t *keep, const double *saved,
                            int act, double param, double scale, double *out, int64_t n);

/* ------------------------------------------------------------------ */
/* Reductions (src_c/eltwise*.c)                                        */
/* ------------------------------------------------------------------ */

/* Rows of x (stride ld) := exp(row - max(row)) in place; top[i] := row i's maximum,
 * total[i] := the sum of its exps in order (the fused softmax cross-entropy's part). */
void fnn_s_exp_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *top,
                    double *total);
void fnn_d_exp_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, double *top,
                    double *total);

/* Rows of x (stride ld) := softmax(row) (log_softmax with log_out), in place. */
void fnn_s_softmax_rows(float *x, int64_t n_rows, int64_t n_cols, int64_t ld, int log_out);
void fnn_d_softmax_rows(double *x, int64_t n_rows, int64_t n_cols, int64_t ld, int log_out);

/* dst row i := src row indices[i], rows of row_bytes bytes (the batch gather). */
void fnn_take_rows(const void *src, int64_t row_bytes, const int64_t *indices, int64_t n,
                   void *dst);

/* How many of the n values at x are NaN or infinite (predict's input check). */
int64_t fnn_s_count_nonfinite(const float *x, int64_t n);
int64_t fnn_d_count_nonfinite(const double *x, int64_t n);

/* out[j] := sum_i x[i * ld + j] for j < n_cols, rows added in order. */
void fnn_s_col_sums(const float *x, int64_t n_rows, int64_t n_cols, int64_t ld, float *out);
void fnn_d_col_sums(const double *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                    double *out);

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
