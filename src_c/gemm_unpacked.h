/* The products that the GEMM driver (src_c/gemm_driver.h, which includes this file after
 * its epilogue helpers) computes without packing, on the row kernels of the kernel table:
 * one or two rows of a plain A B (few_rows_run: a single-sample predict) and products too
 * small to pay for packing (small_run: the layers of a tiny network, a Dense(1) output).
 */
/* The row kernel (kt->few_rows) and the epilogue on columns [j0, j1) of C: bias and relu
 * as the kernel stores, the other activations after it. */
static void few_rows_cols(const KT *kt, int64_t m, int64_t k, const T *a, int64_t rs_a,
                          int64_t cs_a, const T *b, int64_t ldb, T *c, int64_t ldc,
                          const epi_t *e, int64_t j0, int64_t j1)
{
    const int inl = e->mode == EPI_INLINE;
    kt->few_rows(m, j1 - j0, k, a, rs_a, cs_a, b + j0, ldb, c + j0, ldc,
                 inl && e->bias ? e->bias + j0 : NULL, inl && e->act == FNN_ACT_RELU);
    if (e->mode >= EPI_FORWARD)
        epi_rows(e, c + j0, ldc, 0, j0, m, j1 - j0);
}

/* C := A B (+ epilogue) for m <= FNN_GEMM_FEW_ROWS. The row kernel streams B once from
 * L2 with one or two multiply-adds per element of B, so from FNN_GEMV_PAR_MIN_WORK on the
 * threads take column strips of B (cut on whole cache lines) and each core streams and
 * multiplies only its strip. Every element is still one sum over k in order, so the bits
 * do not depend on the thread count. */
static void few_rows_run(const KT *kt, int64_t m, int64_t n, int64_t k, const T *a,
                         int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc,
                         const epi_t *e, int n_threads)
{
    const int64_t unit = 64 / (int64_t)sizeof(T);
    int64_t strips = ceil_div(n, unit);
    int nt = n_threads < strips ? n_threads : (int)strips;
#ifdef _OPENMP
    if (nt > 1 && (double)m * n * k >= FNN_GEMV_PAR_MIN_WORK) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), team = omp_get_num_threads();
            int64_t per = ceil_div(strips, team) * unit;
            int64_t j0 = t * per, j1 = min64(n, j0 + per);
            if (j0 < j1)
                few_rows_cols(kt, m, k, a, lda, 1, b, ldb, c, ldc, e, j0, j1);
        }
        return;
    }
#endif
    (void)nt;
    few_rows_cols(kt, m, k, a, lda, 1, b, ldb, c, ldc, e, 0, n);
}

/* op(B) as a row-major k x n matrix, *ld apart: B itself, or (trans_b) its transpose
 * copied into scratch slot 1. NULL when the scratch cannot be had. */
static const T *rows_of_b(int tb, int64_t n, int64_t k, const T *b, int64_t ldb, int64_t *ld)
{
    *ld = ldb;
    if (!tb)
        return b;
    T *t = (T *)fnn_gemm_scratch(1, (size_t)(k * n) * sizeof(T));
    if (t == NULL)
        return NULL;
    for (int64_t j = 0; j < n; j++)
        for (int64_t p = 0; p < k; p++)
            t[p * n + j] = b[j * ldb + p];
    *ld = n;
    return t;
}

/* Whether C's rows would fill so little of a (256-bit) vector that the driver computes
 * C^T instead (gemm_transposed, on small_run when small_product holds): half the vectors
 * or fewer. */
static int small_columns(int64_t m, int64_t n)
{
    const int64_t vl = 32 / (int64_t)sizeof(T);
    return 2 * n * ceil_div(m, vl) < m * ceil_div(n, vl);
}

/* Whether small_run takes the product. Never from the work at which a second thread pays
 * (FNN_GEMM_PAR_MIN_WORK), nor for k beyond one k-block (KC): then every element is one
 * sum over k in order, by the same multiply-adds as in the packed kernels, so the choice
 * changes the speed, never the bits (and it does not depend on n_threads). Below that:
 * up to the table's small_work multiply-adds, or when C is at most a cache line wide, so
 * that its rows take one or two vectors (8 chains of multiply-adds in the row kernel's
 * blocks of 4 rows), or has few columns (small_columns) and A is transposed, so that
 * C^T's rows can be read from A in place (otherwise the driver's few_columns path has
 * C^T's operand transposed by the pack routines). Zen 3, one thread, float, against the packed
 * kernels (interleaved A/B medians, m x k x n): 32 x 8 x 16 1.5-2x, 32 x 32 x 16 1.2x,
 * 32 x 16 x 32 1.03x but 32 x 32 x 32 0.87x; 32 x 128 x 10 1.26x, 128 x 128 x 10 1.03x;
 * A transposed, 16 x 32 x 1 2.9x (double 7.9x). */
static int small_product(const KT *kt, int ta, int64_t m, int64_t n, int64_t k)
{
    const double work = (double)m * n * k;
    if (work >= FNN_GEMM_PAR_MIN_WORK || k > kt->kc)
        return 0;
    if (small_columns(m, n))
        return ta;
    return kt->small_work > 0 &&
           (work <= (double)kt->small_work || n * (int64_t)sizeof(T) <= 64);
}

/* C := op(A) op(B) (+ epilogue) without packing, for a product small_product takes (the
 * driver's gemm_transposed runs it on C^T when C has few columns): A is read in place
 * whatever its layout (one element per k step and row), B in place unless transposed
 * (then copied, k x n, into scratch slot 1). One thread. Returns -1 without touching C
 * when the scratch buffer cannot be had. */
static int small_run(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                     const T *a, int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc,
                     const epi_t *e)
{
    int64_t ld;
    const T *bk = rows_of_b(tb, n, k, b, ldb, &ld);
    if (bk == NULL)
        return -1;
    few_rows_cols(kt, m, k, a, ta ? 1 : lda, ta ? lda : 1, bk, ld, c, ldc, e, 0, n);
    return 0;
}
