/* Element-wise activations for one real type, included by activations.c once per dtype
 * with REAL, FN(name), EXP, EXPM1, LOG1P, TANH, ERF, SQRT defined.
 * act' is computed from the output y wherever that is exact, so the forward pass does
 * not have to keep the pre-activation; gelu and silu need z (fnn_act_backward_needs_z). */

#define SELU_SCALE ((REAL)1.0507009873554804934193349852946)
#define SELU_ALPHA ((REAL)1.6732632423543772848170429916717)

static inline REAL FN(sigmoid)(REAL z)
{
    /* never exponentiates a positive number, so it cannot overflow */
    if (z >= 0) return (REAL)1 / ((REAL)1 + EXP(-z));
    REAL e = EXP(z);
    return e / ((REAL)1 + e);
}

void FN(act_forward)(int act, double param, REAL *x, const REAL *bias, int64_t n)
{
    const REAL p = (REAL)param;
    int64_t i;
    if (bias) {
        for (i = 0; i < n; i++) x[i] += bias[i];
    }
    switch (act) {
    case FNN_ACT_LINEAR:
        break;
    case FNN_ACT_RELU:
        for (i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : (REAL)0;
        break;
    case FNN_ACT_LEAKY_RELU:
        for (i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : p * x[i];
        break;
    case FNN_ACT_ELU:
        for (i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : p * EXPM1(x[i]);
        break;
    case FNN_ACT_SELU:
        for (i = 0; i < n; i++)
            x[i] = SELU_SCALE * (x[i] > 0 ? x[i] : SELU_ALPHA * EXPM1(x[i]));
        break;
    case FNN_ACT_GELU:
        for (i = 0; i < n; i++)
            x[i] = (REAL)0.5 * x[i] * ((REAL)1 + ERF(x[i] * (REAL)0.70710678118654752440));
        break;
    case FNN_ACT_SILU:
        for (i = 0; i < n; i++) x[i] = x[i] * FN(sigmoid)(x[i]);
        break;
    case FNN_ACT_SIGMOID:
        for (i = 0; i < n; i++) x[i] = FN(sigmoid)(x[i]);
        break;
    case FNN_ACT_HARD_SIGMOID:
        for (i = 0; i < n; i++) {
            REAL v = x[i] / (REAL)6 + (REAL)0.5;
            x[i] = v < 0 ? (REAL)0 : (v > 1 ? (REAL)1 : v);
        }
        break;
    case FNN_ACT_TANH:
        for (i = 0; i < n; i++) x[i] = TANH(x[i]);
        break;
    case FNN_ACT_SOFTPLUS:
        for (i = 0; i < n; i++) {
            REAL z = x[i];
            x[i] = (z > 0 ? z : (REAL)0) + LOG1P(EXP(-(z > 0 ? z : -z)));
        }
        break;
    case FNN_ACT_SOFTSIGN:
        for (i = 0; i < n; i++) x[i] = x[i] / ((REAL)1 + (x[i] > 0 ? x[i] : -x[i]));
        break;
    }
}

void FN(act_backward)(int act, double param, const REAL *grad, const REAL *s, REAL *out,
                      int64_t n)
{
    const REAL p = (REAL)param;
    int64_t i;
    switch (act) {
    case FNN_ACT_LINEAR:
        if (out != grad)
            for (i = 0; i < n; i++) out[i] = grad[i];
        break;
    case FNN_ACT_RELU:
        for (i = 0; i < n; i++) out[i] = s[i] > 0 ? grad[i] : (REAL)0;
        break;
    case FNN_ACT_LEAKY_RELU:
        for (i = 0; i < n; i++) out[i] = s[i] > 0 ? grad[i] : p * grad[i];
        break;
    case FNN_ACT_ELU:     /* y < 0: y = a(e^z - 1), so dy/dz = a e^z = y + a */
        for (i = 0; i < n; i++) out[i] = grad[i] * (s[i] > 0 ? (REAL)1 : s[i] + p);
        break;
    case FNN_ACT_SELU:
        for (i = 0; i < n; i++)
            out[i] = grad[i] * (s[i] > 0 ? SELU_SCALE : s[i] + SELU_SCALE * SELU_ALPHA);
        break;
    case FNN_ACT_GELU:    /* from z: Phi(z) + z phi(z) */
        for (i = 0; i < n; i++) {
            REAL z = s[i];
            REAL cdf = (REAL)0.5 * ((REAL)1 + ERF(z * (REAL)0.70710678118654752440));
            REAL pdf = (REAL)0.39894228040143267794 * EXP((REAL)-0.5 * z * z);
            out[i] = grad[i] * (cdf + z * pdf);
        }
        break;
    case FNN_ACT_SILU:    /* from z: s (1 + z (1 - s)) */
        for (i = 0; i < n; i++) {
            REAL sg = FN(sigmoid)(s[i]);
            out[i] = grad[i] * sg * ((REAL)1 + s[i] * ((REAL)1 - sg));
        }
        break;
    case FNN_ACT_SIGMOID:
        for (i = 0; i < n; i++) out[i] = grad[i] * s[i] * ((REAL)1 - s[i]);
        break;
    case FNN_ACT_HARD_SIGMOID:
        for (i = 0; i < n; i++)
            out[i] = (s[i] > 0 && s[i] < 1) ? grad[i] / (REAL)6 : (REAL)0;
        break;
    case FNN_ACT_TANH:
        for (i = 0; i < n; i++) out[i] = grad[i] * ((REAL)1 - s[i] * s[i]);
        break;
    case FNN_ACT_SOFTPLUS: /* sigmoid(z) = 1 - exp(-softplus(z)) */
        for (i = 0; i < n; i++) out[i] = grad[i] * -EXPM1(-s[i]);
        break;
    case FNN_ACT_SOFTSIGN: /* 1 / (1 + |z|)^2 = (1 - |y|)^2 */
        for (i = 0; i < n; i++) {
            REAL a = (REAL)1 - (s[i] > 0 ? s[i] : -s[i]);
            out[i] = grad[i] * a * a;
        }
        break;
    }
}

#undef SELU_SCALE
#undef SELU_ALPHA
