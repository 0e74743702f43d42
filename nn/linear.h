/* linear: the fully connected layer, out = in · Wᵀ + b, with W laid out (OC, C) as in
 * torch.nn.Linear, so PyTorch weights load without a transpose. Both passes are single
 * BLAS matrix products (cblas_gemm, scalar.h). */
#ifndef TESSERA_LINEAR_H
#define TESSERA_LINEAR_H

#include <stddef.h>

#include "scalar.h"

/* out = in · weightᵀ + bias. bias may be NULL (no bias). Overwrites out. */
void linear_forward(scalar *out,          // (N,OC)
                    const scalar *in,     // (N,C)
                    const scalar *weight, // (OC,C)
                    const scalar *bias,   // (OC) or NULL
                    size_t N, size_t C, size_t OC);

/* Adds the gradients of the loss into din, dweight and dbias (the caller zeroes them once
 * per step). Any of the three may be NULL when that gradient is not wanted (an input that
 * is data, a frozen weight, no bias). */
void linear_backward(scalar *din,          // (N,C) or NULL
                     scalar *dweight,      // (OC,C) or NULL
                     scalar *dbias,        // (OC) or NULL
                     const scalar *dout,   // (N,OC)
                     const scalar *in,     // (N,C)
                     const scalar *weight, // (OC,C)
                     size_t N, size_t C, size_t OC);

#endif
