/* gelu: both forms with their exact derivatives. <tgmath.h> picks erff/tanhf/expf for
 * float and erf/tanh/exp for the double build, so the constants are cast to scalar to
 * keep float arguments float. */
#include "gelu.h"

#include <tgmath.h>

static const scalar INV_SQRT2 = (scalar)0.70710678118654752440;      /* 1/√2 */
static const scalar INV_SQRT2PI = (scalar)0.39894228040143267794;    /* 1/√(2π) */
static const scalar SQRT_2_OVER_PI = (scalar)0.79788456080286535588; /* √(2/π) */
static const scalar TANH_CUBIC = (scalar)0.044715;

void gelu_forward(scalar *out, const scalar *in, size_t n, GeluKind kind) {
    if (kind == GELU_TANH) {
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            scalar u = SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x);
            out[i] = (scalar)0.5 * x * (1 + tanh(u));
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            out[i] = (scalar)0.5 * x * (1 + erf(x * INV_SQRT2));
        }
    }
}

void gelu_backward(scalar *din, const scalar *dout, const scalar *in, size_t n, GeluKind kind) {
    if (kind == GELU_TANH) {
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            scalar t = tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x));
            scalar du = SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * x * x);
            din[i] += ((scalar)0.5 * (1 + t) + (scalar)0.5 * x * (1 - t * t) * du) * dout[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            scalar x = in[i];
            scalar cdf = (scalar)0.5 * (1 + erf(x * INV_SQRT2));
            scalar pdf = INV_SQRT2PI * exp((scalar)-0.5 * x * x);
            din[i] += (cdf + x * pdf) * dout[i];
        }
    }
}
