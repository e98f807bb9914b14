/* The int8 GEMM driver: B~ packed once per weight matrix (fnn_q8_pack), then per block
 * of MC rows the rows are quantized into A (or copied, for the integer entry point) and
 * the micro-kernel runs over every MR x NR tile, panel by panel, with the epilogue of
 * src_c/qgemm.h; the activation follows on the block while it is in cache. Threads take
 * strips of rows (multiples of MR): each element is computed by the same instructions
 * whatever the thread count, so the bits do not depend on it. Baseline flags. */
#include <string.h>

#include "gemm_internal.h"
#include "qgemm.h"
#include "qgemm_api.h"

#ifdef FNN_OPENMP
#include <omp.h>
#endif

/* The head of a packed weight matrix: the kernel it was packed for and its shape; B~
 * follows at byte 64, the column corrections after it. */
typedef struct {
    const fnn_q8_kernels *t;
    int64_t k, n;
} packed_head;

static int64_t round_up(int64_t x, int64_t unit) { return (x + unit - 1) / unit * unit; }

static size_t b_bytes(const fnn_q8_kernels *t, int64_t k, int64_t n)
{
    return (size_t)round_up(round_up(k, t->kg) * round_up(n, t->nr) * t->b_bytes, 64);
}

size_t fnn_q8_packed_size(int64_t k, int64_t n)
{
    const fnn_q8_kernels *t = fnn_q8_kernels_get();
    return 64 + b_bytes(t, k, n) + (size_t)round_up(n, t->nr) * sizeof(int32_t);
}

void fnn_q8_pack(int64_t k, int64_t n, const int8_t *w, int64_t ldw, void *packed)
{
    const fnn_q8_kernels *t = fnn_q8_kernels_get();
    packed_head head = {t, k, n};
    memcpy(packed, &head, sizeof(head));
    char *b = (char *)packed + 64;
    int32_t *corr = (int32_t *)(b + b_bytes(t, k, n));
    memset(corr, 0, (size_t)round_up(n, t->nr) * sizeof(int32_t));
    t->pack(k, n, w, ldw, t->nr, t->kg, t->offset, b, corr);
}

/* What every strip of rows shares. */
typedef struct {
    const fnn_q8_kernels *t;
    int64_t n, k, kp;
    const float *x;          /* float rows to quantize, or NULL ... */
    const int8_t *a8;        /* ... int8 rows to copy */
    int64_t lds;             /* their leading dimension */
    const char *b;
    const int32_t *corr;
    const float *ws, *bias;  /* the float epilogue (x != NULL) */
    int act;
    double act_param;
    char *c;
    int64_t ldc;
} job;

/* rows i0 .. i0 + rows; returns how many values of x read were NaN or infinite */
static int64_t block(const job *jb, int64_t i0, int64_t rows, void *abuf, float *xs)
{
    int64_t bad = 0;
    const fnn_q8_kernels *t = jb->t;
    int64_t lda = jb->kp, row_bytes = lda * t->a_bytes, groups = jb->kp / t->kg;
    if (jb->x != NULL)
        bad = t->quant(rows, jb->k, jb->kp, jb->x + i0 * jb->lds, jb->lds, abuf, lda, xs);
    else
        t->copy(rows, jb->k, jb->kp, jb->a8 + i0 * jb->lds, jb->lds, abuf, lda);
    /* the kernels read whole MR-row tiles; rows past the block are never stored */
    memset((char *)abuf + rows * row_bytes, 0, (size_t)((round_up(rows, t->mr) - rows)
                                                        * row_bytes));
    size_t panel_bytes = (size_t)(groups * t->nr * t->kg * t->b_bytes);
    for (int64_t j0 = 0; j0 < jb->n; j0 += t->nr) {
        int nr = (int)(jb->n - j0 < t->nr ? jb->n - j0 : t->nr);
        const char *bp = jb->b + (j0 / t->nr) * panel_bytes;
        const int32_t *corr = t->offset ? jb->corr + j0 : NULL;
        for (int64_t ii = 0; ii < rows; ii += t->mr) {
            int mr = (int)(rows - ii < t->mr ? rows - ii : t->mr);
            fnn_q8_epilogue ep = {xs + ii, jb->ws + j0,
                                  jb->bias != NULL ? jb->bias + j0 : NULL};
            char *c = jb->c + ((i0 + ii) * jb->ldc + j0) * 4;
            t->ukr(groups, (const char *)abuf + ii * row_bytes, lda, bp, corr, mr, nr,
                   jb->x != NULL ? &ep : NULL, c, jb->ldc);
        }
    }
    if (jb->x != NULL && jb->act > 0) {
        float *c = (float *)jb->c + i0 * jb->ldc;
        if (jb->ldc == jb->n)
            fnn_s_act_forward(jb->act, jb->act_param, c, NULL, rows * jb->n);
        else
            for (int64_t i = 0; i < rows; i++)
                fnn_s_act_forward(jb->act, jb->act_param, c + i * jb->ldc, NULL, jb->n);
    }
    return bad;
}

/* rows [r0, r1) on the calling thread: the non-finite count, or -1 when its buffers
 * cannot be had */
static int64_t strip(const job *jb, int64_t r0, int64_t r1)
{
    int64_t bad = 0;
    const fnn_q8_kernels *t = jb->t;
    int64_t mc = round_up(t->mc, t->mr);
    size_t a_size = (size_t)round_up(mc * jb->kp * t->a_bytes, 64);
    char *abuf = (char *)fnn_gemm_scratch(0, a_size + (size_t)mc * sizeof(float));
    if (abuf == NULL)
        return -1;
    for (int64_t i0 = r0; i0 < r1; i0 += mc)
        bad += block(jb, i0, r1 - i0 < mc ? r1 - i0 : mc, abuf, (float *)(abuf + a_size));
    return bad;
}

static int64_t run(const job *jb, int64_t m, int n_threads)
{
    const fnn_q8_kernels *t = jb->t;
    double work = (double)m * (double)jb->n * (double)jb->k;
    int nt = work < FNN_GEMM_PAR_MIN_WORK ? 1 : n_threads < 1 ? 1 : n_threads;
    int64_t tiles = (m + t->mr - 1) / t->mr;
    if (nt > tiles)
        nt = (int)(tiles > 0 ? tiles : 1);
    int failed = 0;
    int64_t bad = 0;
    if (nt == 1) {
        bad = strip(jb, 0, m);
        failed = bad < 0;
    } else {
        int64_t len = fnn_strip_len(m, t->mr, nt);
#ifdef FNN_OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed) reduction(+ : bad)
#endif
        {
#ifdef FNN_OPENMP
            int64_t r0 = omp_get_thread_num() * len;
#else
            int64_t r0 = 0;
            len = m;
#endif
            int64_t r1 = r0 + len < m ? r0 + len : m;
            int64_t got = r0 < r1 ? strip(jb, r0, r1) : 0;
            failed |= got < 0;
            bad += got < 0 ? 0 : got;
        }
    }
    if (failed)
        fnn_gemm_note_alloc_failure();
    return bad;
}

int64_t fnn_q8_dense_packed(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx,
                        const void *packed, const float *w_scale, const float *bias,
                        int act, double act_param, float *out, int64_t ldo, int n_threads)
{
    packed_head head;
    memcpy(&head, packed, sizeof(head));
    const fnn_q8_kernels *t = fnn_q8_kernels_get();
    if (head.t != t || head.k != k || head.n != n)
        return -1;
    if (m <= 0 || n <= 0)
        return 0;
    const char *b = (const char *)packed + 64;
    job jb = {t, n, k, round_up(k, t->kg), x, NULL, ldx, b,
              (const int32_t *)(b + b_bytes(t, k, n)), w_scale, bias, act, act_param,
              (char *)out, ldo};
    return run(&jb, m, n_threads);
}

/* B~ of the kernel in use, in the calling thread's scratch (slot 1: the float GEMM's B~,
 * not in use during an int8 product) */
static void *packed_scratch(int64_t k, int64_t n, const int8_t *w, int64_t ldw)
{
    void *packed = fnn_gemm_scratch(1, fnn_q8_packed_size(k, n));
    if (packed == NULL)
        fnn_gemm_note_alloc_failure();
    else
        fnn_q8_pack(k, n, w, ldw, packed);
    return packed;
}

void fnn_q8_dense(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx,
                  const int8_t *w, int64_t ldw, const float *w_scale, const float *bias,
                  int act, double act_param, float *out, int64_t ldo, int n_threads)
{
    if (m <= 0 || n <= 0)
        return;
    void *packed = packed_scratch(k, n, w, ldw);
    if (packed != NULL)
        fnn_q8_dense_packed(m, n, k, x, ldx, packed, w_scale, bias, act, act_param, out,
                            ldo, n_threads);
}

void fnn_q8_gemm(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                 const int8_t *b, int64_t ldb, int32_t *c, int64_t ldc, int n_threads)
{
    if (m <= 0 || n <= 0)
        return;
    const fnn_q8_kernels *t = fnn_q8_kernels_get();
    void *packed = packed_scratch(k, n, b, ldb);
    if (packed == NULL)
        return;
    const char *bp = (const char *)packed + 64;
    job jb = {t, n, k, round_up(k, t->kg), NULL, a, lda, bp,
              (const int32_t *)(bp + b_bytes(t, k, n)), NULL, NULL, 0, 0.0, (char *)c, ldc};
    run(&jb, m, n_threads);
}

void fnn_q8_quantize_rows(int64_t m, int64_t k, const float *x, int64_t ldx, int8_t *q,
                          int64_t ldq, float *scale)
{
    const fnn_q8_kernels *t = fnn_q8_kernels_get();
    int64_t kp = round_up(k, t->kg);
    char *row = (char *)fnn_gemm_scratch(0, (size_t)(kp * t->a_bytes));
    if (row == NULL) {
        fnn_gemm_note_alloc_failure();
        return;
    }
    for (int64_t i = 0; i < m; i++) {
        (void)t->quant(1, k, kp, x + i * ldx, ldx, row, kp, scale + i);
        for (int64_t p = 0; p < k; p++)
            q[i * ldq + p] = t->a_bytes == 2 ? (int8_t)((int16_t *)row)[p]
                             : t->offset ? (int8_t)(((uint8_t *)row)[p] - 128)
                                         : ((int8_t *)row)[p];
    }
}
