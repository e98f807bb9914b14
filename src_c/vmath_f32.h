/* float exp, expm1, tanh, erf and log1p written for the vectoriser: branch-free, inline, no libm
 * call, so that GCC turns the element-wise loops of eltwise_impl.h into vector code (libm's
 * expf/tanhf/erff are called one element at a time, 8-20 ns each: a tanh layer then took
 * twice as long as its GEMM). Included by eltwise_isa.h once per ISA, so each copy is
 * compiled with that ISA's flags.
 *
 * The loops vectorise only with -fno-trapping-math (setup.py): otherwise GCC keeps the
 * selects of a float comparison as branches on AVX2 and SSE2.
 *
 * Accuracy against float64 over [-30, 30] and down to 1e-8 (tests/test_isa.py): tanh
 * within 1.2 ulp, sigmoid 2.5, elu 1.6, silu 3, softplus 3.3; erf within 1.5e-7
 * absolute (Abramowitz & Stegun 7.1.26); the normal CDF of gelu about 3e-7 relative. The exp and tanh
 * polynomials are Cephes' (expf, tanhf). float64 keeps libm. */
#ifndef FASTNN_VMATH_F32_H
#define FASTNN_VMATH_F32_H

#include <stdint.h>
#include <string.h>

static inline float vm_bits_to_float(uint32_t i)
{
    float f;
    memcpy(&f, &i, sizeof(f));
    return f;
}

static inline int32_t vm_float_to_bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof(i));
    return i;
}

/* e^x, with its argument clamped to [-87.34, 88.72] and the result 0 below: 3.4e38
 * (FLT_MAX, exp's own overflow point) at the top, so callers need no special cases:
 * -inf gives 0 (not FLT_MIN, which x e^x would scale up into a visible error), +inf
 * gives 3.4e38, NaN gives NaN. Defined behaviour for every input, NaN included: no
 * float-to-integer conversion, and the exponent fields are shifted as unsigned
 * integers. */
static inline float vm_expf(float x)
{
    const float under = x < -87.33654f ? 0.0f : 1.0f;   /* 1 for NaN */
    x = x > 88.72283f ? 88.72283f : x;     /* two plain selects: if-convertible; NaN */
    x = x < -87.33654f ? -87.33654f : x;   /* passes both and stays NaN */
    /* x = n ln2 + r, |r| <= ln2 / 2; n rounded to nearest by the 1.5 * 2^23 trick (no
     * rint: the baseline x86-64 has no vector rounding instruction). The sum t lies in
     * [2^23, 2^24), where floats are the integers, so t = 1.5 * 2^23 + n exactly and n is
     * its bit pattern less that of 1.5 * 2^23 (0x4B400000): no (int32_t) conversion,
     * which is undefined for NaN. For NaN, n is meaningless but cannot overflow below
     * (|n| < 0x4BC00000) and r, p and the result are NaN. */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float fn = t - 12582912.0f;
    int32_t n = vm_float_to_bits(t) - 0x4B400000;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n for n in [-126, 128] as two factors, each a normal float (the biased exponent
     * is in [64, 191] before the unsigned shift) */
    int32_t half = n >> 1;
    return p * vm_bits_to_float((uint32_t)(half + 127) << 23)
             * vm_bits_to_float((uint32_t)(n - half + 127) << 23) * under;
}

/* e^x - 1, accurate near 0 (a Taylor polynomial there, exp elsewhere). */
static inline float vm_expm1f(float x)
{
    float small = x * (1.0f + x * (0.5f + x * (1.6666667e-1f + x * (4.1666668e-2f
                  + x * (8.3333338e-3f + x * (1.3888889e-3f + x * 1.9841270e-4f))))));
    float big = vm_expf(x) - 1.0f;
    return (x > -0.3f && x < 0.3f) ? small : big;
}

/* tanh x: an odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) above. */
static inline float vm_tanhf(float x)
{
    float a = x < 0 ? -x : x;
    float s = x * x;
    float poly = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s
                   + 1.33314422036e-1f) * s - 3.33332819422e-1f) * s * x + x;
    float big = 1.0f - 2.0f / (vm_expf(2.0f * a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.625f ? poly : big;
}

/* erf x, absolute error <= 1.5e-7 (Abramowitz & Stegun 7.1.26). */
static inline float vm_erff(float x)
{
    float a = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t
               + 0.254829592f) * t;
    float y = 1.0f - p * vm_expf(-a * a);
    return x < 0 ? -y : y;
}

/* The normal CDF Phi(z) = erfc(-z / sqrt 2) / 2, relatively accurate (about 3e-7) where
 * it is tiny, as gelu's 1 + erf(z / sqrt 2) cannot be: Numerical Recipes' erfcc (a
 * Chebyshev fit of erfc(a) e^(a^2), fractional error below 1.2e-7) at a = |z| / sqrt 2,
 * with the exponent a^2 = z^2 / 2 taken from z itself, split exactly into hi + lo
 * (Dekker): rounding a first would be amplified 2 a^2 times in the far tail. */
static inline float vm_phif(float z)
{
    float a = (z < 0 ? -z : z) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * a);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float c = z * 4097.0f;
    float zh = c - (c - z);
    float zl = z - zh;
    float hi = z * z;
    float lo = ((zh * zh - hi) + 2.0f * zh * zl) + zl * zl;
    /* erfc(a) = t e^(p - a^2), a^2 = hi / 2 + lo / 2; e^(-lo / 2) = 1 - lo / 2 */
    float y = t * vm_expf(p) * vm_expf(-0.5f * hi) * (1.0f - 0.5f * lo);
    return 0.5f * (z > 0 ? 2.0f - y : y);
}

/* log(1 + u) for u in [0, 1] (softplus's log1p(e^-|z|)): 2 atanh(s), s = u / (2 + u) in
 * [0, 1/3], an odd series to s^13; exact to the last bits for tiny u, where 1 + u rounds. */
static inline float vm_log1p01f(float u)
{
    float s = u / (2.0f + u);
    float s2 = s * s;
    float p = s2 * (1.0f / 13) + 1.0f / 11;
    p = p * s2 + 1.0f / 9;
    p = p * s2 + 1.0f / 7;
    p = p * s2 + 1.0f / 5;
    p = p * s2 + 1.0f / 3;
    return 2.0f * s * (p * s2 + 1.0f);
}

#endif /* FASTNN_VMATH_F32_H */
