/* The epilogue of the GEMM driver (src_c/gemm_driver.h, which includes this file with T,
 * ACT_FWD and ACT_BWD defined): what a product does to C once its sums are complete,
 * bias + relu inside the micro-kernels' write-out (EPI_INLINE), or the other activations
 * (EPI_FORWARD) and dA * f'(z) (EPI_BACKWARD) on each tile while it is still in cache.
 */
#include <stdint.h>
#include <string.h>

enum { EPI_NONE, EPI_INLINE, EPI_FORWARD, EPI_BACKWARD };

typedef struct {
    const T *bias;  /* at column 0 of the (sub-)problem */
    const T *saved; /* at (0, 0) of the (sub-)problem */
    int64_t ld_saved;
    int act, mode;
    double param;
} epi_t;

static void epi_init(epi_t *e, const fnn_epilogue *ep)
{
    memset(e, 0, sizeof(*e));
    e->mode = EPI_NONE;
    if (ep == NULL)
        return;
    e->act = ep->act;
    e->param = ep->act_param;
    e->bias = (const T *)ep->bias;
    e->saved = (const T *)ep->saved;
    e->ld_saved = ep->ld_saved;
    if (ep->saved != NULL)
        e->mode = ep->act == FNN_ACT_LINEAR ? EPI_NONE : EPI_BACKWARD;
    else if (ep->act == FNN_ACT_LINEAR || ep->act == FNN_ACT_RELU)
        e->mode = (ep->bias != NULL || ep->act == FNN_ACT_RELU) ? EPI_INLINE : EPI_NONE;
    else
        e->mode = EPI_FORWARD;
}

/* The epilogue on rows [i, i+mr) x columns [j, j+nr) of C (c points at (i, j)). */
static void epi_rows(const epi_t *e, T *c, int64_t ldc, int64_t i, int64_t j, int64_t mr,
                     int64_t nr)
{
    /* Rows that follow each other in memory (C's, and saved's) as one call: a short row's
     * call costs more than its arithmetic. A bias is then added first, by the same single
     * rounding as in the call (src_c/eltwise_impl.h adds it in a pass of its own). */
    epi_t whole;
    if (mr > 1 && ldc == nr &&
        (e->mode == EPI_BACKWARD ? e->ld_saved == nr : e->bias == NULL || nr < 64)) {
        if (e->mode != EPI_BACKWARD && e->mode != EPI_NONE && e->bias != NULL)
            for (int64_t r = 0; r < mr; r++)
                for (int64_t jj = 0; jj < nr; jj++)
                    c[r * nr + jj] += e->bias[j + jj];
        whole = *e;
        whole.bias = NULL;
        e = &whole;
        nr *= mr;
        mr = 1;
    }
    for (int64_t r = 0; r < mr; r++) {
        T *row = c + r * ldc;
        if (e->mode == EPI_BACKWARD) {
            ACT_BWD(e->act, e->param, row, e->saved + (i + r) * e->ld_saved + j, row, nr);
        } else if (e->mode != EPI_NONE) {
            ACT_FWD(e->act, e->param, row, e->bias ? e->bias + j : NULL, nr);
        }
    }
}

/* k == 0 or alpha == 0: C := beta * C, then the epilogue (BLAS semantics: A, B unread). */
static void scale_only(int64_t m, int64_t n, T beta, T *c, int64_t ldc, const epi_t *e)
{
    for (int64_t i = 0; i < m; i++) {
        T *row = c + i * ldc;
        for (int64_t j = 0; j < n; j++)
            row[j] = beta == 0 ? (T)0 : beta * row[j];
    }
    epi_rows(e, c, ldc, 0, 0, m, n);
}
