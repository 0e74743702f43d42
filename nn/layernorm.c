/* layernorm: two-pass mean and variance per row (no E[x²]-E[x]² cancellation).
 *
 * The sums over a row (mean and variance forward, mean(g) and mean(g·norm) backward)
 * keep VEC_LANES partial sums (nn/fastmath.h) so that they vectorize; as one running sum
 * each took an add's latency per element. Forward keeps the deviations x - mean in the
 * output row between its passes, so in == out still works. */
#include "layernorm.h"

#include <tgmath.h>

#include "fastmath.h"

void layernorm_forward(scalar *out, scalar *mean, scalar *rstd, const scalar *in, const scalar *weight,
                       const scalar *bias, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const scalar *x = in + n * C;
        scalar *y = out + n * C;
        scalar m = vec_sum(x, C) / (scalar)C;
        for (size_t c = 0; c < C; c++) y[c] = x[c] - m;
        scalar v = vec_dot(y, y, C) / (scalar)C;
        scalar s = 1 / sqrt(v + (scalar)LAYERNORM_EPS);
        if (weight && bias)
            for (size_t c = 0; c < C; c++) y[c] = y[c] * s * weight[c] + bias[c];
        else
            for (size_t c = 0; c < C; c++) {
                scalar v_c = y[c] * s;
                if (weight) v_c *= weight[c];
                if (bias) v_c += bias[c];
                y[c] = v_c;
            }
        mean[n] = m;
        rstd[n] = s;
    }
}

/* Σ g and Σ g·norm over a row of C, g = dy·weight (dy without weight) and
 * norm = (x - m)·s. One loop per case: with the weight test inside, GCC 12 does not
 * vectorize it. */
static void grad_sums(const scalar *x, const scalar *dy, const scalar *weight, scalar m, scalar s, size_t C,
                      scalar *g_sum, scalar *g_norm_sum) {
    scalar g_lane[VEC_LANES] = {0}, gn_lane[VEC_LANES] = {0};
    size_t c = 0;
    if (weight)
        for (; c + VEC_LANES <= C; c += VEC_LANES)
            for (size_t k = 0; k < VEC_LANES; k++) {
                scalar g = dy[c + k] * weight[c + k];
                g_lane[k] += g;
                gn_lane[k] += g * ((x[c + k] - m) * s);
            }
    else
        for (; c + VEC_LANES <= C; c += VEC_LANES)
            for (size_t k = 0; k < VEC_LANES; k++) {
                scalar g = dy[c + k];
                g_lane[k] += g;
                gn_lane[k] += g * ((x[c + k] - m) * s);
            }
    scalar gs = 0, gns = 0;
    for (size_t k = 0; k < VEC_LANES; k++) {
        gs += g_lane[k];
        gns += gn_lane[k];
    }
    for (; c < C; c++) {
        scalar g = weight ? dy[c] * weight[c] : dy[c];
        gs += g;
        gns += g * ((x[c] - m) * s);
    }
    *g_sum = gs;
    *g_norm_sum = gns;
}

/* With norm = (x - mean) * rstd and g = dout * weight:
 *   din = rstd * (g - mean(g) - norm * mean(g * norm)). */
void layernorm_backward(scalar *din, scalar *dweight, scalar *dbias, const scalar *dout, const scalar *in,
                        const scalar *weight, const scalar *mean, const scalar *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const scalar *x = in + n * C, *dy = dout + n * C;
        const scalar m = mean[n], s = rstd[n];
        if (dweight)
            for (size_t c = 0; c < C; c++) dweight[c] += (x[c] - m) * s * dy[c];
        if (dbias)
            for (size_t c = 0; c < C; c++) dbias[c] += dy[c];
        if (!din) continue;
        scalar g_mean, g_norm_mean;
        grad_sums(x, dy, weight, m, s, C, &g_mean, &g_norm_mean);
        g_mean /= (scalar)C;
        g_norm_mean /= (scalar)C;
        scalar *dx = din + n * C;
        if (weight)
            for (size_t c = 0; c < C; c++)
                dx[c] += (dy[c] * weight[c] - g_mean - (x[c] - m) * s * g_norm_mean) * s;
        else
            for (size_t c = 0; c < C; c++) dx[c] += (dy[c] - g_mean - (x[c] - m) * s * g_norm_mean) * s;
    }
}
