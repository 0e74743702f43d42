/* layernorm: two-pass mean and variance per row (no E[x²]-E[x]² cancellation). */
#include "layernorm.h"

#include <tgmath.h>

void layernorm_forward(scalar *out, scalar *mean, scalar *rstd, const scalar *in, const scalar *weight,
                       const scalar *bias, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const scalar *x = in + n * C;
        scalar *y = out + n * C;
        scalar m = 0;
        for (size_t c = 0; c < C; c++) m += x[c];
        m /= (scalar)C;
        scalar v = 0;
        for (size_t c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (scalar)C;
        scalar s = 1 / sqrt(v + (scalar)LAYERNORM_EPS);
        for (size_t c = 0; c < C; c++) {
            scalar v_c = (x[c] - m) * s;
            if (weight) v_c *= weight[c];
            if (bias) v_c += bias[c];
            y[c] = v_c;
        }
        mean[n] = m;
        rstd[n] = s;
    }
}

/* With norm = (x - mean) * rstd and g = dout * weight:
 *   din = rstd * (g - mean(g) - norm * mean(g * norm)). */
void layernorm_backward(scalar *din, scalar *dweight, scalar *dbias, const scalar *dout, const scalar *in,
                        const scalar *weight, const scalar *mean, const scalar *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const scalar *x = in + n * C, *dy = dout + n * C;
        const scalar m = mean[n], s = rstd[n];
        scalar g_mean = 0, g_norm_mean = 0;
        for (size_t c = 0; c < C; c++) {
            scalar norm = (x[c] - m) * s;
            scalar g = weight ? dy[c] * weight[c] : dy[c];
            g_mean += g;
            g_norm_mean += g * norm;
            if (dweight) dweight[c] += norm * dy[c];
            if (dbias) dbias[c] += dy[c];
        }
        g_mean /= (scalar)C;
        g_norm_mean /= (scalar)C;
        if (!din) continue;
        scalar *dx = din + n * C;
        for (size_t c = 0; c < C; c++) {
            scalar norm = (x[c] - m) * s;
            scalar g = weight ? dy[c] * weight[c] : dy[c];
            dx[c] += (g - g_mean - norm * g_norm_mean) * s;
        }
    }
}
