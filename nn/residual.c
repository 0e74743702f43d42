/* residual: elementwise sum; its gradient passes unchanged to both branches. */
#include "residual.h"

void residual_forward(scalar *out, const scalar *a, const scalar *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void residual_backward(scalar *da, scalar *db, const scalar *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}
