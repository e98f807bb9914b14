/* The training forward product summed in two halves of k, written once for both dtypes:
 * src_c/gemm_s.c and src_c/gemm_d.c include this file after src_c/gemm_driver.h (whose
 * macros and static helpers it uses), defining FNAME_HALVES, its entry point.
 */
/* The rows [i0, i0 + rows) of one k-half's product, with epilogue e, into dst. */
static void half_rows(const KT *kt, int64_t i0, int64_t rows, int64_t n, int64_t k0,
                      int64_t k1, const T *a, int64_t lda, const T *b, int64_t ldb, T *dst,
                      int64_t ldd, const epi_t *e)
{
    if (rows > 0)
        gemm_run(kt, 0, 0, rows, n, k1 - k0, (T)1, a + i0 * lda + k0, lda, b + k0 * ldb, ldb,
                 (T)0, dst + i0 * ldd, ldd, e);
}

/* C := act(A[:, :h] B[:h, :] + (A[:, h:] B[h:, :] + bias)), h = fnn_gemm_row_strip(k, 2):
 * the forward product of a Dense layer in a training step. Each half is a GEMM of its
 * own, the second with the bias added as it is written out; then one element-wise pass
 * adds them and applies the activation. So the bits depend on the shape only, never on
 * the thread count. On 2 threads, thread t reads only its half of B's rows (and of A's
 * columns): the rows of the weights that the same core's update writes (ParamGroup)
 * and whose gradient it computes (the row strips of x^T dZ), so no line of the weights
 * moves between cores during a step. Writing a line that the other core has just read
 * costs that core's copy: on 2 Zen 4 vCPUs, after a column split of this product the
 * next Adam update ran 25-140 us slower (T1, batch 32). */
void FNAME_HALVES(int64_t m, int64_t n, int64_t k, const T *a, int64_t lda, const T *b,
                  int64_t ldb, T *c, int64_t ldc, const fnn_epilogue *ep, int n_threads)
{
    const KT *kt = KGET();
    int64_t h = fnn_strip_len(k, kt->mr, 2);
    if (m <= 0 || n <= 0 || h >= k || (ep != NULL && ep->saved != NULL)) {
        FNAME(0, 0, m, n, k, (T)1, a, lda, b, ldb, (T)0, c, ldc, ep, n_threads);
        return;
    }
    fnn_epilogue bias_only = {ep ? ep->bias : NULL, FNN_ACT_LINEAR, 0.0, NULL, 0};
    epi_t none, with_bias;
    epi_init(&none, NULL);
    epi_init(&with_bias, &bias_only);
    const int act = ep ? ep->act : FNN_ACT_LINEAR;
    const double param = ep ? ep->act_param : 0.0;
    T *part = (T *)fnn_gemm_scratch(3, (size_t)(m * n) * sizeof(T));
    if (part == NULL) { /* reported to the caller, which raises MemoryError */
        fnn_gemm_note_alloc_failure();
        return;
    }
    int nt = (double)m * n * k < FNN_GEMM_PAR_MIN_WORK ? 1 : n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int t = 0, team = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        if (team == 1) {
            half_rows(kt, 0, m, n, 0, h, a, lda, b, ldb, c, ldc, &none);
            half_rows(kt, 0, m, n, h, k, a, lda, b, ldb, part, n, &with_bias);
        } else {
            /* the first team/2 threads take the first half, the others the second,
             * each a strip of rows of its half */
            int first = team / 2, second = t >= first, size = second ? team - first : first;
            int rank = second ? t - first : t;
            int64_t per = fnn_strip_len(m, kt->mr, size), i0 = rank * per;
            if (second)
                half_rows(kt, i0, min64(per, m - i0), n, h, k, a, lda, b, ldb, part, n,
                          &with_bias);
            else
                half_rows(kt, i0, min64(per, m - i0), n, 0, h, a, lda, b, ldb, c, ldc, &none);
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        /* C := act(C + part), the second half passed as the epilogue's bias row */
        int64_t per = ceil_div(m, team), i1 = min64(m, (t + 1) * per);
        for (int64_t i = t * per; i < i1; i++)
            ACT_FWD(act, param, c + i * ldc, part + i * n, n);
    }
}
