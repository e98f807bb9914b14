/* The loop over rows and column blocks shared by src_c/sgemv_<isa>.c. The including file
 * defines VL (floats per vector) and
 * block(R, NV, k, a, rs_a, cs_a, b, ldb, c, ldc, w, bias, relu): rows R (1, 2 or 4) of
 * C[:, 0:w] := A[0:R, :] B[:, 0:w] (+ bias[0:w]) (relu) with NV accumulators per row
 * (R * NV <= 16), w <= NV * VL, element (i, p) of A at a[i*rs_a + p*cs_a]. Each column
 * block takes the fewest vectors that cover it. */
#define SGEMV_BLOCK(R, NV)                                                                \
    block(R, NV, k, a, rs_a, cs_a, b + j0, ldb, c + j0, ldc, w, bias ? bias + j0 : NULL,  \
          relu)

#define SGEMV_BLOCKS(R, WIDTH)                                                            \
    for (int64_t j0 = 0; j0 < n; j0 += (WIDTH)) {                                         \
        int64_t w = n - j0 < (WIDTH) ? n - j0 : (WIDTH);                                  \
        if (w > 4 * VL)                                                                   \
            SGEMV_BLOCK(R, 8);                                                            \
        else if (w > 2 * VL)                                                              \
            SGEMV_BLOCK(R, 4);                                                            \
        else if (w > VL)                                                                  \
            SGEMV_BLOCK(R, 2);                                                            \
        else                                                                              \
            SGEMV_BLOCK(R, 1);                                                            \
    }

/* NAME(m, n, k, a, rs_a, cs_a, b, ldb, c, ldc, bias, relu). At most two vectors wide, rows
 * go in fours: two rows of one or two vectors are only 2-4 chains of multiply-adds, too
 * few to hide the FMA latency when k is short (a small product of src_c/gemm_driver.h,
 * small_run). Then rows in pairs in blocks of WIDTH2 columns, and a last single row in
 * blocks of WIDTH1. */
#define SGEMV_ENTRY(NAME, WIDTH1, WIDTH2)                                                 \
    void NAME(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,              \
              int64_t cs_a, const float *b, int64_t ldb, float *c, int64_t ldc,           \
              const float *bias, int relu)                                                \
    {                                                                                     \
        if (n <= 2 * VL) {                                                                \
            const int64_t j0 = 0, w = n;                                                  \
            for (; m >= 4; m -= 4, a += 4 * rs_a, c += 4 * ldc) {                         \
                if (w > VL)                                                               \
                    SGEMV_BLOCK(4, 2);                                                    \
                else                                                                      \
                    SGEMV_BLOCK(4, 1);                                                    \
            }                                                                             \
        }                                                                                 \
        for (; m >= 2; m -= 2, a += 2 * rs_a, c += 2 * ldc)                               \
            SGEMV_BLOCKS(2, WIDTH2)                                                       \
        if (m == 1)                                                                       \
            SGEMV_BLOCKS(1, WIDTH1)                                                       \
    }
