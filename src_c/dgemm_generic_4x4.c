/* Portable double micro-kernel, 4 x 4 tile: the fallback on any CPU and the test oracle
 * for the vector kernels. Plain C; the compiler vectorises it with the baseline ISA. */
#include "gemm_internal.h"
#include "gemm_tile.h"

#define MR 4
#define NR 4

FNN_DEFINE_TILE_STORE(store_tile, double)

void fnn_dgemm_generic_4x4(int64_t k, const double *a, const double *b, int64_t rs_b,
                           double *c, int64_t ldc, double alpha, double beta, int mr,
                           int nr, const double *bias, int relu)
{
    double acc[MR * NR] = {0};
    for (int64_t p = 0; p < k; p++) {
        const double *ap = a + p * MR;
        const double *bp = b + p * rs_b;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i * NR + j] += ap[i] * bp[j];
    }
    store_tile(acc, NR, c, ldc, alpha, beta, mr, nr, bias, relu);
}
