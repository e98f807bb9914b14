/* GEMM internals shared by the driver, the pack routines, the micro-kernels and
 * the dispatch table. Not part of the public C interface (that is fastnn.h).
 *
 * Layout conventions (row-major, BLIS-style with the row-major mapping):
 *   packed A: micro-panels of MR rows; panel q holds rows q*MR.. for k steps,
 *             element (i, p) of the panel at a[p*MR + i]; rows past the edge are 0.
 *   packed B: micro-panels of NR columns; element (p, j) at b[p*NR + j]; columns
 *             past the edge are 0.
 * A micro-kernel reads B row p at b + p*rs_b, so it can also read an unpacked,
 * row-major B in place (rs_b = ldb) when the tile has all NR columns.
 */
#ifndef FASTNN_GEMM_INTERNAL_H
#define FASTNN_GEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fastnn.h"

/* C[0:mr, 0:nr] := alpha * A~ B~ + beta * C, then (+ bias[0:nr]) and (relu) when given.
 * mr <= MR and nr <= NR select the part of the register tile that is stored.
 * beta == 0 never reads C. */
typedef void (*fnn_s_ukr_t)(int64_t k, const float *a, const float *b, int64_t rs_b,
                            float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                            const float *bias, int relu);
typedef void (*fnn_d_ukr_t)(int64_t k, const double *a, const double *b, int64_t rs_b,
                            double *c, int64_t ldc, double alpha, double beta, int mr,
                            int nr, const double *bias, int relu);

/* The full MR-row tile C[0:MR, 0:nr] := alpha * A B~ + beta * C (+ bias) (relu) with A
 * read in place where packing it does not pay (src_c/gemm_driver.h, a_in_place): row i
 * at a + i*lda, k contiguous (ukr_a_rows), or the MR values of k step p at a + p*lda
 * (ukr_a_cols, A stored transposed). The same multiply-adds as the ukr on A~. */
typedef void (*fnn_s_ukr_a_in_place_t)(int64_t k, const float *a, int64_t lda,
                                       const float *b, int64_t rs_b, float *c, int64_t ldc,
                                       float alpha, float beta, int nr, const float *bias,
                                       int relu);
typedef void (*fnn_d_ukr_a_in_place_t)(int64_t k, const double *a, int64_t lda,
                                       const double *b, int64_t rs_b, double *c,
                                       int64_t ldc, double alpha, double beta, int nr,
                                       const double *bias, int relu);

/* Packs a w x kc block whose element (x, p) is src[x*sx + p*sp] into micro-panels of
 * `panel` values per k step (A: x = row, B: x = column), zero-padding the last panel. */
typedef void (*fnn_s_pack_t)(int64_t w, int64_t kc, const float *src, int64_t sx,
                             int64_t sp, int panel, float *dst);
typedef void (*fnn_d_pack_t)(int64_t w, int64_t kc, const double *src, int64_t sx,
                             int64_t sp, int panel, double *dst);

/* dst := src^T for a rows x cols block: dst[j*ldd + i] = src[i*lds + j]. */
typedef void (*fnn_s_transpose_t)(int64_t rows, int64_t cols, const float *src,
                                  int64_t lds, float *dst, int64_t ldd);
typedef void (*fnn_d_transpose_t)(int64_t rows, int64_t cols, const double *src,
                                  int64_t lds, double *dst, int64_t ldd);

/* C := A B (+ bias[0:n]) (relu) row by row, without packing (no alpha/beta, B row-major),
 * element (i, p) of A at a[i*rs_a + p*cs_a] (so A may be transposed): the product of a
 * single-sample predict, where a register tile would be mostly padding, and of products
 * too small to pay for packing (src_c/gemm_driver.h, small_run). bias may be NULL. */
typedef void (*fnn_s_rows_t)(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                             int64_t cs_a, const float *b, int64_t ldb, float *c,
                             int64_t ldc, const float *bias, int relu);
typedef void (*fnn_d_rows_t)(int64_t m, int64_t n, int64_t k, const double *a,
                             int64_t rs_a, int64_t cs_a, const double *b, int64_t ldb,
                             double *c, int64_t ldc, const double *bias, int relu);

/* Force-inlined helpers whose constant arguments unroll their loops. */
#if defined(_MSC_VER)
#define FNN_FORCE_INLINE static __forceinline
#else
#define FNN_FORCE_INLINE static inline __attribute__((always_inline))
#endif

/* Unrolls the k loop of a micro-kernel 4 times. With the C tile prefetched, on Zen 3 the
 * AVX2 float 6x16 tile ran 3-7 % faster and the double 6x8 7-11 % (interleaved A/B of
 * 128 x 784 x 512, 256^3 and 1024^3, one thread). */
#if defined(__GNUC__)
#define FNN_UNROLL_K _Pragma("GCC unroll 4")
#else
#define FNN_UNROLL_K
#endif
/* Unrolls a loop over a register tile's accumulators completely, so that they stay in
 * registers: GCC 12 keeps an array of them in memory (and stores it at every k step) when
 * the loop that writes them out is too long to unroll by itself. */
#if defined(__GNUC__)
#define FNN_UNROLL_ALL _Pragma("GCC unroll 16")
#else
#define FNN_UNROLL_ALL
#endif

/* Below this many multiply-adds (m*n*k) a GEMM runs on one thread: waking a second
 * thread and the redundant packing cost more than they save. Measured on 2 Zen 4 cores
 * (float32, libgomp spinning): 2 threads lose at 64^3 (0.95x) and 32x128x64 (0.92x),
 * win from ~48x96x96 (1.3x) and 64x128x64 (1.2x) on. */
#ifndef FNN_GEMM_PAR_MIN_WORK
#define FNN_GEMM_PAR_MIN_WORK 3.0e5
#endif
/* The length of each of `parts` strips of `len`, cut on multiples of `unit`: how the
 * threads split C (src_c/gemm_driver.h), and fnn_gemm_row_strip. */
static inline int64_t fnn_strip_len(int64_t len, int64_t unit, int parts)
{
    return ((len + unit - 1) / unit + parts - 1) / parts * unit;
}

/* Up to this many rows of a plain A B, C is accumulated row by row (the table's few_rows)
 * instead of in register tiles of MR rows that would be mostly padding. */
#ifndef FNN_GEMM_FEW_ROWS
#define FNN_GEMM_FEW_ROWS 2
#endif
/* From this many multiply-adds (m*n*k) the row kernel splits the columns of C over the
 * threads (src_c/gemm_driver.h, few_rows_run). Measured on 2 Zen 4 cores, one row, each
 * call 0-2 ms after the last: 1 x 784 x 512 takes 28 us on one thread and 15-16 on two
 * (after a 2 ms pause 94 against 57); 1 x 784 x 128 gains 0.2-0.8 us back to back and
 * loses 5 after a pause, when the second thread has to be woken. */
#ifndef FNN_GEMV_PAR_MIN_WORK
#define FNN_GEMV_PAR_MIN_WORK 2.0e5
#endif

/* One ISA's kernels and blocking for one dtype. MC rows of A are packed per block
 * (A~, L3), KC is the k-block, NC columns of B per packed block (B~, L2).
 * small_m: at most this many rows, a row-major B is read in place (no B~);
 * narrow_m: up to this many rows it is still read in place when its rows are at most
 *   FNN_NARROW_B_BYTES apart (src_c/gemm_driver.h, b_in_place).
 * small_work: up to this many multiply-adds (m*n*k) a product runs on few_rows without
 *   packing (src_c/gemm_driver.h, small_run); 0 where few_rows keeps its output row in
 *   memory (the portable loop) and loses to the packed kernels.
 * few_rows: the product for m <= FNN_GEMM_FEW_ROWS (src_c/gemm_driver.h).
 * ukr_a_rows, ukr_a_cols: the micro-kernels on an A read in place, row-major or stored
 *   transposed (fnn_s_ukr_a_in_place_t; src_c/gemm_driver.h, a_in_place).
 * transpose: the copy of a product computed as its transpose into C
 *   (src_c/gemm_transposed.h). */
typedef struct {
    int mr, nr;
    int64_t mc, kc, nc, small_m, narrow_m, small_work;
    fnn_s_ukr_t ukr;
    fnn_s_pack_t pack;
    fnn_s_rows_t few_rows;
    fnn_s_ukr_a_in_place_t ukr_a_rows; /* NULL: A is always packed */
    fnn_s_ukr_a_in_place_t ukr_a_cols; /* the same for A stored transposed */
    fnn_s_transpose_t transpose;
} fnn_s_kernels;

typedef struct {
    int mr, nr;
    int64_t mc, kc, nc, small_m, narrow_m, small_work;
    fnn_d_ukr_t ukr;
    fnn_d_pack_t pack;
    fnn_d_rows_t few_rows;
    fnn_d_ukr_a_in_place_t ukr_a_rows; /* NULL: A is always packed */
    fnn_d_ukr_a_in_place_t ukr_a_cols; /* the same for A stored transposed */
    fnn_d_transpose_t transpose;
} fnn_d_kernels;

/* fnn_s_rows_t and fnn_d_rows_t as loops the compiler vectorises for each ISA
 * (src_c/eltwise*.c); the few_rows of ISAs without a hand-written one. */
void fnn_s_gemm_few_rows(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                         int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                         const float *bias, int relu);
void fnn_d_gemm_few_rows(int64_t m, int64_t n, int64_t k, const double *a, int64_t rs_a,
                         int64_t cs_a, const double *b, int64_t ldb, double *c,
                         int64_t ldc, const double *bias, int relu);

/* The table of the ISA in use (src_c/dispatch.c). */
const fnn_s_kernels *fnn_s_kernels_get(void);
const fnn_d_kernels *fnn_d_kernels_get(void);

/* Blocking of the ISA in use, for introspection:
 * info = {MR, NR, MC, KC, NC, small_m, narrow_m, small_work}. */
void fnn_gemm_kernel_info(int double_precision, int64_t info[8]);

/* A 64-byte aligned scratch buffer of at least `bytes`, private to the calling thread
 * and kept for its next call (slot 0: A~, 1: B~, 2: B edge strip,
 * 3: the second k-half of fnn_sgemm_k_halves, 4: the transposed product of a C with
 * few columns, 5: the bfloat16-rounded A of src_c/bf16_gemm.c, 6: its A~ packed once
 * for the whole team). */
void *fnn_gemm_scratch(int slot, size_t bytes);
/* A product that could not allocate its buffers says so here (see gemm_scratch.c). */
void fnn_gemm_note_alloc_failure(void);

/* Portable pack and transpose routines (src_c/gemm_pack.c). */
void fnn_s_pack_generic(int64_t w, int64_t kc, const float *src, int64_t sx, int64_t sp,
                        int panel, float *dst);
void fnn_d_pack_generic(int64_t w, int64_t kc, const double *src, int64_t sx, int64_t sp,
                        int panel, double *dst);
void fnn_s_transpose_generic(int64_t rows, int64_t cols, const float *src, int64_t lds,
                             float *dst, int64_t ldd);
void fnn_d_transpose_generic(int64_t rows, int64_t cols, const double *src, int64_t lds,
                             double *dst, int64_t ldd);

/* Micro-kernels, one file each, named by dtype, ISA and tile. */
void fnn_sgemm_generic_4x8(int64_t k, const float *a, const float *b, int64_t rs_b,
                           float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                           const float *bias, int relu);
void fnn_dgemm_generic_4x4(int64_t k, const double *a, const double *b, int64_t rs_b,
                           double *c, int64_t ldc, double alpha, double beta, int mr, int nr,
                           const double *bias, int relu);

#if defined(__x86_64__) || defined(_M_X64)
#define FNN_GEMM_X86 1
#include <xmmintrin.h>

/* A micro-kernel's tile of C (rows of row_bytes, ld_bytes apart) into L1 while its k loop
 * runs, as BLIS's haswell kernels do: the tile is read (beta) and written at the end,
 * usually from L2 or L3. Every line of each row: a row of 128 bytes not 64-aligned spans
 * three. */
FNN_FORCE_INLINE void fnn_prefetch_tile(const void *c, int64_t ld_bytes, int rows,
                                        int64_t row_bytes)
{
    for (int i = 0; i < rows; i++) {
        const char *row = (const char *)c + i * ld_bytes;
        for (int64_t off = 0; off < row_bytes; off += 64)
            _mm_prefetch(row + off, _MM_HINT_T0);
        _mm_prefetch(row + row_bytes - 1, _MM_HINT_T0);
    }
}
void fnn_sgemm_avx2_6x16(int64_t k, const float *a, const float *b, int64_t rs_b,
                         float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                         const float *bias, int relu);
void fnn_dgemm_avx2_6x8(int64_t k, const double *a, const double *b, int64_t rs_b,
                        double *c, int64_t ldc, double alpha, double beta, int mr, int nr,
                        const double *bias, int relu);
void fnn_sgemm_avx512_12x32(int64_t k, const float *a, const float *b, int64_t rs_b,
                            float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                            const float *bias, int relu);
void fnn_sgemm_avx512_12x32_a_rows(int64_t k, const float *a, int64_t lda, const float *b,
                                   int64_t rs_b, float *c, int64_t ldc, float alpha,
                                   float beta, int nr, const float *bias, int relu);
void fnn_sgemm_avx512_12x32_a_cols(int64_t k, const float *a, int64_t lda, const float *b,
                                   int64_t rs_b, float *c, int64_t ldc, float alpha,
                                   float beta, int nr, const float *bias, int relu);
void fnn_dgemm_avx512_8x24(int64_t k, const double *a, const double *b, int64_t rs_b,
                           double *c, int64_t ldc, double alpha, double beta, int mr,
                           int nr, const double *bias, int relu);
void fnn_dgemm_avx512_8x24_a_rows(int64_t k, const double *a, int64_t lda, const double *b,
                                  int64_t rs_b, double *c, int64_t ldc, double alpha,
                                  double beta, int nr, const double *bias, int relu);
void fnn_dgemm_avx512_8x24_a_cols(int64_t k, const double *a, int64_t lda, const double *b,
                                  int64_t rs_b, double *c, int64_t ldc, double alpha,
                                  double beta, int nr, const double *bias, int relu);
void fnn_s_pack_avx2(int64_t w, int64_t kc, const float *src, int64_t sx, int64_t sp,
                     int panel, float *dst);
void fnn_d_pack_avx2(int64_t w, int64_t kc, const double *src, int64_t sx, int64_t sp,
                     int panel, double *dst);
void fnn_s_pack_avx512(int64_t w, int64_t kc, const float *src, int64_t sx, int64_t sp,
                       int panel, float *dst);
void fnn_d_pack_avx512(int64_t w, int64_t kc, const double *src, int64_t sx, int64_t sp,
                       int panel, double *dst);
void fnn_s_transpose_avx512(int64_t rows, int64_t cols, const float *src, int64_t lds,
                            float *dst, int64_t ldd);
void fnn_d_transpose_avx512(int64_t rows, int64_t cols, const double *src, int64_t lds,
                            double *dst, int64_t ldd);
void fnn_sgemv_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                    int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                    const float *bias, int relu);
void fnn_sgemv_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                      int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,
                      const float *bias, int relu);
#elif defined(__aarch64__) || defined(_M_ARM64)
#define FNN_GEMM_ARM64 1
void fnn_sgemm_neon_8x12(int64_t k, const float *a, const float *b, int64_t rs_b, float *c,
                         int64_t ldc, float alpha, float beta, int mr, int nr,
                         const float *bias, int relu);
void fnn_dgemm_neon_6x8(int64_t k, const double *a, const double *b, int64_t rs_b,
                        double *c, int64_t ldc, double alpha, double beta, int mr, int nr,
                        const double *bias, int relu);
void fnn_s_pack_neon(int64_t w, int64_t kc, const float *src, int64_t sx, int64_t sp,
                     int panel, float *dst);
void fnn_d_pack_neon(int64_t w, int64_t kc, const double *src, int64_t sx, int64_t sp,
                     int panel, double *dst);
#endif

#endif /* FASTNN_GEMM_INTERNAL_H */
