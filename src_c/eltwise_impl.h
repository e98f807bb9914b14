/* The element-wise kernels for one real type and one ISA: included by eltwise_<isa>.c
 * once per dtype with REAL, FN(name), EXP, EXPM1, LOG1P, TANH, ERF, PHI (the normal CDF) and SQRT defined (it
 * undefines them at its end), and
 * compiled with that ISA's flags. The loops are written for the vectoriser: restrict
 * pointers, and every load unconditional (a load under a condition, `s > 0 ? g : 0`,
 * keeps GCC from vectorising the loop).
 *
 * act' is computed from the output y wherever that is exact, so the forward pass does
 * not have to keep the pre-activation; those whose row in fastnn/_codes.py says needs_z
 * (gelu, silu) take z (fnn_act_backward_needs_z). */

#include "fnn_codes.h"

#define SELU_SCALE ((REAL)1.0507009873554804934193349852946)
#define SELU_ALPHA ((REAL)1.6732632423543772848170429916717)

static inline REAL FN(sigmoid_of)(REAL z)
{
    /* e^-|z| <= 1 cannot overflow; both sides computed, then selected (vectorisable) */
    REAL e = EXP(z >= 0 ? -z : z);
    REAL r = (REAL)1 / ((REAL)1 + e);
    return z >= 0 ? r : e * r;
}

/* Each element-wise activation `name` of fastnn/_codes.py (but linear, the identity) is
 * two functions, which act_forward and act_backward below call through the X-macro
 * FNN_ACT_FUNCTIONS of the generated fnn_codes.h:
 *   FN(name_forward)(z, p)      act(z), p the parameter;
 *   FN(name_backward)(g, s, p)  g * act'(.) from s, the pre-activation z if the table
 *                               says needs_z, else the output y.
 * They are inlined into one loop per activation, which the vectoriser sees whole. */

static inline REAL FN(relu_forward)(REAL z, REAL p) { return z > 0 ? z : (REAL)0; }
static inline REAL FN(relu_backward)(REAL g, REAL s, REAL p) { return g * (REAL)(s > 0); }

/* p: the negative slope */
static inline REAL FN(leaky_relu_forward)(REAL z, REAL p) { return z > 0 ? z : p * z; }
static inline REAL FN(leaky_relu_backward)(REAL g, REAL s, REAL p)
{
    return g * (s > 0 ? (REAL)1 : p);
}

/* p: alpha. y < 0: y = a(e^z - 1), so dy/dz = a e^z = y + a */
static inline REAL FN(elu_forward)(REAL z, REAL p) { return z > 0 ? z : p * EXPM1(z); }
static inline REAL FN(elu_backward)(REAL g, REAL s, REAL p)
{
    return g * (s > 0 ? (REAL)1 : s + p);
}

static inline REAL FN(selu_forward)(REAL z, REAL p)
{
    return SELU_SCALE * (z > 0 ? z : SELU_ALPHA * EXPM1(z));
}
static inline REAL FN(selu_backward)(REAL g, REAL s, REAL p)
{
    return g * (s > 0 ? SELU_SCALE : s + SELU_SCALE * SELU_ALPHA);
}

/* the exact (erf) form, as Keras' default: z Phi(z), Phi = erfc(-z / sqrt 2) / 2,
 * relatively accurate where it is tiny; act' from z: Phi(z) + z phi(z) */
static inline REAL FN(gelu_forward)(REAL z, REAL p) { return z * PHI(z); }
static inline REAL FN(gelu_backward)(REAL g, REAL z, REAL p)
{
    REAL cdf = PHI(z);
    REAL pdf = (REAL)0.39894228040143267794 * EXP((REAL)-0.5 * z * z);
    return g * (cdf + z * pdf);
}

/* act' from z: s (1 + z (1 - s)) */
static inline REAL FN(silu_forward)(REAL z, REAL p) { return z * FN(sigmoid_of)(z); }
static inline REAL FN(silu_backward)(REAL g, REAL z, REAL p)
{
    REAL sg = FN(sigmoid_of)(z);
    return g * sg * ((REAL)1 + z * ((REAL)1 - sg));
}

static inline REAL FN(sigmoid_forward)(REAL z, REAL p) { return FN(sigmoid_of)(z); }
static inline REAL FN(sigmoid_backward)(REAL g, REAL y, REAL p)
{
    return g * y * ((REAL)1 - y);
}

/* relu6(z + 3) / 6, as Keras 3 */
static inline REAL FN(hard_sigmoid_forward)(REAL z, REAL p)
{
    REAL v = z / (REAL)6 + (REAL)0.5;
    return v < 0 ? (REAL)0 : (v > 1 ? (REAL)1 : v);
}
static inline REAL FN(hard_sigmoid_backward)(REAL g, REAL y, REAL p)
{
    return g * ((y > 0 && y < 1) ? (REAL)1 / 6 : (REAL)0);
}

static inline REAL FN(tanh_forward)(REAL z, REAL p) { return TANH(z); }
static inline REAL FN(tanh_backward)(REAL g, REAL y, REAL p) { return g * ((REAL)1 - y * y); }

/* act' = sigmoid(z) = 1 - exp(-softplus(z)) */
static inline REAL FN(softplus_forward)(REAL z, REAL p)
{
    return (z > 0 ? z : (REAL)0) + LOG1P(EXP(-(z > 0 ? z : -z)));
}
static inline REAL FN(softplus_backward)(REAL g, REAL y, REAL p) { return g * -EXPM1(-y); }

/* act' = 1 / (1 + |z|)^2 = (1 - |y|)^2 */
static inline REAL FN(softsign_forward)(REAL z, REAL p)
{
    return z / ((REAL)1 + (z > 0 ? z : -z));
}
static inline REAL FN(softsign_backward)(REAL g, REAL y, REAL p)
{
    REAL a = (REAL)1 - (y > 0 ? y : -y);
    return g * a * a;
}

static void FN(act_forward)(int act, double param, REAL *restrict x,
                             const REAL *restrict bias, int64_t n)
{
    const REAL p = (REAL)param;
    int64_t i;
    if (bias) {
        for (i = 0; i < n; i++) x[i] += bias[i];
    }
#define FNN_FORWARD_CASE(NAME, name, needs_z) \
    case FNN_ACT_##NAME: \
        for (i = 0; i < n; i++) x[i] = FN(name##_forward)(x[i], p); \
        break;
    switch (act) {
    case FNN_ACT_LINEAR:
        break;
    FNN_ACT_FUNCTIONS(FNN_FORWARD_CASE)
    }
#undef FNN_FORWARD_CASE
}

/* out may alias grad, so these two are not restrict; the loops are still vectorised,
 * behind GCC's run-time overlap check. */
static void FN(act_backward)(int act, double param, const REAL *grad, const REAL *s,
                             REAL *out, int64_t n)
{
    const REAL p = (REAL)param;
    int64_t i;
#define FNN_BACKWARD_CASE(NAME, name, needs_z) \
    case FNN_ACT_##NAME: \
        for (i = 0; i < n; i++) out[i] = FN(name##_backward)(grad[i], s[i], p); \
        break;
    switch (act) {
    case FNN_ACT_LINEAR:
        if (out != grad)
            for (i = 0; i < n; i++) out[i] = grad[i];
        break;
    FNN_ACT_FUNCTIONS(FNN_BACKWARD_CASE)
    }
#undef FNN_BACKWARD_CASE
}

/* ------------------------------------------------------------------ optimizers */

/* Keras Adam: m += (g - m) c1; v += (g^2 - v) c2; p := p - p wd - alpha m / (sqrt(v) + eps) */
static void FN(adam)(REAL *restrict p, const REAL *restrict g, REAL *restrict m,
                     REAL *restrict v, int64_t n, REAL alpha, REAL c1, REAL c2, REAL eps,
                     REAL wd)
{
    unsigned mode = fnn_flush_subnormals_begin(); /* decaying slots: fpmode.h */
    for (int64_t i = 0; i < n; i++) {
        REAL mi = m[i] + (g[i] - m[i]) * c1;
        REAL vi = v[i] + (g[i] * g[i] - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        p[i] = (p[i] - p[i] * wd) - alpha * mi / (SQRT(vi) + eps);
    }
    fnn_flush_subnormals_end(mode);
}

/* Keras RMSprop: v := rho v + (1 - rho) g^2; p := p - p wd - lr g / sqrt(v + eps) */
static void FN(rmsprop)(REAL *restrict p, const REAL *restrict g, REAL *restrict velocity,
                        int64_t n, REAL lr, REAL rho, REAL eps, REAL wd)
{
    unsigned mode = fnn_flush_subnormals_begin();
    for (int64_t i = 0; i < n; i++) {
        REAL vi = rho * velocity[i] + ((REAL)1 - rho) * g[i] * g[i];
        velocity[i] = vi;
        p[i] = (p[i] - p[i] * wd) - lr * g[i] / SQRT(vi + eps);
    }
    fnn_flush_subnormals_end(mode);
}

/* ------------------------------------------------------------------ dropout, sums */

/* keep := Philox mask of elements start.. start+n; out := x * keep * scale */
static void FN(dropout_forward)(const REAL *restrict x, REAL *restrict out,
                                uint8_t *restrict keep, int64_t start, int64_t n,
                                uint64_t seed, uint32_t layer, uint32_t step,
                                uint32_t threshold, double scale)
{
    const REAL sc = (REAL)scale;
    ISA_FN(dropout_keep)(seed, layer, step, threshold, start, n, keep);
    for (int64_t i = 0; i < n; i++) {
        REAL v = x[i] * sc;
        out[i] = keep[i] ? v : (REAL)0;
    }
}

/* out := grad * keep * scale, and with a fused activation (act >= 0) also * act'(saved):
 * the backward of Dense(act) -> Dropout in one call, whose second loop reads the chunk
 * the first one just wrote, from cache. out may alias grad. */
static void FN(dropout_backward)(const REAL *grad, const uint8_t *restrict keep,
                                 const REAL *saved, int act, double param, double scale,
                                 REAL *out, int64_t n)
{
    const REAL sc = (REAL)scale;
    for (int64_t i = 0; i < n; i++) {
        REAL v = grad[i] * sc;
        out[i] = keep[i] ? v : (REAL)0;
    }
    if (act >= 0)
        FN(act_backward)(act, param, out, saved, out, n);
}

/* out[j] := sum over rows i of x[i * ld + j], j < n_cols: rows added in order, so the
 * sum has the same bits however the columns are split over threads. */
static void FN(col_sums)(const REAL *restrict x, int64_t n_rows, int64_t n_cols, int64_t ld,
                         REAL *restrict out)
{
    for (int64_t j = 0; j < n_cols; j++)
        out[j] = 0;
    for (int64_t i = 0; i < n_rows; i++) {
        const REAL *restrict row = x + i * ld;
        for (int64_t j = 0; j < n_cols; j++)
            out[j] += row[j];
    }
}

/* How many of the n values at x are NaN or infinite. x - x is 0 for a finite x and NaN
 * otherwise, a test the vectoriser turns into a subtract and a compare per vector, where
 * isfinite() stays scalar; counted in blocks, so the counter stays 32-bit lanes for
 * float. */
static int64_t FN(count_nonfinite)(const REAL *restrict x, int64_t n)
{
    int64_t total = 0;
    for (int64_t lo = 0; lo < n; lo += 4096) {
        int64_t hi = n - lo < 4096 ? n : lo + 4096;
        int bad = 0;
        for (int64_t i = lo; i < hi; i++)
            bad += !(x[i] - x[i] == 0);
        total += bad;
    }
    return total;
}

/* C (m x n, ldc) := A B (+ bias) (relu), B row-major (k x n, ldb), element (i, p) of A at
 * a[i*rs_a + p*cs_a]: the fnn_*_rows_t of ISAs without a hand-written one (the few rows
 * of a single-sample predict, products too small to pack). Each row of C is accumulated
 * in place (it stays in L1) while the rows of B stream past in order, which the
 * prefetchers follow; keeping column blocks of C in registers instead measured 30 %
 * slower (B then streams in strided halves). */
static void FN(gemm_few_rows)(int64_t m, int64_t n, int64_t k, const REAL *restrict a,
                              int64_t rs_a, int64_t cs_a, const REAL *restrict b,
                              int64_t ldb, REAL *restrict c, int64_t ldc,
                              const REAL *restrict bias, int relu)
{
    for (int64_t i = 0; i < m; i++) {
        REAL *restrict row = c + i * ldc;
        for (int64_t j = 0; j < n; j++)
            row[j] = 0;
        for (int64_t p = 0; p < k; p++) {
            const REAL aip = a[i * rs_a + p * cs_a];
            const REAL *restrict brow = b + p * ldb;
            for (int64_t j = 0; j < n; j++)
                row[j] += aip * brow[j];
        }
        if (bias)
            for (int64_t j = 0; j < n; j++)
                row[j] += bias[j];
        if (relu) /* NaN -> 0 as the activations do */
            for (int64_t j = 0; j < n; j++)
                row[j] = row[j] > 0 ? row[j] : (REAL)0;
    }
}

/* Each of n_rows rows of x (row stride ld) := exp(row - max(row)) in place, top[i] := row
 * i's maximum and total[i] := the sum of its exps in order, in double: the shared part of
 * softmax_rows and the fused softmax cross-entropy (fastnn/_kernels/losses.pxi).
 *
 * The maxima first, then the exps of all the rows as one loop over their elements, which
 * vectorises even when a row is shorter than a vector (a classifier's 10 classes; row by
 * row, 1024 x 10 took 45 us on Zen 4, 4.4 ns an element, most of it in scalar exps). Each
 * element is still exp(x - max) of its row, so the bits are those of a row-by-row loop. */
static void FN(exp_rows)(REAL *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                         REAL *restrict top, double *restrict total)
{
    for (int64_t i = 0; i < n_rows; i++) {
        REAL *restrict row = x + i * ld;
        REAL t = row[0];
        for (int64_t j = 1; j < n_cols; j++)
            t = row[j] > t ? row[j] : t;
        top[i] = t;
        for (int64_t j = 0; j < n_cols; j++)
            row[j] -= t;
    }
    if (ld == n_cols) {
        REAL *restrict all = x;
        const int64_t len = n_rows * n_cols;
        for (int64_t q = 0; q < len; q++)
            all[q] = EXP(all[q]);
    } else {
        for (int64_t i = 0; i < n_rows; i++) {
            REAL *restrict row = x + i * ld;
            for (int64_t j = 0; j < n_cols; j++)
                row[j] = EXP(row[j]);
        }
    }
    for (int64_t i = 0; i < n_rows; i++) {
        const REAL *restrict row = x + i * ld;
        double sum = 0.0; /* in order: a float reduction would not vectorise anyway */
        for (int64_t j = 0; j < n_cols; j++)
            sum += row[j];
        total[i] = sum;
    }
}

/* Each of n_rows rows of x (row stride ld) := softmax(row), or log_softmax(row) with
 * log_out, in place; stable for any logit (the row maximum is subtracted first).
 * softmax goes in blocks of rows through exp_rows. */
static void FN(softmax_rows)(REAL *x, int64_t n_rows, int64_t n_cols, int64_t ld,
                             int log_out)
{
    enum { BLOCK = 64 };
    REAL top[BLOCK];
    double total[BLOCK];
    if (log_out) {
        for (int64_t i = 0; i < n_rows; i++) {
            REAL *restrict row = x + i * ld;
            REAL t = row[0];
            for (int64_t j = 1; j < n_cols; j++)
                t = row[j] > t ? row[j] : t;
            double sum = 0.0;
            for (int64_t j = 0; j < n_cols; j++)
                sum += EXP(row[j] - t);
            /* (z - max) - log(sum), as Keras: max + log(sum) would round to the ulp of
             * the maximum, all of log_softmax's value for a dominant logit */
            const REAL lse = (REAL)log(sum);
            for (int64_t j = 0; j < n_cols; j++)
                row[j] = (row[j] - t) - lse;
        }
        return;
    }
    for (int64_t r0 = 0; r0 < n_rows; r0 += BLOCK) {
        const int64_t nb = n_rows - r0 < BLOCK ? n_rows - r0 : BLOCK;
        REAL *blk = x + r0 * ld;
        FN(exp_rows)(blk, nb, n_cols, ld, top, total);
        for (int64_t i = 0; i < nb; i++) {
            REAL *restrict row = blk + i * ld;
            const REAL scale = (REAL)(1.0 / total[i]);
            for (int64_t j = 0; j < n_cols; j++)
                row[j] *= scale;
        }
    }
}

#undef SELU_SCALE
#undef SELU_ALPHA

/* the template's parameters, defined again by the next inclusion */
#undef REAL
#undef FN
#undef EXP
#undef EXPM1
#undef LOG1P
#undef TANH
#undef ERF
#undef PHI
#undef SQRT
