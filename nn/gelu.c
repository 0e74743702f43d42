/* gelu: both forms with their exact derivatives, written so that the float loops
 * vectorize (no libm call inside them; exp from nn/fastmath.h). With libm's erff and
 * expf, one call per element, GELU was 16% of a GPT training step.
 *
 * Erf form, float. x·Φ(x) needs the normal CDF Φ. Here its lower tail is
 *
 *     Φ(-|x|) = e^(-x²/2) · t · P(t),   t = 1 / (1 + |x|·3/8),
 *
 * with P a degree-10 polynomial fitted for this file (minimax in relative error over
 * t in (0, 1], i.e. the whole real line; 4e-8 with the coefficients rounded to float),
 * and Φ(x) = 1 - Φ(-x) above 0: the form of Abramowitz-Stegun 26.2.17, with more terms.
 * Computed in float, x·Φ(x) is within 4e-7 (7 ulp) relative of the exact value over
 * [-12, 8] (checked against double erfc every 7e-7), tails included. The libm form
 * 0.5·x·(1 + erff(x/√2)) was within 1.2e-5 above -3, 5% off at -5 and lost every
 * digit below -6, where 1 + erf cancels. x² is rounded; its rounding error l = fma(x, x, -x²) is put
 * back as e^(-x²/2)·(1 - l/2), else it would cost up to 36 ulp near x = -8.
 * Backward reuses e^(-x²/2) for the density, Φ'(x) = e^(-x²/2) / √(2π); the derivative
 * is within 2e-6 relative where |gelu'| > 0.05 (it crosses 0 at x = -0.75, where both
 * this and the libm form cancel to about 1e-7 absolute).
 *
 * Tanh form. 0.5·(1 + tanh(u)) = σ(2u) = 1 / (1 + e^(-2u)): one exp, and no cancellation
 * where 1 + tanh(u) would cancel (u << 0); below u = -44, e^(-2u) overflows to +inf and
 * σ comes out 0, its limit. The derivative uses 1 - tanh² = 4σ(1 - σ).
 *
 * The double build (-DNN_DOUBLE, the finite-difference tests) takes Φ from libm's erfc:
 * the polynomial is only good to float precision. */
#include "gelu.h"

#include <math.h>

#include "fastmath.h"

/* GCC's -march=native keeps to 256-bit vectors on AVX-512 machines unless told otherwise.
 * GELU is arithmetic-bound (the polynomial, an exp and a division per element), and
 * 512-bit vectors take its forward + backward in a GPT step from 0.029 to 0.021 s
 * (train_bench --breakdown); on a machine without AVX-512 this asks for nothing. Not
 * for every file: the LayerNorm rows got slower. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif

static const scalar INV_SQRT2PI = (scalar)0.39894228040143267794;    /* 1/√(2π) */
static const scalar SQRT_2_OVER_PI = (scalar)0.79788456080286535588; /* √(2/π) */
static const scalar TANH_CUBIC = (scalar)0.044715;

/* Φ(x), and e^(-x²/2) in *gauss. */
#ifdef NN_DOUBLE
static inline double normal_cdf(double x, double *gauss) {
    *gauss = exp(-x * x / 2);
    return erfc(-x * 0.70710678118654752440) / 2; /* x / √2 */
}
#else
static inline float normal_cdf(float x, float *gauss) {
    float a = fabsf(x);
    a = a < 16.0f ? a : 16.0f; /* Φ(-16) = 6e-58 is 0 in float; keeps a² finite */
    float t = 1.0f / fmaf(0.375f, a, 1.0f);
    float a2 = a * a, g = fast_exp(-0.5f * a2);
    g = fmaf(g, -0.5f * fmaf(a, a, -a2), g);
    float p = 2.470290661e-02f; /* P(t), Horner */
    p = fmaf(p, t, -1.164040342e-01f);
    p = fmaf(p, t, 1.980040371e-01f);
    p = fmaf(p, t, -1.135848612e-01f);
    p = fmaf(p, t, -2.513750084e-02f);
    p = fmaf(p, t, -1.213010214e-02f);
    p = fmaf(p, t, 2.989581227e-02f);
    p = fmaf(p, t, 8.691392094e-02f);
    p = fmaf(p, t, 1.285321862e-01f);
    p = fmaf(p, t, 1.496042907e-01f);
    p = fmaf(p, t, 1.496033520e-01f);
    float lower = g * t * p; /* Φ(-|x|) */
    *gauss = g;
    return x >= 0 ? 1.0f - lower : lower;
}
#endif

/* σ(2u) for the tanh form's u = √(2/π)·(x + 0.044715·x³). */
static inline scalar tanh_gate(scalar x) {
    scalar u = SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x);
    return 1 / (1 + fast_exp(-2 * u));
}

void gelu_forward(scalar *out, const scalar *in, size_t n, GeluKind kind) {
    if (kind == GELU_TANH) {
        for (size_t i = 0; i < n; i++) out[i] = in[i] * tanh_gate(in[i]);
    } else {
        for (size_t i = 0; i < n; i++) {
            scalar gauss;
            out[i] = in[i] * normal_cdf(in[i], &gauss);
        }
    }
}

/* Each form's gate (Φ(x), or σ(2u) for the tanh form; gelu(x) = x·gate), and gelu'(x) in
 * *slope. The loops below have one loop per form: with the form chosen inside the loop
 * body, GCC 12 if-converted it and computed both forms for every element. */
static inline scalar tanh_gate_slope(scalar x, scalar *slope) {
    scalar s = tanh_gate(x);
    scalar du = SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * x * x);
    *slope = s + x * 2 * s * (1 - s) * du; /* d/dx x·σ(2u) = σ + x·2σ(1 - σ)·du */
    return s;
}

static inline scalar erf_gate_slope(scalar x, scalar *slope) {
    scalar gauss, cdf = normal_cdf(x, &gauss);
    *slope = cdf + x * INV_SQRT2PI * gauss;
    return cdf;
}

static inline scalar tanh_slope(scalar x) {
    scalar slope;
    tanh_gate_slope(x, &slope);
    return slope;
}

static inline scalar erf_slope(scalar x) {
    scalar slope;
    erf_gate_slope(x, &slope);
    return slope;
}

void gelu_backward(scalar *din, GradWrite din_write, const scalar *dout, const scalar *in, size_t n, GeluKind kind) {
    if (kind == GELU_TANH && din_write == GRAD_SET)
        for (size_t i = 0; i < n; i++) din[i] = tanh_slope(in[i]) * dout[i];
    else if (kind == GELU_TANH)
        for (size_t i = 0; i < n; i++) din[i] += tanh_slope(in[i]) * dout[i];
    else if (din_write == GRAD_SET)
        for (size_t i = 0; i < n; i++) din[i] = erf_slope(in[i]) * dout[i];
    else
        for (size_t i = 0; i < n; i++) din[i] += erf_slope(in[i]) * dout[i];
}

/* slope may be in: each element's slope is written after its input is read (GCC's
 * aliasing check lets equal pointers take the vectorized loop). */
void gelu_forward_slope(scalar *out, scalar *slope, const scalar *in, size_t n, GeluKind kind) {
    if (kind == GELU_TANH)
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            out[i] = x * tanh_gate_slope(x, &slope[i]);
        }
    else
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            out[i] = x * erf_gate_slope(x, &slope[i]);
        }
}

void gelu_backward_slope(scalar *din, GradWrite din_write, const scalar *dout, const scalar *slope, size_t n) {
    if (din_write == GRAD_SET) {
        for (size_t i = 0; i < n; i++) din[i] = slope[i] * dout[i];
    } else {
        for (size_t i = 0; i < n; i++) din[i] += slope[i] * dout[i];
    }
}
