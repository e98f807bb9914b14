/* Prefetching the source of the block of A that the GEMM driver (src_c/gemm_driver.h)
 * packs next, a few cache lines after each micro-kernel call of the current block, so
 * that the pack finds it in cache instead of waiting on memory line by line.
 *
 * Taken for an A of at least FNN_AHEAD_MIN_BYTES (taken to come from memory, not from a
 * core's L2) when the next block is at most FNN_AHEAD_MAX_BYTES. Zen 4, against no
 * prefetch, alternating processes, by a thread's block: 0.61 MB (60,000 x 784 x 128
 * x^T dZ, 2 threads: 157 k-blocks from memory) 8-19 % faster in three runs; 0.54 MB
 * (predict chunks of 1,024 rows, 2 threads) 0-7 %; 1.07-1.2 MB (the same on 1 thread) +1
 * to -5 %; 1.6 MB (60,000 x 784 x 128 x W, MC x KC) 4.5 % slower on 1 thread and 10 % on
 * 2, the prefetched lines pushing the packed blocks out of L2. Prefetching each slice of
 * four panels just before packing it instead gained nothing, and lost 14 % on a
 * transposed A, whose slices are kc runs of one line.
 *
 * Prefetches never fault and change no result. */
#ifndef FASTNN_GEMM_AHEAD_H
#define FASTNN_GEMM_AHEAD_H

#include <stdint.h>

#define FNN_AHEAD_MIN_BYTES (2 << 20)
#define FNN_AHEAD_MAX_BYTES (3 << 18)

/* `rows` runs of `len` bytes, `stride` bytes apart, walked line by line. */
typedef struct {
    const char *row;
    int64_t stride, len, rows, off, per_call;
} ahead_t;

/* Starts the walk over the runs at src, spread over `calls` calls of ahead_some. */
static void ahead_start(ahead_t *ah, const void *src, int64_t rows, int64_t len,
                        int64_t stride, int64_t calls)
{
    ah->row = (const char *)src;
    ah->rows = rows;
    ah->len = len;
    ah->stride = stride;
    ah->off = -(int64_t)((uintptr_t)ah->row & 63); /* from the line holding the first byte */
    int64_t lines = rows * (len / 64 + 2);
    ah->per_call = calls > 0 ? (lines + calls - 1) / calls : lines;
}

/* Prefetches the walk's next per_call lines (into L2). */
static inline void ahead_some(ahead_t *ah)
{
    for (int64_t n = ah->per_call; n > 0 && ah->rows > 0; n--) {
        __builtin_prefetch(ah->row + ah->off, 0, 1);
        ah->off += 64;
        if (ah->off >= ah->len) {
            ah->row += ah->stride;
            ah->off = -(int64_t)((uintptr_t)ah->row & 63);
            ah->rows--;
        }
    }
}

#endif
