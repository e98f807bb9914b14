/* Portable float micro-kernel, 4 x 8 tile: the fallback on any CPU and the test oracle
 * for the vector kernels. Plain C; the compiler vectorises it with the baseline ISA. */
#include "gemm_internal.h"
#include "gemm_tile.h"

#define MR 4
#define NR 8

FNN_DEFINE_TILE_STORE(store_tile, float)

void fnn_sgemm_generic_4x8(int64_t k, const float *a, const float *b, int64_t rs_b,
                           float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                           const float *bias, int relu)
{
    float acc[MR * NR] = {0};
    for (int64_t p = 0; p < k; p++) {
        const float *ap = a + p * MR;
        const float *bp = b + p * rs_b;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i * NR + j] += ap[i] * bp[j];
    }
    store_tile(acc, NR, c, ldc, alpha, beta, mr, nr, bias, relu);
}
