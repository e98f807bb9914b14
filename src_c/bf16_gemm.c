/* The driver of the bfloat16 GEMM (src_c/bf16.h): the route, the threads' split, the
 * blocking of the vdpbf16ps route and the fused epilogue. Baseline flags: the vdpbf16ps
 * code is in src_c/bf16_avx512bf16.c and runs only where the CPU has it. */
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bf16.h"
#include "gemm_ahead.h"
#include "gemm_internal.h"
#include "isa.h"

#define T float
#define ACT_FWD fnn_s_act_forward
#define ACT_BWD fnn_s_act_backward
#include "gemm_epilogue.h"

/* Rows of A~ per block (MC x FNN_BF16_KCP pairs, 120 KiB, in L2). */
#define BF16_MC 240
/* The largest A~ a team packs once and shares (native_gemm): it is read from L2. */
#define BF16_WHOLE_A_MAX ((size_t)1 << 20)

static int force_float_route = 0;
static int cpu_bf16 = -1;

int fnn_bf16_native(void)
{
#ifdef FNN_GEMM_X86
    if (cpu_bf16 < 0)
        cpu_bf16 = fnn_cpu_has_avx512bf16();
    return !force_float_route && cpu_bf16 && fnn_isa_index() == FNN_ISA_AVX512;
#else
    return 0;
#endif
}

void fnn_bf16_set_native(int on) { force_float_route = !on; }

void fnn_bf16_kernel_info(int64_t info[4])
{
    int nat = fnn_bf16_native();
    info[0] = nat ? FNN_BF16_MR : 0;
    info[1] = nat ? FNN_BF16_NR : 0;
    info[2] = nat ? BF16_MC : 0;
    info[3] = nat ? FNN_BF16_KCP : 0;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

size_t fnn_bf16_packed_b_bytes(int64_t k, int64_t n)
{
    size_t pairs = (size_t)(cdiv(n, FNN_BF16_NR) * FNN_BF16_NR * cdiv(k, 2)) * 4;
    size_t floats = (size_t)(k * n) * sizeof(float);
    return pairs > floats ? pairs : floats; /* either route's B~ fits */
}

/* How many threads a product of m x n x k uses. */
static int team_for(double work, int n_threads)
{
    return n_threads > 1 && work >= FNN_GEMM_PAR_MIN_WORK ? n_threads : 1;
}

void fnn_bf16_pack_b(int tb, int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                     int n_threads)
{
    if (k <= 0 || n <= 0)
        return;
    int nt = team_for((double)k * n * 64, n_threads); /* a pass of k n: worth it when large */
#ifdef FNN_GEMM_X86
    if (fnn_bf16_native()) {
        int64_t panels = cdiv(n, FNN_BF16_NR);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
        for (int64_t q = 0; q < panels; q++)
            fnn_bf16_pack_b_avx512bf16(tb, k, n, b, ldb, (uint32_t *)bp, q, q + 1);
        return;
    }
#endif
    (void)nt;
    float *dst = (float *)bp;
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++)
            dst[p * n + j] = fnn_bf16_round(tb ? b[j * ldb + p] : b[p * ldb + j]);
}

void fnn_bf16_pack_b_rows(int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                          int64_t r_lo, int64_t r_hi)
{
    r_lo = r_lo < 0 ? 0 : r_lo;
    r_hi = r_hi > k ? k : r_hi;
    if (r_lo >= r_hi || n <= 0)
        return;
#ifdef FNN_GEMM_X86
    if (fnn_bf16_native()) {
        fnn_bf16_pack_b_rows_avx512bf16(k, n, b, ldb, (uint32_t *)bp, r_lo, r_hi);
        return;
    }
#endif
    for (int64_t p = r_lo; p < r_hi; p++)
        fnn_bf16_round_array(b + p * ldb, (float *)bp + p * n, n);
}

#ifdef FNN_GEMM_X86
/* The block of A~ packed next, (i0, p0) in rows and pairs of op(A), to be walked into
 * cache a line per k-pair by the micro-kernel calls of the current block (src_c/
 * gemm_ahead.h): the pack then reads an A too large to stay in cache from L2 instead of
 * memory. Issued by ahead_some's bursts between the calls, the prefetches stalled the
 * calls: Zen 4, 60,000 x 784 x 128 x.W in chunks of 1,024 rows, one thread, C harness:
 * 147 GFLOP/s without prefetching, 177 by bursts, 200 in the k loop (A~ in cache: 203). */
static void ahead_of(ahead_t *ah, int ta, int64_t i0, int64_t mc, int64_t p0, int64_t kp,
                     int64_t k, const float *a, int64_t lda)
{
    int64_t vals = min64(2 * kp, k - 2 * p0);
    if (ta)
        ahead_start(ah, a + 2 * p0 * lda + i0, vals, mc * 4, lda * 4, 1);
    else /* whole vectors of 32 values: a row's last one reaches past its block */
        ahead_start(ah, a + i0 * lda + 2 * p0, mc, cdiv(vals, 32) * 128, lda * 4, 1);
}

/* k-pairs per block of a product over k values: near FNN_BF16_KCP, the blocks even. */
static int64_t block_pairs(int64_t k)
{
    int64_t KP = cdiv(k, 2);
    return cdiv(KP, cdiv(KP, FNN_BF16_KCP));
}

/* The bytes of the whole A~ of an m x k op(A) (every k-block, rows padded to the tile),
 * packed once and read by the whole team (native_gemm). */
static size_t whole_a_bytes(int64_t m, int64_t k)
{
    int64_t blocks = cdiv(cdiv(k, 2), block_pairs(k));
    return (size_t)(blocks * cdiv(m, FNN_BF16_MR) * FNN_BF16_MR * FNN_BF16_KCP) * 4;
}

/* Row tiles [t0, t1) of the whole A~ (whole_a_bytes): k-block b of row i at
 * (b * mpad + i) * FNN_BF16_KCP pairs, each block laid out as native_part packs it. */
static void pack_whole_a(int ta, int64_t m, int64_t k, const float *a, int64_t lda,
                         uint32_t *ap, int64_t t0, int64_t t1)
{
    const int MR = FNN_BF16_MR;
    const int64_t KP = cdiv(k, 2), kcp = block_pairs(k), mpad = cdiv(m, MR) * MR;
    int64_t i0 = t0 * MR, rows = min64(m, t1 * MR) - i0;
    if (rows <= 0)
        return;
    for (int64_t p0 = 0, b = 0; p0 < KP; p0 += kcp, b++)
        fnn_bf16_pack_a_avx512bf16(ta, rows, p0, min64(kcp, KP - p0), k,
                                   ta ? a + i0 : a + i0 * lda, lda,
                                   ap + (b * mpad + i0) * FNN_BF16_KCP);
}

/* Rows [i_lo, i_hi) x panels [q_lo, q_hi) of C on one thread, with the epilogue: bias
 * and relu in the tile's write-out on the last k-block (a pass over C saved: 1.5 % of a
 * bfloat16 predict), other activations per block of rows. `far`: A is read from memory,
 * its next block prefetched. `whole`: the whole A~ of the product, packed by the team
 * (pack_whole_a), else each block of A~ is packed here. */
static int native_part(int ta, int64_t i_lo, int64_t i_hi, int64_t q_lo, int64_t q_hi,
                       int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const uint32_t *bp, float *c, int64_t ldc, const epi_t *e, int far,
                       const uint32_t *whole)
{
    const int MR = FNN_BF16_MR, NR = FNN_BF16_NR;
    const int64_t KP = cdiv(k, 2), kcp = block_pairs(k), mpad = cdiv(m, MR) * MR;
    uint32_t *own = NULL;
    if (whole == NULL) {
        own = (uint32_t *)fnn_gemm_scratch(0, (size_t)BF16_MC * FNN_BF16_KCP * 4);
        if (own == NULL)
            return -1;
    }
    const int64_t j_lo = q_lo * NR, j_hi = min64(n, q_hi * NR);
    ahead_t ah = {0};
    for (int64_t i0 = i_lo; i0 < i_hi; i0 += BF16_MC) {
        int64_t mc = min64(BF16_MC, i_hi - i0);
        for (int64_t p0 = 0; p0 < KP; p0 += kcp) {
            int64_t kp = min64(kcp, KP - p0), i1 = p0 + kp < KP ? i0 : i0 + mc;
            const uint32_t *ap = own;
            if (whole != NULL)
                ap = whole + (p0 / kcp * mpad + i0) * FNN_BF16_KCP;
            else
                fnn_bf16_pack_a_avx512bf16(ta, mc, p0, kp, k, ta ? a + i0 : a + i0 * lda,
                                           lda, own);
            if (far && whole == NULL && i1 < i_hi)
                ahead_of(&ah, ta, i1, min64(BF16_MC, i_hi - i1), i1 == i0 ? p0 + kp : 0,
                         kcp, k, a, lda);
            else
                ah.rows = 0;
            int inl = e->mode == EPI_INLINE && p0 + kp == KP; /* bias, relu as C is written */
            for (int64_t q = q_lo; q < q_hi && mc <= FNN_BF16_FEW; q += 4) {
                /* a batch of a few rows: four panels a pass, the rows' own multiply-adds
                 * (a single-sample T1 forward, 784 x 128: 10 -> ~1 us) */
                const float *bias = inl && e->bias ? e->bias + q * NR : NULL;
                fnn_bf16_ukr_avx512bf16_few(kp, ap, !ta, (int)mc, bp + (q * KP + p0) * NR,
                                            KP * NR, (int)min64(4, q_hi - q),
                                            c + i0 * ldc + q * NR, ldc, p0 == 0,
                                            min64(n, q_hi * NR) - q * NR, bias,
                                            inl && e->act == FNN_ACT_RELU);
            }
            for (int64_t q = q_lo; q < q_hi && mc > FNN_BF16_FEW; q++) {
                int nr = (int)min64(NR, n - q * NR);
                const uint32_t *bpanel = bp + (q * KP + p0) * NR;
                const float *bias = inl && e->bias ? e->bias + q * NR : NULL;
                for (int64_t ir = 0; ir < mc; ir += MR)
                    fnn_bf16_ukr_avx512bf16_12x32(kp, ap + ir * FNN_BF16_KCP, !ta, bpanel,
                                                  c + (i0 + ir) * ldc + q * NR, ldc, p0 == 0,
                                                  (int)min64(MR, mc - ir), nr, &ah, bias,
                                                  inl && e->act == FNN_ACT_RELU);
            }
        }
        if (e->mode == EPI_FORWARD || e->mode == EPI_BACKWARD)
            epi_rows(e, c + i0 * ldc + j_lo, ldc, i0, j_lo, mc, j_hi - j_lo);
    }
    return 0;
}

/* The vdpbf16ps route: rows or column panels of C split over the threads, whichever
 * leaves fewer padded tiles (rows on a tie); every element is summed the same way. Split
 * by panels, every thread reads all of A~: the team packs it once, each thread its
 * share of the rows, instead of each thread packing all of it (T1's training forward,
 * 128 x 784 x 128 on two threads: the pack was an eighth of the product). */
static void native_gemm(int ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const uint32_t *bp, float *c, int64_t ldc, const epi_t *e,
                        int n_threads)
{
    const int MR = FNN_BF16_MR, NR = FNN_BF16_NR;
    int64_t mt = cdiv(m, MR), panels = cdiv(n, NR);
    int nt = team_for((double)m * n * k, n_threads);
    if (nt > (mt > panels ? mt : panels))
        nt = (int)(mt > panels ? mt : panels);
    int by_rows = cdiv(mt, nt) * panels <= cdiv(panels, nt) * mt;
    int failed = 0, far = (double)m * k * 4 >= FNN_AHEAD_MIN_BYTES;
    uint32_t *whole = NULL;
    if (!by_rows && nt > 1 && whole_a_bytes(m, k) <= BF16_WHOLE_A_MAX) {
        whole = (uint32_t *)fnn_gemm_scratch(6, whole_a_bytes(m, k));
        if (whole == NULL) {
            fnn_gemm_note_alloc_failure();
            return;
        }
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : failed)
#endif
    {
        int t = 0, team = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        if (whole != NULL) {
            int64_t per_t = cdiv(mt, team);
            pack_whole_a(ta, m, k, a, lda, whole, min64(mt, t * per_t),
                         min64(mt, (t + 1) * per_t));
#ifdef _OPENMP
#pragma omp barrier
#endif
        }
        int64_t units = by_rows ? mt : panels, per = cdiv(units, team);
        int64_t u0 = min64(units, t * per), u1 = min64(units, u0 + per);
        if (u0 < u1)
            failed |= by_rows ? native_part(ta, u0 * MR, min64(m, u1 * MR), 0, panels, m, n,
                                            k, a, lda, bp, c, ldc, e, far, NULL)
                              : native_part(ta, 0, m, u0, u1, m, n, k, a, lda, bp, c, ldc, e,
                                            far, whole);
    }
    if (failed)
        fnn_gemm_note_alloc_failure();
}
#endif

/* The float32 route: A rounded to bfloat16 (slot 5), then the float32 GEMM. */
static void float_gemm(int ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const float *bp, float *c, int64_t ldc, const fnn_epilogue *ep,
                       int n_threads)
{
    int64_t rows = ta ? k : m, cols = ta ? m : k;
    float *ar = (float *)fnn_gemm_scratch(5, (size_t)(rows * cols) * sizeof(float));
    if (ar == NULL) {
        fnn_gemm_note_alloc_failure();
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        fnn_bf16_round_array(a + i * lda, ar + i * cols, cols);
    fnn_sgemm(ta, 0, m, n, k, 1.0f, ar, cols, bp, n, 0.0f, c, ldc, ep, n_threads);
}

void fnn_bf16_gemm(int ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                   const void *bp, float *c, int64_t ldc, const fnn_epilogue *ep,
                   int n_threads)
{
    if (m <= 0 || n <= 0)
        return;
    epi_t e;
    epi_init(&e, ep);
    if (k <= 0) {
        scale_only(m, n, 0.0f, c, ldc, &e);
        return;
    }
#ifdef FNN_GEMM_X86
    if (fnn_bf16_native()) {
        native_gemm(ta, m, n, k, a, lda, (const uint32_t *)bp, c, ldc, &e, n_threads);
        return;
    }
#endif
    float_gemm(ta, m, n, k, a, lda, (const float *)bp, c, ldc, ep, n_threads);
}

void fnn_bf16_matmul(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                     int64_t lda, const float *b, int64_t ldb, void *bp, float *c,
                     int64_t ldc, const fnn_epilogue *ep, int n_threads)
{
#ifdef FNN_GEMM_X86
    if (!ta && !tb && m > 0 && m <= FNN_BF16_FEW && n > 0 && k > 0 && fnn_bf16_native()) {
        epi_t e;
        epi_init(&e, ep);
        uint32_t *ap = (uint32_t *)fnn_gemm_scratch(0, (size_t)(m * cdiv(k, 2)) * 4);
        if (ap == NULL) {
            fnn_gemm_note_alloc_failure();
            return;
        }
        int inl = e.mode == EPI_INLINE;
        fnn_bf16_gemm_direct_avx512bf16(m, n, k, a, lda, b, ldb, ap, c, ldc,
                                        inl ? e.bias : NULL,
                                        inl && e.act == FNN_ACT_RELU);
        if (e.mode == EPI_FORWARD || e.mode == EPI_BACKWARD)
            epi_rows(&e, c, ldc, 0, 0, m, n);
        return;
    }
#endif
    fnn_bf16_pack_b(tb, k, n, b, ldb, bp, n_threads);
    fnn_bf16_gemm(ta, m, n, k, a, lda, bp, c, ldc, ep, n_threads);
}
