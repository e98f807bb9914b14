/* The products the GEMM driver (src_c/gemm_driver.h) computes as their transpose,
 * op(B)^T op(A)^T, and copies across: a C with few columns (few_columns), a C with few
 * rows against a B stored transposed (rows_of_b_in_place). Included by the driver, with
 * T and KT defined, before the blocked product it calls (gemm_blocked, declared here). */

/* Where a product computed as its transpose goes (gemm_transposed): C := (this m x n
 * product)^T, then the epilogue. */
typedef struct {
    T *c;
    int64_t ldc;
    const epi_t *e;
} transposed_out_t;

/* The rows [s0, s1) (by_rows) or the columns [s0, s1) of the m x n product ct (ld n),
 * transposed into their place in out->c, then its epilogue: each thread its own strip,
 * while it is in its cache. */
static void transpose_strip(const KT *kt, const transposed_out_t *out, const T *ct,
                            int64_t m, int64_t n, int by_rows, int64_t s0, int64_t s1)
{
    if (by_rows) {
        kt->transpose(s1 - s0, n, ct + s0 * n, n, out->c + s0, out->ldc);
        epi_rows(out->e, out->c + s0, out->ldc, 0, s0, n, s1 - s0);
    } else {
        kt->transpose(m, s1 - s0, ct + s0, n, out->c + s0 * out->ldc, out->ldc);
        epi_rows(out->e, out->c + s0 * out->ldc, out->ldc, s0, 0, s1 - s0, m);
    }
}

/* The blocked product (src_c/gemm_driver.h), which transposes each thread's part when
 * given `out`. */
static void gemm_blocked(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                         T alpha, const T *a, int64_t lda, const T *b, int64_t ldb, T beta,
                         T *c, int64_t ldc, const epi_t *e, int n_threads,
                         const transposed_out_t *out);

/* The elements of the register tiles that cover an m x n C, padding included. */
static double tile_area(const KT *kt, int64_t m, int64_t n)
{
    return (double)(ceil_div(m, kt->mr) * kt->mr) * (double)(ceil_div(n, kt->nr) * kt->nr);
}

/* Whether C has so few columns that its transpose, op(B)^T op(A)^T, takes clearly fewer
 * register tiles: a classifier's last layer (n = 10 classes) fills 10 of the 32 columns
 * of an AVX-512 tile, but 10 of its 12 rows when transposed. Measured on Zen 5, one
 * thread: 128 x 512 x 10, forward 27 -> 7 us and its weight gradient 33 -> 5 us. */
static int few_columns(const KT *kt, int64_t m, int64_t n)
{
    return n < kt->nr && 2 * tile_area(kt, m, n) > 3 * tile_area(kt, n, m);
}

/* Whether C = A B^T (dZ . W^T) with few rows of A is better computed as C^T = B A^T:
 * then the micro-kernels read B's rows in place (a_in_place) where the direct product
 * packs all of B, n x k values transposed, for the few tiles of rows each panel serves.
 * The transposed product packs A instead (m x k) and its result is transposed into C
 * (m x n), so it pays while m (n + k) < n k. Zen 4, AVX-512 float, C harness, builds
 * alternated, GFLOP/s on 1 / 2 threads:
 *   32 x 128 x 784     83-96 -> 101-107,   140-164 -> 172-180
 *   64 x 128 x 784     94-103 -> 94-107,   150-175 -> 185-192
 *   64 x 128 x 3000    86-102 -> 97-104,   166-184 -> 187-196
 *   96 x 128 x 784     within 2 % on one thread,
 *   32 x 256 x 784     86-92 -> 104-110,   129-158 -> 158-199
 *   32 x 512 x 1024    81-86 -> 93-96 on one thread.
 * Not where C^T's tiles are more padding than C's: m = 32 rows of the AVX-512 double
 * tile's 24 columns make two tiles, a third of the second used (32 x 128 x 784: 45 -> 34
 * GFLOP/s). C^T is kept to L2's size: it is written, then read back. */
static int rows_of_b_in_place(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                              int64_t ldb)
{
    return !ta && tb && (double)m * (n + k) < (double)n * k &&
           tile_area(kt, n, m) <= tile_area(kt, m, n) &&
           (double)m * n * sizeof(T) <= FNN_TRANSPOSED_MAX_BYTES && a_in_place(kt, 0, m, k, ldb);
}

/* C := op(A) op(B) (+ epilogue) as the transpose of op(B)^T op(A)^T, computed into a
 * scratch block (by small_run when `small`, else blocked) and transposed into C, each
 * thread its strip (transpose_strip). Each element is still one sum over k in order, by
 * the same multiply-adds, so the bits are those of the direct product. Returns -1
 * without touching C when a scratch block cannot be had. */
static int gemm_transposed(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                           const T *a, int64_t lda, const T *b, int64_t ldb, T *c,
                           int64_t ldc, const epi_t *e, int n_threads, int small)
{
    T *ct = (T *)fnn_gemm_scratch(4, (size_t)(m * n) * sizeof(T));
    if (ct == NULL)
        return -1;
    epi_t none;
    epi_init(&none, NULL);
    const transposed_out_t out = {c, ldc, e};
    if (!small) {
        gemm_blocked(kt, !tb, !ta, n, m, k, (T)1, b, ldb, a, lda, (T)0, ct, m, &none,
                     n_threads, &out);
        return 0;
    }
    if (small_run(kt, !tb, !ta, n, m, k, b, ldb, a, lda, ct, m, &none) != 0)
        return -1;
    transpose_strip(kt, &out, ct, n, m, 1, 0, n);
    return 0;
}
