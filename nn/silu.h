/* silu: x·sigmoid(x) elementwise (torch.nn.SiLU, "swish"), the activation of SwiGLU-style
 * MLPs and of most diffusion U-Nets. */
#ifndef TESSERA_SILU_H
#define TESSERA_SILU_H

#include <stddef.h>

#include "scalar.h"

void silu_forward(scalar *out,      // (n)
                  const scalar *in, // (n)
                  size_t n);

/* din += silu'(in) * dout, silu'(x) = s(x)·(1 + x·(1 - s(x))) with s the sigmoid. */
void silu_backward(scalar *din,        // (n)
                   const scalar *dout, // (n)
                   const scalar *in,   // (n)
                   size_t n);

#endif
