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

#endif /* FASTNN_ISA_H */
