/* layernorm: normalisation over the last dimension, as torch.nn.LayerNorm(C, eps=1e-5):
 * out = (in - mean) * rstd * weight + bias with rstd = 1/sqrt(var + eps) and the biased
 * variance. Forward saves mean and rstd per row for backward. */
#ifndef TESSERA_LAYERNORM_H
#define TESSERA_LAYERNORM_H

#include <stddef.h>

#include "scalar.h"

#define LAYERNORM_EPS 1e-5

/* weight and bias may both be NULL: normalisation without the affine part (QK-norm). */
void layernorm_forward(scalar *out,          // (N,C)
                       scalar *mean,         // (N) saved for backward
                       scalar *rstd,         // (N) saved for backward
                       const scalar *in,     // (N,C)
                       const scalar *weight, // (C) or NULL
                       const scalar *bias,   // (C) or NULL
                       size_t N, size_t C);

/* Adds into din, dweight, dbias; dweight and dbias may be NULL (and must be when the
 * forward pass had no affine part); din may be NULL. */
void layernorm_backward(scalar *din,          // (N,C) or NULL
                        scalar *dweight,      // (C) or NULL
                        scalar *dbias,        // (C) or NULL
                        const scalar *dout,   // (N,C)
                        const scalar *in,     // (N,C)
                        const scalar *weight, // (C) or NULL
                        const scalar *mean,   // (N)
                        const scalar *rstd,   // (N)
                        size_t N, size_t C);

#endif
