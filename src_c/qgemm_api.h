/* The int8 GEMM of quantized Dense layers (src_c/qgemm_*.c; the arithmetic is described
 * in src_c/qgemm.h). Row-major, leading dimensions in elements; arguments are trusted
 * (the Python boundary validates them); safe to call without the GIL. A product that
 * cannot allocate its buffers reports it through fnn_gemm_take_alloc_failure. */
#ifndef FASTNN_QGEMM_API_H
#define FASTNN_QGEMM_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest k whose int32 sums cannot overflow on any kernel (q + 128 < 256). */
#define FNN_Q8_MAX_K 66000

/* out := act(float(q(x) @ w) / (w_scale * x_scale) + bias), x m x k float32, w k x n
 * int8 (per output channel scales w_scale), q the per-row int8 quantization of x;
 * bias may be NULL; act an enum fnn_act code >= 0 (a row-wise softmax is applied by the
 * caller). The bits do not depend on n_threads or on the kernel. */
void fnn_q8_dense(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx,
                  const int8_t *w, int64_t ldw, const float *w_scale, const float *bias,
                  int act, double act_param, float *out, int64_t ldo, int n_threads);

/* B~ of a k x n int8 weight matrix for the kernel in use (fnn_q8_pack writes
 * fnn_q8_packed_size bytes at `packed`, 64-byte aligned): what fnn_q8_dense_packed reads,
 * so that a layer's weights are packed once, not at every product. */
size_t fnn_q8_packed_size(int64_t k, int64_t n);
void fnn_q8_pack(int64_t k, int64_t n, const int8_t *w, int64_t ldw, void *packed);
/* fnn_q8_dense on packed weights: returns how many values of x are NaN or infinite (the
 * outputs of their rows are then unspecified), or -1 (nothing done) when `packed` was
 * made for another kernel or shape: pack again. */
int64_t fnn_q8_dense_packed(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx,
                        const void *packed, const float *w_scale, const float *bias,
                        int act, double act_param, float *out, int64_t ldo, int n_threads);

/* C (int32) := A @ B for int8 A (m x k) and B (k x n), on the kernel in use. */
void fnn_q8_gemm(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                 const int8_t *b, int64_t ldb, int32_t *c, int64_t ldc, int n_threads);

/* q (int8) and scale: the rows of x quantized by the kernel in use's own routine. */
void fnn_q8_quantize_rows(int64_t m, int64_t k, const float *x, int64_t ldx, int8_t *q,
                          int64_t ldq, float *scale);

/* The int8 kernel in use ("avx512vnni", "avx2vnni", "avx2", "neon_sdot", "generic"):
 * the best one of the ISA in use (fnn_isa_name), unless fnn_q8_set_kernel chose. */
const char *fnn_q8_kernel_name(void);
/* Whether this CPU and build can run the named int8 kernel. */
int fnn_q8_kernel_available(const char *name);
/* Use the named kernel (tests); NULL follows the ISA in use again. 0, or -1 when the
 * kernel is unknown or unavailable. */
int fnn_q8_set_kernel(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_QGEMM_API_H */
