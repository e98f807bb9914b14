/* The instruction sets fastnn has kernels for, and the one in use (src_c/isa.c).
 * Internal to src_c/: the public interface is fnn_isa_name / fnn_set_isa in fastnn.h. */
#ifndef FASTNN_ISA_H
#define FASTNN_ISA_H

#if defined(__x86_64__) || defined(_M_X64)
#define FNN_X86 1
#endif

/* Ordered: a CPU that runs one also runs every one before it. */
enum { FNN_ISA_GENERIC, FNN_ISA_AVX2, FNN_ISA_AVX512, FNN_N_ISA };

/* The index of the ISA in use, chosen on first call. */
int fnn_isa_index(void);

#endif /* FASTNN_ISA_H */
