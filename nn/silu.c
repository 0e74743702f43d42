/* silu: the sigmoid as 1/(1+e^-x); for very negative x, e^-x overflows to +inf and the
 * sigmoid comes out 0 (not NaN), which is its limit. The exp is fastmath.h's, so the loops
 * vectorize (libm's expf, one call per element, was a tenth of a VQ-VAE encoder's time). */
#include "silu.h"

#include "fastmath.h"

static inline scalar sigmoid(scalar x) {
    return 1 / (1 + fast_exp(-x));
}

void silu_forward(scalar *out, const scalar *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] * sigmoid(in[i]);
}

void silu_backward(scalar *din, const scalar *dout, const scalar *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        scalar s = sigmoid(in[i]);
        din[i] += s * (1 + in[i] * (1 - s)) * dout[i];
    }
}
