/* The instruction sets fastnn has kernels for, and the one in use (src_c/isa.c).
 * Internal to src_c/: the public interface is fnn_isa_name / fnn_set_isa in fastnn.h. */
#ifndef FASTNN_ISA_H
#define FASTNN_ISA_H

#if defined(__x86_64__) || defined(_M_X64)
#define FNN_X86 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define FNN_ARM64 1
#endif

/* Ordered: a CPU that runs one also runs every one before it. */
#if defined(FNN_X86)
enum { FNN_ISA_GENERIC, FNN_ISA_AVX2, FNN_ISA_AVX512, FNN_N_ISA };
#elif defined(FNN_ARM64)
enum { FNN_ISA_GENERIC, FNN_ISA_NEON, FNN_N_ISA };
#else
enum { FNN_ISA_GENERIC, FNN_N_ISA };
#endif

/* The index of the ISA in use, chosen on first call. */
int fnn_isa_index(void);

/* The int8 dot-product instructions this CPU and OS can run, as FNN_DOT_* bits (the int8
 * GEMM's dispatch, src_c/qgemm_dispatch.c). */
enum { FNN_DOT_AVX512VNNI = 1, FNN_DOT_AVXVNNI = 2, FNN_DOT_NEON_SDOT = 4 };
unsigned fnn_isa_dot_features(void);

#endif /* FASTNN_ISA_H */
