/* groupnorm: group normalization of NCHW batches, as torch.nn.GroupNorm (affine, eps 1e-5).
 * The C channels split into G groups of C/G; each (image, group) is normalized by the mean
 * and biased variance of its C/G*H*W values, then scaled and shifted per channel:
 *
 *   out[b,c] = (in[b,c] - mean[b,g]) * rstd[b,g] * weight[c] + bias[c],  rstd = 1/sqrt(var + eps)
 *
 * Forward saves mean and rstd per (B, G) for backward; sums are taken in double. */
#ifndef TESSERA_GROUPNORM_H
#define TESSERA_GROUPNORM_H

#include "scalar.h"

#define GROUPNORM_EPS 1e-5

/* C must be a multiple of G. */
void groupnorm_forward(scalar *out,           // (B, C, H, W)
                       scalar *mean,          // (B, G)
                       scalar *rstd,          // (B, G)
                       const scalar *in,      // (B, C, H, W)
                       const scalar *weight,  // (C)
                       const scalar *bias,    // (C)
                       int B, int C, int H, int W, int G);

/* Adds into din, dweight and dbias. */
void groupnorm_backward(scalar *din,           // (B, C, H, W)
                        scalar *dweight,       // (C)
                        scalar *dbias,         // (C)
                        const scalar *dout,    // (B, C, H, W)
                        const scalar *in,      // (B, C, H, W)
                        const scalar *weight,  // (C)
                        const scalar *mean,    // (B, G)
                        const scalar *rstd,    // (B, G)
                        int B, int C, int H, int W, int G);

#endif
