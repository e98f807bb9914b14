/* The GEMM driver, written once for both dtypes: src_c/gemm_s.c and src_c/gemm_d.c
 * include this file after defining
 *   T         the element type              KT      the kernel-table type
 *   KGET()    the table of the ISA in use   FNAME   the public entry point
 *   ACT_FWD   / ACT_BWD: the row epilogues of src_c/eltwise.c
 *
 * Structure (BLIS's five loops in the row-major mapping, see gemm_internal.h):
 *   for i0 (MC rows of A, packed A~ shared by every column block)
 *     for p0 (KC, balanced so the last k-block is not a sliver)
 *       pack A~ (or read A in place: one column block of B, or a short k: a_in_place)
 *       for j0 (NC columns of B, packed B~ stays in L2)
 *         pack B~ (or read a row-major B in place when m is small)
 *         for ir (MR rows: the A~ micro-panel stays in L1)
 *           for jr (NR columns): micro-kernel, then the epilogue on the last k-block
 * The epilogue (bias, activation, its derivative) is src_c/gemm_epilogue.h.
 * A C with few columns (few_columns), or with few rows against a B stored transposed
 * (dZ . W^T, rows_of_b_in_place), is computed as its transpose and copied across
 * (src_c/gemm_transposed.h).
 * Threads own disjoint row strips or column strips of C, cut on MR / NR multiples,
 * so every element of C is computed by the same instructions in the same order
 * whatever the thread count: the output is bit-identical (and K is never split).
 */
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm_internal.h"
#include "gemm_ahead.h"

/* Relative cost of packing one element against one multiply-add, for the thread plan. */
#define PACK_COST 8.0
#define PACK_SLACK 64

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#include "gemm_epilogue.h"

/* The largest C^T (bytes) computed to be transposed into C for B's rows to be read in
 * place (rows_of_b_in_place). */
#define FNN_TRANSPOSED_MAX_BYTES (1 << 20)

/* Rows of a row-major B at most this far apart (bytes) may be read in place up to
 * narrow_m rows of A (b_in_place). */
#define FNN_NARROW_B_BYTES 2048

/* The most k steps of A, stored transposed, read in place against more than one column
 * block of B (a_in_place), and the most of their cache lines one L1 set may hold; also
 * the longest k for which B is read in place for more rows alongside an A in place
 * (b_in_place). */
#define FNN_A_COLS_SHORT_K 128
#define FNN_A_COLS_WAYS 4

/* Whether the micro-kernels read a row-major B in place for a block of m rows of A
 * instead of packing it. Packing B~ does not pay for few rows (small_m). Up to narrow_m
 * rows it still does not while B's rows are short: on Zen 4, one thread, 128 x 784 x 128
 * runs 3-4 % faster in place, 128 x 512 x 512 6 %; but rows 4 KiB or more apart map to
 * a few L1 sets and thrash when read in place (128 x 512 x 2048: 24 % slower).
 * Where A is read in place too and k is short (short_a: at most FNN_A_COLS_SHORT_K), up
 * to twice narrow_m rows: then nothing is packed at all. Either alone measured the same
 * within noise, both together not (Zen 4, AVX-512 float, C harness, builds alternated,
 * GFLOP/s on 1 / 2 threads: the weight gradient 784 x 128 x 512 x^T.dZ 103.6 -> 112.3 on
 * one thread's 396 rows, 201.6 -> 207.7 on two; 784 x 32 x 128 177 -> 182 on two). Not
 * for a long k: 784 x 60,000 x 128 x^T.dZ, with B (dZ) from memory, ran 171 -> 156 on
 * two threads. */
static int b_in_place(const KT *kt, int tb, int64_t m, int64_t ldb, int short_a)
{
    int64_t narrow = short_a ? 2 * kt->narrow_m : kt->narrow_m;
    return !tb && (m <= kt->small_m ||
                   (m <= narrow && ldb * (int64_t)sizeof(T) <= FNN_NARROW_B_BYTES));
}

/* Whether no L1 set holds more than `ways` of the lines that `rows` rows, `ld` elements
 * apart, start on (8-way, 64 sets of 64-byte lines: 32 KiB, as on Zen 4 and most x86). */
static int rows_spread_in_l1(int64_t rows, int64_t ld, int ways)
{
    unsigned char in_set[64] = {0};
    for (int64_t i = 0; i < rows; i++)
        if (++in_set[((uint64_t)(i * ld) * sizeof(T) / 64) % 64] > ways)
            return 0;
    return 1;
}

/* Whether the micro-kernels read A in place instead of packing A~ (where the ISA has the
 * kernels for it). With one column block (n <= NC) each panel of A~ serves only
 * ceil(n / NR) tiles, so its pack is a pass over A that the arithmetic does not amortise.
 * Stored transposed (x^T.dZ), A's rows already hold a tile's values of each k step, as
 * A~ does. Row-major, a tile reads MR rows at once: not when more than 6 of them fall in
 * one 8-way L1 set (rows 4 KiB apart put all 12 in one: 1000 x 1024 x 64 ran 72-85 -> 70
 * GFLOP/s in place). Rows 2 KiB apart, 6 to a set, gain as others do (against packing,
 * 1 / 2 threads: 256 x 512 x 32 x.W 86-91 -> 109, 2000 x 512 x 128 83-88 -> 90-97 and
 * 179-186 -> 195-201). Zen 4, AVX-512 float, C harness, three rounds of alternating
 * builds, GFLOP/s, 1 / 2 threads:
 *   256 x 784 x 128 x.W      101-105 -> 108-115,  200-214 -> 221-223
 *   128 x 3000 x 64 x.W      94-100 -> 100-110,   144-175 -> 194-198
 *   784 x 32 x 128 x^T.dZ    85 -> 95-103,        158-164 -> 184-192
 *   784 x 64 x 128 x^T.dZ    91-94 -> 102-106,    172-180 -> 197-205
 *   60,000 x 784 x 128 x.W   88-95 -> 89-101 on 1 thread.
 * The AVX-512 double 8 x 24 tile, the same way: 256 x 784 x 128 x.W 45-48 -> 47-50 and
 * 89-94 -> 97-98, 784 x 64 x 128 x^T.dZ 47 -> 49 and 91-92 -> 95-97, 32 x 784 x 128 and
 * 60,000 x 784 x 128 alike within noise.
 * The AVX2 6 x 16 tile (8 tiles per panel at n = 128) measured mixed on the same
 * machine, within -13 % and +14 % on x.W, and -15 % (k = 256, 60,000) to +17 % (k = 32)
 * on x^T.dZ, so it still packs.
 * Stored transposed with a short k (at most FNN_A_COLS_SHORT_K, one k-block), a tile's
 * strip of A is a few KiB even in place, so it is read in place against any number of
 * column blocks, where its k rows spread over L1's sets (not at 2048 floats apart, all in
 * one set: 2048 x 128 x 2048 x^T.dZ ran 103 -> 93 GFLOP/s). */
static int a_in_place(const KT *kt, int ta, int64_t n, int64_t k, int64_t lda)
{
    if ((ta ? kt->ukr_a_cols : kt->ukr_a_rows) == NULL)
        return 0;
    if (n > kt->nc)
        return ta && k <= FNN_A_COLS_SHORT_K && rows_spread_in_l1(k, lda, FNN_A_COLS_WAYS);
    return ta || rows_spread_in_l1(kt->mr, lda, 6); /* 12 rows 4 KiB apart: one set */
}

/* Whether A is read in place with a k short enough for b_in_place's wider row limit
 * (the thread plan's estimate of what gemm_serial decides). */
static int short_a_in_place(const KT *kt, int ta, int64_t n, int64_t k, int64_t lda)
{
    return k <= FNN_A_COLS_SHORT_K && a_in_place(kt, ta, n, k, lda);
}

typedef struct {
    const KT *kt;
    int64_t kc, mc, nc;
    int direct_b;
    T alpha;
    const epi_t *e;
    ahead_t *ahead; /* NULL: nothing to prefetch */
    const T *a_rows; /* A in place at the block's (i0, p0), lda apart; NULL: A~ */
    int64_t lda;
    int a_cols; /* A in place is stored transposed (ukr_a_cols) */
} plan_t;

/* Loops 2 and 1 over one packed (or in-place) block: the micro-kernel calls. */
static void macro_kernel(const plan_t *pl, int64_t mc, int64_t nc, int64_t kc, const T *ap,
                         const T *bp, const T *bsrc, int64_t ldb, int64_t n_direct, T beta,
                         int last, T *c, int64_t ldc, int64_t i0, int64_t j0)
{
    const KT *kt = pl->kt;
    const int MR = kt->mr, NR = kt->nr;
    const epi_t *e = pl->e;
    const int inl = last && e->mode == EPI_INLINE;
    const int relu = inl && e->act == FNN_ACT_RELU;
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int mr = (int)min64(MR, mc - ir);
        const T *apanel = ap + ir * kc;
        const T *arows = pl->a_rows != NULL && mr == MR
                             ? pl->a_rows + (pl->a_cols ? ir : ir * pl->lda) : NULL;
        for (int64_t jr = 0; jr < nc; jr += NR) {
            int nr = (int)min64(NR, nc - jr);
            const T *bpanel = bp + jr * kc;
            int64_t rs_b = NR;
            if (jr < n_direct) {
                bpanel = bsrc + jr;
                rs_b = ldb;
            } else if (pl->direct_b) {
                bpanel = bp; /* the packed edge strip */
            }
            T *ct = c + (i0 + ir) * ldc + j0 + jr;
            const T *bias = inl && e->bias ? e->bias + j0 + jr : NULL;
            if (arows != NULL)
                (pl->a_cols ? kt->ukr_a_cols : kt->ukr_a_rows)(kc, arows, pl->lda, bpanel,
                                                               rs_b, ct, ldc, pl->alpha,
                                                               beta, nr, bias, relu);
            else
                kt->ukr(kc, apanel, bpanel, rs_b, ct, ldc, pl->alpha, beta, mr, nr, bias,
                        relu);
            if (last && e->mode >= EPI_FORWARD)
                epi_rows(e, ct, ldc, i0 + ir, j0 + jr, mr, nr);
            if (pl->ahead != NULL)
                ahead_some(pl->ahead);
        }
    }
}

/* The rows of A per packed block: the table's MC, but for an A read from memory against
 * a B that stays in cache, in a single column block (n <= NC: each block of A~ serves only
 * ceil(n / NR) panels, so its pack, waiting on memory, weighs), equal blocks small enough
 * for the next one to be prefetched while this one is used (FNN_AHEAD_MAX_BYTES,
 * gemm_ahead.h); B is packed once more per extra block, from cache. Zen 4, AVX-512,
 * float, C harness, 60,000 x 784 x 128 x.W: 2.2 % faster on one thread and 5.7 % on two
 * (MC 504 against 1,536). Not where B is large too: 60,000 x 784 x 128 x^T.dZ (30 MB
 * of B streamed once per block) was 10 % slower on one thread; nor for n > NC (2048^3
 * ran 4-7 % slower with MC 480). The rows change, not the sums: the bits stay the same. */
static int64_t block_rows(const KT *kt, int64_t m, int64_t n, int64_t k, int64_t kc,
                          int far_a)
{
    int64_t fit = FNN_AHEAD_MAX_BYTES / (kc * (int64_t)sizeof(T)) / kt->mr * kt->mr;
    if (!far_a || n > kt->nc || (double)k * n * sizeof(T) >= FNN_AHEAD_MIN_BYTES ||
        fit < kt->mr || fit >= min64(m, kt->mc))
        return kt->mc;
    int64_t blocks = ceil_div(m, fit);
    return ceil_div(ceil_div(m, blocks), kt->mr) * kt->mr;
}

/* The whole blocked GEMM on one thread. Returns -1 if a buffer cannot be allocated. */
static int gemm_serial(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha,
                       const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,
                       int64_t ldc, const epi_t *e)
{
    const int MR = kt->mr, NR = kt->nr;
    plan_t pl = {kt, 0, 0, 0, 0, alpha, e, NULL, NULL, lda, ta};
    ahead_t ahead;
    pl.kc = ceil_div(k, ceil_div(k, kt->kc));
    const int far_a = (double)m * k * sizeof(T) >= FNN_AHEAD_MIN_BYTES;
    const int64_t mc_step = block_rows(kt, m, n, k, pl.kc, far_a);
    pl.mc = ceil_div(min64(m, mc_step), MR) * MR;
    pl.nc = ceil_div(min64(n, kt->nc), NR) * NR;
    const int direct_a = a_in_place(kt, ta, n, k, lda);
    pl.direct_b = b_in_place(kt, tb, m, ldb, direct_a && k <= FNN_A_COLS_SHORT_K);
    /* + PACK_SLACK: vector pack routines may store one vector past the last panel */
    T *ap = (T *)fnn_gemm_scratch(0, (size_t)(pl.mc * pl.kc) * sizeof(T) + PACK_SLACK);
    T *bp = (T *)fnn_gemm_scratch(pl.direct_b ? 2 : 1,
                                  (size_t)(pl.kc * (pl.direct_b ? NR : pl.nc)) * sizeof(T)
                                      + PACK_SLACK);
    if (ap == NULL || bp == NULL)
        return -1;
    const int64_t a_sx = ta ? 1 : lda, a_sp = ta ? lda : 1;
    const int64_t b_sx = tb ? ldb : 1, b_sp = tb ? 1 : ldb;
    for (int64_t i0 = 0; i0 < m; i0 += mc_step) {
        int64_t mc = min64(mc_step, m - i0);
        for (int64_t p0 = 0; p0 < k; p0 += pl.kc) {
            int64_t kc = min64(pl.kc, k - p0);
            int last = p0 + kc >= k;
            T beta_k = p0 == 0 ? beta : (T)1;
            const T *asrc = a + i0 * a_sx + p0 * a_sp;
            if (direct_a) { /* only the last, partial panel of rows is packed */
                int64_t full = mc / MR * MR;
                pl.a_rows = asrc;
                if (full < mc)
                    kt->pack(mc - full, kc, asrc + full * a_sx, a_sx, a_sp, MR, ap + full * kc);
            } else {
                kt->pack(mc, kc, asrc, a_sx, a_sp, MR, ap);
            }
            /* the block packed next: (i0, p0 + kc), or (i0 + mc, 0) */
            int64_t i1 = last ? i0 + mc : i0, p1 = last ? 0 : p0 + kc;
            pl.ahead = NULL;
            int64_t mc1 = min64(mc_step, m - i1), kc1 = min64(pl.kc, k - p1);
            if (far_a && i1 < m && (double)mc1 * kc1 * sizeof(T) <= FNN_AHEAD_MAX_BYTES) {
                ahead_start(&ahead, a + i1 * a_sx + p1 * a_sp, ta ? kc1 : mc1,
                            (ta ? mc1 : kc1) * (int64_t)sizeof(T), lda * (int64_t)sizeof(T),
                            ceil_div(mc, MR) * ceil_div(n, NR));
                pl.ahead = &ahead;
            }
            for (int64_t j0 = 0; j0 < n; j0 += kt->nc) {
                int64_t nc = min64(kt->nc, n - j0);
                const T *bsrc = b + j0 * b_sx + p0 * b_sp;
                int64_t n_direct = pl.direct_b ? nc / NR * NR : 0;
                if (!pl.direct_b)
                    kt->pack(nc, kc, bsrc, b_sx, b_sp, NR, bp);
                else if (n_direct < nc)
                    kt->pack(nc - n_direct, kc, bsrc + n_direct, b_sx, b_sp, NR, bp);
                macro_kernel(&pl, mc, nc, kc, ap, bp, bsrc, ldb, n_direct, beta_k, last, c,
                             ldc, i0, j0);
            }
        }
    }
    return 0;
}

static void gemm_run(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha,
                     const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,
                     int64_t ldc, const epi_t *e)
{
    if (gemm_serial(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, e) != 0)
        fnn_gemm_note_alloc_failure();
}

#include "gemm_unpacked.h"

/* How many threads, and whether they split rows (1) or columns (0) of C: the split
 * with the smaller estimated time per thread, counting padded tiles and the packing
 * each thread repeats (every thread packs all of B for a row split, all of A for a
 * column split), and no B packing where the micro-kernels read B in place. (The column
 * split was charged for packing B even then; without the charge 128 x 784 x 128 and
 * 128 x 784 x 512 split columns on Zen 4, which measured the same within noise.) */
static int thread_plan(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                       int64_t lda, int64_t ldb, int n_threads, int *by_rows)
{
    *by_rows = 1;
    if (n_threads <= 1 || (double)m * n * k < FNN_GEMM_PAR_MIN_WORK)
        return 1;
    int64_t mt = ceil_div(m, kt->mr), ntl = ceil_div(n, kt->nr);
    int64_t most = mt > ntl ? mt : ntl;
    int nt = n_threads < most ? n_threads : (int)most;
    if (nt <= 1)
        return 1;
    double rows = (double)(ceil_div(mt, nt) * kt->mr), cols = (double)(ceil_div(ntl, nt) * kt->nr);
    int a_r = short_a_in_place(kt, ta, n, k, lda);
    int a_c = short_a_in_place(kt, ta, (int64_t)cols, k, lda);
    double b_pack_r = b_in_place(kt, tb, (int64_t)rows, ldb, a_r) ? 0.0 : (double)k * n;
    double b_pack_c = b_in_place(kt, tb, m, ldb, a_c) ? 0.0 : cols * k;
    double cost_r = rows * ntl * kt->nr * k + PACK_COST * (rows * k + b_pack_r);
    double cost_c = (double)mt * kt->mr * cols * k + PACK_COST * ((double)m * k + b_pack_c);
    *by_rows = cost_r <= cost_c;
    return nt;
}

#include "gemm_transposed.h"

/* The threads' split (thread_plan) and the blocked product on each part; with `out`,
 * each part is then transposed into out->c (transpose_strip; C = c must then be m x n
 * with ldc = n). */
static void gemm_blocked(const KT *kt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                         T alpha, const T *a, int64_t lda, const T *b, int64_t ldb, T beta,
                         T *c, int64_t ldc, const epi_t *e, int n_threads,
                         const transposed_out_t *out)
{
    int by_rows;
    int nt = thread_plan(kt, ta, tb, m, n, k, lda, ldb, n_threads, &by_rows);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), team = omp_get_num_threads();
            int64_t unit = by_rows ? kt->mr : kt->nr, len = by_rows ? m : n;
            int64_t per = fnn_strip_len(len, unit, team);
            int64_t s0 = t * per, s1 = min64(len, s0 + per);
            if (s0 < s1) {
                epi_t es = *e;
                if (by_rows) {
                    if (es.saved)
                        es.saved += s0 * es.ld_saved;
                    gemm_run(kt, ta, tb, s1 - s0, n, k, alpha, ta ? a + s0 : a + s0 * lda,
                             lda, b, ldb, beta, c + s0 * ldc, ldc, &es);
                    if (out != NULL)
                        transpose_strip(kt, out, c, m, n, 1, s0, s1);
                } else {
                    if (es.saved)
                        es.saved += s0;
                    if (es.bias)
                        es.bias += s0;
                    gemm_run(kt, ta, tb, m, s1 - s0, k, alpha, a, lda,
                             tb ? b + s0 * ldb : b + s0, ldb, beta, c + s0, ldc, &es);
                    if (out != NULL)
                        transpose_strip(kt, out, c, m, n, 0, s0, s1);
                }
            }
        }
        return;
    }
#endif
    (void)nt;
    gemm_run(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, e);
    if (out != NULL)
        transpose_strip(kt, out, c, m, n, 1, 0, m);
}

void FNAME(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t lda,
           const T *b, int64_t ldb, T beta, T *c, int64_t ldc, const fnn_epilogue *ep,
           int n_threads)
{
    if (m <= 0 || n <= 0)
        return;
    epi_t e;
    epi_init(&e, ep);
    if (k <= 0 || alpha == 0) {
        scale_only(m, n, beta, c, ldc, &e);
        return;
    }
    const KT *kt = KGET();
    if (!ta && !tb && m <= FNN_GEMM_FEW_ROWS && alpha == 1 && beta == 0) {
        few_rows_run(kt, m, n, k, a, lda, b, ldb, c, ldc, &e, n_threads);
        return;
    }
    if (alpha == 1 && beta == 0 && small_product(kt, ta, m, n, k) &&
        (small_columns(m, n)
             ? gemm_transposed(kt, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, &e, 1, 1)
             : small_run(kt, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, &e)) == 0)
        return;
    if (alpha == 1 && beta == 0 &&
        (few_columns(kt, m, n) || rows_of_b_in_place(kt, ta, tb, m, n, k, ldb)) &&
        gemm_transposed(kt, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, &e, n_threads, 0) == 0)
        return;
    gemm_blocked(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &e, n_threads,
                 NULL);
}
