/* Optimizer updates on a contiguous chunk, for one real type: included by optim.c with
 * REAL, FN(name) and SQRT defined. Pointers are restrict so the compiler vectorises. */

void FN(adam)(REAL *restrict p, const REAL *restrict g, REAL *restrict m,
              REAL *restrict v, int64_t n, REAL alpha, REAL c1, REAL c2, REAL eps, REAL wd)
{
    for (int64_t i = 0; i < n; i++) {
        REAL mi = m[i] + (g[i] - m[i]) * c1;
        REAL vi = v[i] + (g[i] * g[i] - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        p[i] = (p[i] - p[i] * wd) - alpha * mi / (SQRT(vi) + eps);
    }
}

void FN(rmsprop)(REAL *restrict p, const REAL *restrict g, REAL *restrict velocity,
                 int64_t n, REAL lr, REAL rho, REAL eps, REAL wd)
{
    for (int64_t i = 0; i < n; i++) {
        REAL vi = rho * velocity[i] + ((REAL)1 - rho) * g[i] * g[i];
        velocity[i] = vi;
        p[i] = (p[i] - p[i] * wd) - lr * g[i] / SQRT(vi + eps);
    }
}
