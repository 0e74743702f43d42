/* groupnorm: per-(image, group) normalization with per-channel affine (see groupnorm.h). */
#include "groupnorm.h"

#include <math.h>
#include <stddef.h>

void groupnorm_forward(scalar *out, scalar *mean, scalar *rstd, const scalar *in, const scalar *weight,
                       const scalar *bias, int B, int C, int H, int W, int G) {
    size_t hw = (size_t)H * W, cg = (size_t)(C / G), n = cg * hw;
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            size_t at = ((size_t)b * C + (size_t)g * cg) * hw;
            const scalar *x = in + at;
            double sum = 0, sq = 0;
            for (size_t i = 0; i < n; i++) sum += x[i];
            double m = sum / (double)n;
            for (size_t i = 0; i < n; i++) sq += (x[i] - m) * (x[i] - m); /* two passes: no cancellation */
            double rs = 1.0 / sqrt(sq / (double)n + GROUPNORM_EPS);
            mean[(size_t)b * G + g] = (scalar)m;
            rstd[(size_t)b * G + g] = (scalar)rs;
            for (size_t j = 0; j < cg; j++) {
                size_t c = (size_t)g * cg + j;
                scalar sm = (scalar)m, sr = (scalar)rs, w = weight[c], bb = bias[c];
                const scalar *xc = x + j * hw;
                scalar *y = out + at + j * hw;
                for (size_t i = 0; i < hw; i++) y[i] = (xc[i] - sm) * sr * w + bb;
            }
        }
}

/* With xhat = (x - mean) * rstd and dxhat = dout * weight, over the n values of a group:
 * din = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). */
void groupnorm_backward(scalar *din, scalar *dweight, scalar *dbias, const scalar *dout, const scalar *in,
                        const scalar *weight, const scalar *mean, const scalar *rstd, int B, int C, int H, int W,
                        int G) {
    size_t hw = (size_t)H * W, cg = (size_t)(C / G), n = cg * hw;
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            size_t at = ((size_t)b * C + (size_t)g * cg) * hw;
            scalar m = mean[(size_t)b * G + g], rs = rstd[(size_t)b * G + g];
            double sum_dxhat = 0, sum_dxhat_xhat = 0;
            for (size_t j = 0; j < cg; j++) {
                size_t c = (size_t)g * cg + j;
                const scalar *x = in + at + j * hw, *dy = dout + at + j * hw;
                double dw = 0, db = 0;
                for (size_t i = 0; i < hw; i++) {
                    scalar xhat = (x[i] - m) * rs;
                    dw += dy[i] * xhat;
                    db += dy[i];
                }
                dweight[c] += (scalar)dw;
                dbias[c] += (scalar)db;
                sum_dxhat += db * weight[c];
                sum_dxhat_xhat += dw * weight[c];
            }
            scalar mean_dxhat = (scalar)(sum_dxhat / (double)n), mean_dxhat_xhat = (scalar)(sum_dxhat_xhat / (double)n);
            for (size_t j = 0; j < cg; j++) {
                size_t c = (size_t)g * cg + j;
                const scalar *x = in + at + j * hw, *dy = dout + at + j * hw;
                scalar *dx = din + at + j * hw, w = weight[c];
                for (size_t i = 0; i < hw; i++) {
                    scalar xhat = (x[i] - m) * rs;
                    dx[i] += rs * (dy[i] * w - mean_dxhat - xhat * mean_dxhat_xhat);
                }
            }
        }
}
