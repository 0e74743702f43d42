/* qknorm: in the packed layout a token's q heads and k heads are 2·NH consecutive rows of
 * HS values, so QK-norm is layernorm (no affine) over those rows; v is copied. */
#include "qknorm.h"

#include <assert.h>
#include <string.h>

#include "layernorm.h"

void qknorm_forward(scalar *out, scalar *mean, scalar *rstd, const scalar *qkv, size_t N, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    for (size_t n = 0; n < N; n++) {
        const scalar *x = qkv + n * 3 * C;
        scalar *y = out + n * 3 * C;
        layernorm_forward(y, mean + n * 2 * NH, rstd + n * 2 * NH, x, NULL, NULL, 2 * NH, C / NH);
        memcpy(y + 2 * C, x + 2 * C, C * sizeof *y);
    }
}

void qknorm_backward(scalar *dqkv, const scalar *dout, const scalar *qkv, const scalar *mean, const scalar *rstd,
                     size_t N, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    for (size_t n = 0; n < N; n++) {
        const size_t at = n * 3 * C;
        layernorm_backward(dqkv + at, NULL, NULL, dout + at, qkv + at, NULL, mean + n * 2 * NH, rstd + n * 2 * NH,
                           2 * NH, C / NH);
        for (size_t c = 2 * C; c < 3 * C; c++) dqkv[at + c] += dout[at + c];
    }
}
