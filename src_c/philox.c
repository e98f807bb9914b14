/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 * A counter-based generator: each output is a pure function of (counter, key), so a
 * dropout mask is the same whatever the thread count, the ISA or the backend. */
#include "fastnn.h"
#include "philox_constants.h"

static inline void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t c0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0];
    uint32_t c2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1];
    c[1] = (uint32_t)p1;
    c[3] = (uint32_t)p0;
    c[0] = c0;
    c[2] = c2;
}

void fnn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    out[0] = c[0]; out[1] = c[1]; out[2] = c[2]; out[3] = c[3];
}

void fnn_dropout_keep(uint64_t seed, uint32_t layer, uint32_t step, uint32_t threshold,
                      int64_t start, int64_t n, uint8_t *keep)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int64_t i = 0;
    while (i < n) {
        int64_t e = start + i;
        uint64_t block = (uint64_t)e >> 2;
        uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), layer, step};
        uint32_t words[4];
        fnn_philox4x32_10(ctr, key, words);
        for (int w = (int)(e & 3); w < 4 && i < n; w++, i++)
            keep[i] = words[w] >= threshold;
    }
}
