/* linear: the fully connected layer, out = in · Wᵀ + b, with W laid out (OC, C) as in
 * torch.nn.Linear, so PyTorch weights load without a transpose. Both passes are single
 * BLAS matrix products (cblas_gemm, scalar.h). */
#ifndef TESSERA_LINEAR_H
#define TESSERA_LINEAR_H

#include <stddef.h>

#include "grad_write.h"
#include "scalar.h"

/* out = in · weightᵀ + bias. bias may be NULL (no bias). Overwrites out. */
void linear_forward(scalar *out,          // (N,OC)
                    const scalar *in,     // (N,C)
                    const scalar *weight, // (OC,C)
                    const scalar *bias,   // (OC) or NULL
                    size_t N, size_t C, size_t OC);

/* out = residual + in · weightᵀ + bias: a linear layer whose output joins a residual
 * stream, in the same passes over out as linear_forward (the sum starts where the bias
 * fill would), so the projection itself is never stored. out may be residual (in place).
 * The backward pass is linear_backward's; the residual's gradient is dout, unchanged. */
void linear_forward_residual(scalar *out,            // (N,OC)
                             const scalar *residual, // (N,OC)
                             const scalar *in,       // (N,C)
                             const scalar *weight,   // (OC,C)
                             const scalar *bias,     // (OC) or NULL
                             size_t N, size_t C, size_t OC);

/* Adds the gradients of the loss into dweight and dbias (the caller zeroes them once per
 * step), and into din, or over it with din_write = GRAD_SET (grad_write.h). Any of the
 * three may be NULL when that gradient is not wanted (an input that is data, a frozen
 * weight, no bias). */
void linear_backward(scalar *din,          // (N,C) or NULL
                     GradWrite din_write,
                     scalar *dweight,      // (OC,C) or NULL
                     scalar *dbias,        // (OC) or NULL
                     const scalar *dout,   // (N,OC)
                     const scalar *in,     // (N,C)
                     const scalar *weight, // (OC,C)
                     size_t N, size_t C, size_t OC);

#endif
