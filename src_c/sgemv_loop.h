/* The loop over rows and column blocks shared by src_c/sgemv_<isa>.c. The including file
 * defines VL (floats per vector) and block(R, NV, k, a, lda, b, ldb, c, ldc, w): rows R
 * (1 or 2) of C[:, 0:w] := A[0:R, :] B[:, 0:w] with NV <= 8 accumulators per row,
 * w <= NV * VL. Each column block takes the fewest vectors that cover it. */
#define SGEMV_BLOCKS(R, WIDTH)                                                            \
    for (int64_t j0 = 0; j0 < n; j0 += (WIDTH)) {                                         \
        int64_t w = n - j0 < (WIDTH) ? n - j0 : (WIDTH);                                  \
        if (w > 4 * VL)                                                                   \
            block(R, 8, k, a, lda, b + j0, ldb, c + j0, ldc, w);                          \
        else if (w > 2 * VL)                                                              \
            block(R, 4, k, a, lda, b + j0, ldb, c + j0, ldc, w);                          \
        else if (w > VL)                                                                  \
            block(R, 2, k, a, lda, b + j0, ldb, c + j0, ldc, w);                          \
        else                                                                              \
            block(R, 1, k, a, lda, b + j0, ldb, c + j0, ldc, w);                          \
    }

/* NAME(m, n, k, a, lda, b, ldb, c, ldc): rows in pairs in blocks of WIDTH2 columns, then
 * a last single row in blocks of WIDTH1 */
#define SGEMV_ENTRY(NAME, WIDTH1, WIDTH2)                                                 \
    void NAME(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,               \
              const float *b, int64_t ldb, float *c, int64_t ldc)                         \
    {                                                                                     \
        for (; m >= 2; m -= 2, a += 2 * lda, c += 2 * ldc)                                \
            SGEMV_BLOCKS(2, WIDTH2)                                                       \
        if (m == 1)                                                                       \
            SGEMV_BLOCKS(1, WIDTH1)                                                       \
    }
