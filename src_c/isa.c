/* Which instruction set this CPU and OS can run. On x86-64, CPUID + XCR0 (the OS must
 * save the vector registers) decide; on AArch64 it is NEON, which every AArch64 CPU has
 * (Advanced SIMD is part of ARMv8-A). FASTNN_ISA=generic|avx2|avx512 (x86-64) or
 * generic|neon (AArch64) forces one (an unavailable choice falls back to the best
 * available one, silently).
 *
 * Every extension module that links this file keeps its own choice; all of them make
 * it from the same CPU and environment, so they agree.
 *
 * This file is compiled with the baseline flags: it must run on any CPU.
 */
#include <stdlib.h>
#include <string.h>

#include "fastnn.h"
#include "isa.h"

#if defined(FNN_X86)
static const char *const isa_names[FNN_N_ISA] = {"generic", "avx2", "avx512"};
#elif defined(FNN_ARM64)
static const char *const isa_names[FNN_N_ISA] = {"generic", "neon"};
#else
static const char *const isa_names[FNN_N_ISA] = {"generic"};
#endif

#ifdef FNN_X86
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
        return FNN_ISA_GENERIC;
    cpuid(1, 0, r);
    int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
    if (!(osxsave && avx && fma))
        return FNN_ISA_GENERIC;
    unsigned long long x = xcr0();
    if ((x & 0x6) != 0x6)
        return FNN_ISA_GENERIC;
    cpuid(7, 0, r);
    unsigned ebx = r[1];
    if (!((ebx >> 5) & 1))
        return FNN_ISA_GENERIC;
    /* F, DQ, BW, VL, and the OS saving opmask + all 32 zmm registers */
    unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((ebx & need) == need && (x & 0xE6) == 0xE6)
        return FNN_ISA_AVX512;
    return FNN_ISA_AVX2;
}

/* AVX512_VNNI: CPUID.7.0 ECX bit 11 (on top of the AVX-512 state); AVX-VNNI:
 * CPUID.7.1 EAX bit 4 (on top of AVX2's) */
static unsigned detect_dot(int best)
{
    unsigned r[4], dot = 0;
    if (best < FNN_ISA_AVX2)
        return 0;
    cpuid(7, 0, r);
    if (best >= FNN_ISA_AVX512 && ((r[2] >> 11) & 1))
        dot |= FNN_DOT_AVX512VNNI;
    cpuid(7, 1, r);
    if ((r[0] >> 4) & 1)
        dot |= FNN_DOT_AVXVNNI;
    return dot;
}
#elif defined(FNN_ARM64)
static int detect_best(void) { return FNN_ISA_NEON; }
#if defined(__linux__)
#include <sys/auxv.h>
/* HWCAP_ASIMDDP: the ARMv8.2 dot-product instructions */
static unsigned detect_dot(int best)
{
    (void)best;
    return (getauxval(AT_HWCAP) & (1ul << 20)) ? FNN_DOT_NEON_SDOT : 0;
}
#elif defined(__APPLE__)
static unsigned detect_dot(int best) { (void)best; return FNN_DOT_NEON_SDOT; } /* M1 on */
#else
static unsigned detect_dot(int best) { (void)best; return 0; }
#endif
#else
static int detect_best(void) { return FNN_ISA_GENERIC; }
static unsigned detect_dot(int best) { (void)best; return 0; }
#endif

static int best_isa = -1;
static int current_isa = -1;

static int isa_index(const char *name)
{
    for (int i = 0; i < FNN_N_ISA; i++)
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

int fnn_isa_index(void) { return current(); }

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

/* AVX512_BF16 (CPUID.(7,1):EAX[5]) on a CPU whose AVX-512 the OS saves (src_c/bf16.h). */
int fnn_cpu_has_avx512bf16(void)
{
#ifdef FNN_X86
    unsigned r[4];
    current();
    if (best_isa < FNN_ISA_AVX512)
        return 0;
    cpuid(7, 0, r);
    if (r[0] < 1)
        return 0;
    cpuid(7, 1, r);
    return (int)((r[0] >> 5) & 1);
#else
    return 0;
#endif
}

unsigned fnn_isa_dot_features(void)
{
    static int dot = -1;
    if (dot < 0)
        dot = (int)detect_dot(detect_best());
    return (unsigned)dot;
}
