/* Run-time choice of the GEMM kernels: CPUID + XCR0 decide which ISA this CPU and OS
 * can run; FASTNN_ISA=generic|avx2|avx512 forces one (an unavailable choice falls back
 * to the best available one, silently). The tables hold the kernels and the blocking
 * of each ISA as data, so adding an ISA is adding a row.
 *
 * This file is compiled with the baseline flags: it must run on any CPU.
 */
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"

enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512, N_ISA };

static const char *const isa_names[N_ISA] = {"generic", "avx2", "avx512"};

/* Blocking: MC rows of A~ (L3), KC, NC columns of B~ (L2, KC*NC*size ~ 0.5-0.75 MiB). */
static const fnn_s_kernels s_tables[N_ISA] = {
    {4, 8, 1024, 256, 512, 16, fnn_sgemm_generic_4x8, fnn_s_pack_generic},
#ifdef FNN_GEMM_X86
    {6, 16, 1536, 384, 384, 64, fnn_sgemm_avx2_6x16, fnn_s_pack_avx2},
    {12, 32, 1536, 384, 384, 64, fnn_sgemm_avx512_12x32, fnn_s_pack_avx512},
#endif
};

static const fnn_d_kernels d_tables[N_ISA] = {
    {4, 4, 512, 256, 256, 16, fnn_dgemm_generic_4x4, fnn_d_pack_generic},
#ifdef FNN_GEMM_X86
    {6, 8, 1020, 256, 240, 64, fnn_dgemm_avx2_6x8, fnn_d_pack_avx2},
    {8, 24, 1024, 256, 240, 64, fnn_dgemm_avx512_8x24, fnn_d_pack_avx512},
#endif
};

#ifdef FNN_GEMM_X86
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
static void cpuid(int leaf, int sub, unsigned r[4])
{
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++)
        r[i] = (unsigned)v[i];
}
static unsigned long long xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(int leaf, int sub, unsigned r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
/* xgetbv spelled as bytes: old assemblers do not know the mnemonic */
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static int detect_best(void)
{
    unsigned r[4];
    cpuid(0, 0, r);
    if (r[0] < 7)
        return ISA_GENERIC;
    cpuid(1, 0, r);
    int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
    if (!(osxsave && avx && fma))
        return ISA_GENERIC;
    unsigned long long x = xcr0();
    if ((x & 0x6) != 0x6)
        return ISA_GENERIC;
    cpuid(7, 0, r);
    unsigned ebx = r[1];
    if (!((ebx >> 5) & 1))
        return ISA_GENERIC;
    /* F, DQ, BW, VL, and the OS saving opmask + all 32 zmm registers */
    unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((ebx & need) == need && (x & 0xE6) == 0xE6)
        return ISA_AVX512;
    return ISA_AVX2;
}
#else
static int detect_best(void) { return ISA_GENERIC; }
#endif

static int best_isa = -1;
static int current_isa = -1;

static int isa_index(const char *name)
{
    for (int i = 0; i < N_ISA; i++)
        if (name != NULL && strcmp(name, isa_names[i]) == 0)
            return i;
    return -1;
}

/* Idempotent, so a race between two first callers is harmless. */
static int current(void)
{
    if (current_isa < 0) {
        int best = detect_best();
        int want = isa_index(getenv("FASTNN_ISA"));
        best_isa = best;
        current_isa = (want >= 0 && want <= best) ? want : best;
    }
    return current_isa;
}

const fnn_s_kernels *fnn_s_kernels_get(void) { return &s_tables[current()]; }
const fnn_d_kernels *fnn_d_kernels_get(void) { return &d_tables[current()]; }

void fnn_gemm_kernel_info(int double_precision, int64_t info[6])
{
    if (double_precision) {
        const fnn_d_kernels *t = fnn_d_kernels_get();
        int64_t v[6] = {t->mr, t->nr, t->mc, t->kc, t->nc, t->small_m};
        memcpy(info, v, sizeof(v));
    } else {
        const fnn_s_kernels *t = fnn_s_kernels_get();
        int64_t v[6] = {t->mr, t->nr, t->mc, t->kc, t->nc, t->small_m};
        memcpy(info, v, sizeof(v));
    }
}

const char *fnn_isa_name(void) { return isa_names[current()]; }

int fnn_isa_available(const char *name)
{
    current();
    int i = isa_index(name);
    return i >= 0 && i <= best_isa;
}

int fnn_set_isa(const char *name)
{
    if (!fnn_isa_available(name))
        return -1;
    current_isa = isa_index(name);
    return 0;
}
