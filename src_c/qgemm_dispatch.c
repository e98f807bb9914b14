/* The int8 kernels of each ISA, as data, and the one in use: the best kernel the ISA in
 * use (src_c/isa.c, FASTNN_ISA included) can run with the CPU's dot-product instructions
 * (fnn_isa_dot_features), unless fnn_q8_set_kernel chose one (tests).
 * Blocking: MC rows of x are quantized at a time, MC x k bytes of A (192 x 784: 150 KB,
 * in Zen 4's 1 MiB L2) read once per panel of B~ (NR x k bytes, in L1 for k <= ~1000).
 * Baseline flags: it must run on any CPU. */
#include <string.h>

#include "isa.h"
#include "qgemm.h"
#include "qgemm_api.h"

enum { K_GENERIC, K_AVX2, K_AVX2VNNI, K_AVX512VNNI, K_NEON_SDOT, N_KERNELS };

static const fnn_q8_kernels tables[N_KERNELS] = {
    {"generic", 4, 8, 4, 1, 1, 0, 256, fnn_q8_ukr_generic_4x8, fnn_q8_quant_generic,
     fnn_q8_copy_s8, fnn_q8_pack_s8},
#if defined(__x86_64__) || defined(_M_X64)
    {"avx2", 6, 16, 2, 2, 2, 0, 192, fnn_q8_ukr_avx2_6x16, fnn_q8_quant_avx2_s16,
     fnn_q8_copy_s16, fnn_q8_pack_s16},
    {"avx2vnni", 6, 16, 4, 1, 1, 128, 192, fnn_q8_ukr_avx2vnni_6x16, fnn_q8_quant_avx2_u8,
     fnn_q8_copy_u8, fnn_q8_pack_s8},
    {"avx512vnni", 12, 32, 4, 1, 1, 128, 192, fnn_q8_ukr_avx512vnni_12x32,
     fnn_q8_quant_avx512_u8, fnn_q8_copy_u8, fnn_q8_pack_s8},
#else
    {"avx2", 0}, {"avx2vnni", 0}, {"avx512vnni", 0},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {"neon_sdot", 8, 12, 4, 1, 1, 0, 256, fnn_q8_ukr_neon_sdot_8x12, fnn_q8_quant_generic,
     fnn_q8_copy_s8, fnn_q8_pack_s8},
#else
    {"neon_sdot", 0},
#endif
};

static int available(int kernel)
{
    unsigned dot = fnn_isa_dot_features();
    switch (kernel) {
    case K_GENERIC:
        return 1;
    case K_AVX2:
        return tables[K_AVX2].ukr != NULL && fnn_isa_available("avx2");
    case K_AVX2VNNI:
        return tables[K_AVX2VNNI].ukr != NULL && (dot & FNN_DOT_AVXVNNI);
    case K_AVX512VNNI:
        return tables[K_AVX512VNNI].ukr != NULL && (dot & FNN_DOT_AVX512VNNI);
    case K_NEON_SDOT:
        return tables[K_NEON_SDOT].ukr != NULL && (dot & FNN_DOT_NEON_SDOT);
    }
    return 0;
}

/* the best kernel of the ISA in use: a forced FASTNN_ISA=avx2 leaves the AVX-512 kernel
 * out, as it does the AVX-512 float kernels */
static int automatic(void)
{
    const char *isa = fnn_isa_name();
    if (strcmp(isa, "avx512") == 0 && available(K_AVX512VNNI))
        return K_AVX512VNNI;
    if (strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0)
        return available(K_AVX2VNNI) ? K_AVX2VNNI : K_AVX2;
    if (strcmp(isa, "neon") == 0 && available(K_NEON_SDOT))
        return K_NEON_SDOT;
    return K_GENERIC;
}

static int chosen = -1; /* fnn_q8_set_kernel's choice, or -1 */

static int kernel_index(const char *name)
{
    for (int i = 0; name != NULL && i < N_KERNELS; i++)
        if (strcmp(name, tables[i].name) == 0)
            return i;
    return -1;
}

const fnn_q8_kernels *fnn_q8_kernels_get(void)
{
    return &tables[chosen >= 0 ? chosen : automatic()];
}

const char *fnn_q8_kernel_name(void) { return fnn_q8_kernels_get()->name; }

int fnn_q8_kernel_available(const char *name)
{
    int i = kernel_index(name);
    return i >= 0 && available(i);
}

int fnn_q8_set_kernel(const char *name)
{
    if (name == NULL) {
        chosen = -1;
        return 0;
    }
    if (!fnn_q8_kernel_available(name))
        return -1;
    chosen = kernel_index(name);
    return 0;
}
