/* The GEMM kernels and blocking of each ISA, as data: adding an ISA is adding a row.
 * src_c/isa.c says which row is in use.
 *
 * This file is compiled with the baseline flags: it must run on any CPU.
 */
#include <string.h>

#include "gemm_internal.h"
#include "isa.h"

/* Blocking: MC rows of A~ (L3), KC, NC columns of B~ (L2, KC*NC*size ~ 0.5-0.75 MiB).
 * On Zen 3 (512 KiB of L2) the AVX2 float row ran the same within noise with KC x NC of
 * 256-384 x 128-384 and with narrow_m 256 (interleaved A/B, 128 x 784 x 512, 96-256 rows
 * and 1024^3, one thread), so one row serves the AVX2 CPUs of both cache sizes.
 * small_work (src_c/gemm_driver.h, small_product): measured on Zen 3 for AVX2 float,
 * where the row kernel overtakes the packed ones below about 2e4 multiply-adds; the
 * AVX-512 row kernel has the same structure. The double row kernel is the portable
 * loop, slower than packing at every size (32 x 32 x 16: 0.42x), so 0.
 * The AVX-512 float MC, 4,104 rows (6.3 MB of A~, in L3), is that large because B~ is
 * packed again for every block of MC rows: 1536 rows packed all of B twice on 2048^3 and
 * three times on 4096^3. Zen 4, C harness, builds alternated 6-12 times, medians, GFLOP/s:
 * 2048^3 91.7 -> 95.4 and 94.8 -> 95.6 on one thread, 4096^3 98.0 -> 100.8 (one thread)
 * and 184.7 -> 191.9 (two), 3000^3 96.4 -> 99.2; 60,000 x 128 x 784 (x.W^T) alike on one
 * and two threads.
 * (The double MC, 1024 -> 2048, measured the same within noise on 2048^3.)
 * NEON (AArch64): the tiles of BLIS's ARMv8 kernels, NEON pack routines and the portable
 * row kernels (so small_work 0, as for the generic row) and blocking sized for 64 KiB of L1
 * and 1 MiB of L2 (Neoverse N1/V1): KC x 12 floats of B per k-panel, 12 KiB, in L1 and
 * KC x NC, 480 KiB, in L2. Not yet timed on an ARM CPU: the cross-compiled kernels are
 * tested under emulation (tests/test_neon.py), which says nothing of speed. */
static const fnn_s_kernels s_tables[FNN_N_ISA] = {
    {4, 8, 1024, 256, 512, 16, 16, 0, fnn_sgemm_generic_4x8, fnn_s_pack_generic,
     fnn_s_gemm_few_rows, NULL, NULL, fnn_s_transpose_generic},
#ifdef FNN_GEMM_X86
    {6, 16, 1536, 384, 384, 64, 64, 20000, fnn_sgemm_avx2_6x16, fnn_s_pack_avx2,
     fnn_sgemv_avx2, NULL, NULL, fnn_s_transpose_generic},
    {12, 32, 4104, 384, 384, 64, 256, 20000, fnn_sgemm_avx512_12x32, fnn_s_pack_avx512,
     fnn_sgemv_avx512, fnn_sgemm_avx512_12x32_a_rows, fnn_sgemm_avx512_12x32_a_cols,
     fnn_s_transpose_avx512},
#elif defined(FNN_GEMM_ARM64)
    {8, 12, 1024, 256, 480, 16, 16, 0, fnn_sgemm_neon_8x12, fnn_s_pack_neon,
     fnn_s_gemm_few_rows, NULL, NULL, fnn_s_transpose_generic},
#endif
};

static const fnn_d_kernels d_tables[FNN_N_ISA] = {
    {4, 4, 512, 256, 256, 16, 16, 0, fnn_dgemm_generic_4x4, fnn_d_pack_generic,
     fnn_d_gemm_few_rows, NULL, NULL, fnn_d_transpose_generic},
#ifdef FNN_GEMM_X86
    {6, 8, 1020, 256, 240, 64, 64, 0, fnn_dgemm_avx2_6x8, fnn_d_pack_avx2,
     fnn_d_gemm_few_rows, NULL, NULL, fnn_d_transpose_generic},
    {8, 24, 1024, 256, 240, 64, 64, 0, fnn_dgemm_avx512_8x24, fnn_d_pack_avx512,
     fnn_d_gemm_few_rows, fnn_dgemm_avx512_8x24_a_rows, fnn_dgemm_avx512_8x24_a_cols,
     fnn_d_transpose_avx512},
#elif defined(FNN_GEMM_ARM64)
    {6, 8, 1020, 256, 240, 16, 16, 0, fnn_dgemm_neon_6x8, fnn_d_pack_neon,
     fnn_d_gemm_few_rows, NULL, NULL, fnn_d_transpose_generic},
#endif
};

const fnn_s_kernels *fnn_s_kernels_get(void) { return &s_tables[fnn_isa_index()]; }
const fnn_d_kernels *fnn_d_kernels_get(void) { return &d_tables[fnn_isa_index()]; }

void fnn_gemm_kernel_info(int double_precision, int64_t info[8])
{
    if (double_precision) {
        const fnn_d_kernels *t = fnn_d_kernels_get();
        int64_t v[8] = {t->mr, t->nr, t->mc, t->kc, t->nc, t->small_m, t->narrow_m,
                        t->small_work};
        memcpy(info, v, sizeof(v));
    } else {
        const fnn_s_kernels *t = fnn_s_kernels_get();
        int64_t v[8] = {t->mr, t->nr, t->mc, t->kc, t->nc, t->small_m, t->narrow_m,
                        t->small_work};
        memcpy(info, v, sizeof(v));
    }
}


int64_t fnn_gemm_row_strip(int double_precision, int64_t rows, int parts)
{
    int64_t mr = double_precision ? fnn_d_kernels_get()->mr : fnn_s_kernels_get()->mr;
    return fnn_strip_len(rows, mr, parts < 1 ? 1 : parts);
}
