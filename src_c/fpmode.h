/* Flushing subnormal floats to zero inside a kernel, and restoring the caller's mode.
 *
 * An optimizer slot whose gradient stays 0 (a dead ReLU unit, an input pixel that is
 * always 0) decays geometrically: Adam's m by beta_1 each step reaches the subnormal
 * range (< 1.2e-38 in float32) after about 800 steps. Arithmetic on subnormals is
 * slow on x86 (a T1 Adam update took 57 us instead of 35 with 3/4 of m subnormal), and
 * their contribution to an update (below 1e-31) is far under float32's resolution of
 * any weight. TensorFlow flushes them in all its kernels for the same reason.
 *
 * The mode is per thread and is put back before the kernel returns, so code that shares
 * the thread (numpy, another library's OpenMP pool) never sees it. */
#ifndef FASTNN_FPMODE_H
#define FASTNN_FPMODE_H

#if defined(__SSE__) || defined(_M_X64) || defined(__x86_64__)
#include <xmmintrin.h>
/* MXCSR bits: FTZ (15) flushes subnormal results, DAZ (6) reads subnormal inputs as 0 */
#define FNN_MXCSR_FLUSH 0x8040u

static inline unsigned fnn_flush_subnormals_begin(void)
{
    unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | FNN_MXCSR_FLUSH);
    return saved;
}

static inline void fnn_flush_subnormals_end(unsigned saved) { _mm_setcsr(saved); }
#else
/* elsewhere the arithmetic is unchanged: subnormals are kept and computed exactly */
static inline unsigned fnn_flush_subnormals_begin(void) { return 0; }
static inline void fnn_flush_subnormals_end(unsigned saved) { (void)saved; }
#endif

#endif
