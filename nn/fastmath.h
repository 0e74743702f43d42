/* fastmath: e^x, and the max, sum and dot product of a row, written so that the loops
 * calling them vectorize (GCC, -O3 -march=native: 8 floats per AVX2 instruction).
 *
 * libm's expf is an opaque call, so a loop over it runs one element at a time; GELU, the
 * attention softmax and cross-entropy spent most of their time there. And without
 * -ffast-math, GCC keeps a float sum in its written order, one element after the other.
 * Here the exp is straight-line arithmetic, and the reductions keep VEC_LANES partial
 * results side by side, combined at the end: a fixed order, so a result depends only on
 * the data and n, not on where the buffer starts. (vec_max still compiles to scalar
 * maxss, GCC 12 does not vectorize a float max without -ffinite-math-only, but its
 * VEC_LANES chains are independent, so it runs at about one element per cycle.)
 *
 * fast_exp accuracy: within 1.4 ulp of e^x (checked against double exp in steps of 1e-4
 * over the whole range). Range: below -86.64 the result is 0 (e^-86.64 = 2.4e-38; the
 * subnormals under it are dropped), -inf gives 0; above 88.7228 (float overflow) +inf;
 * NaN stays NaN.
 *
 * Method (Cephes expf): e^x = 2^k · e^r with k = round(x / ln 2) and |r| <= ln2 / 2;
 * r = x - k·ln2 in two steps (ln 2 split into a head whose product with k is exact, and a
 * tail); e^r by a degree-7 polynomial; 2^(k-1) assembled in the exponent bits and the
 * product doubled, so that k = 128 (x just under the overflow threshold) still has an
 * exponent field. k is rounded by adding and subtracting 1.5·2^23, which leaves the
 * nearest integer in float arithmetic.
 *
 * The double build (-DNN_DOUBLE, the finite-difference tests) takes libm's exp: the
 * polynomial is good to float precision only. */
#ifndef TESSERA_FASTMATH_H
#define TESSERA_FASTMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scalar.h"

#ifdef NN_DOUBLE
static inline scalar fast_exp(scalar x) { return exp(x); }
#else
static inline float fast_exp(float x) {
    const float lo = -86.64f, hi = 88.72283935546875f; /* hi: the float just above ln(FLT_MAX) */
    float xc = x > lo ? x : lo; /* NaN -> lo: the int conversion below stays defined */
    xc = xc < hi ? xc : hi;
    float k = xc * 1.44269504088896341f + 0x1.8p23f; /* x / ln 2, rounded to an integer */
    k -= 0x1.8p23f;
    float r = xc - k * 0.693359375f; /* ln 2 = 0.693359375 (exact in 10 bits) ... */
    r = r - k * -2.12194440e-4f;     /* ... - 2.12194440e-4 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)k + 126) << 23; /* 2^(k-1) */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float e = (p * 2.0f) * scale;
    e = x < lo ? 0.0f : e;
    e = x > hi ? INFINITY : e;
    return x == x ? e : x; /* NaN in, NaN out */
}
#endif

enum { VEC_LANES = 8 };

/* max of x[0..n), n >= 1 */
static inline scalar vec_max(const scalar *x, size_t n) {
    scalar m = x[0];
    size_t j = 0;
    if (n >= VEC_LANES) {
        scalar lane[VEC_LANES];
        for (size_t k = 0; k < VEC_LANES; k++) lane[k] = x[k];
        for (j = VEC_LANES; j + VEC_LANES <= n; j += VEC_LANES)
            for (size_t k = 0; k < VEC_LANES; k++) lane[k] = x[j + k] > lane[k] ? x[j + k] : lane[k];
        for (size_t k = 0; k < VEC_LANES; k++) m = lane[k] > m ? lane[k] : m;
    }
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* Σ x[0..n) */
static inline scalar vec_sum(const scalar *x, size_t n) {
    scalar lane[VEC_LANES] = {0};
    size_t j = 0;
    for (; j + VEC_LANES <= n; j += VEC_LANES)
        for (size_t k = 0; k < VEC_LANES; k++) lane[k] += x[j + k];
    scalar s = 0;
    for (size_t k = 0; k < VEC_LANES; k++) s += lane[k];
    for (; j < n; j++) s += x[j];
    return s;
}

/* Σ x[j]·y[j] over [0, n) */
static inline scalar vec_dot(const scalar *x, const scalar *y, size_t n) {
    scalar lane[VEC_LANES] = {0};
    size_t j = 0;
    for (; j + VEC_LANES <= n; j += VEC_LANES)
        for (size_t k = 0; k < VEC_LANES; k++) lane[k] += x[j + k] * y[j + k];
    scalar s = 0;
    for (size_t k = 0; k < VEC_LANES; k++) s += lane[k];
    for (; j < n; j++) s += x[j] * y[j];
    return s;
}

/* Σ e^(x[j] - shift) over [0, n) */
static inline scalar vec_sum_exp(const scalar *x, size_t n, scalar shift) {
    scalar lane[VEC_LANES] = {0};
    size_t j = 0;
    for (; j + VEC_LANES <= n; j += VEC_LANES)
        for (size_t k = 0; k < VEC_LANES; k++) lane[k] += fast_exp(x[j + k] - shift);
    scalar s = 0;
    for (size_t k = 0; k < VEC_LANES; k++) s += lane[k];
    for (; j < n; j++) s += fast_exp(x[j] - shift);
    return s;
}

#endif
