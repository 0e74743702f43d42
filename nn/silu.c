/* silu: the sigmoid as 1/(1+e^-x); for very negative x, e^-x overflows to +inf and the
 * sigmoid comes out 0 (not NaN), which is its limit. */
#include "silu.h"

#include <tgmath.h>

static scalar sigmoid(scalar x) {
    return 1 / (1 + exp(-x));
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
