/* gelu: x·Φ(x), elementwise. Two forms, chosen by argument because checkpoints differ:
 * GELU_ERF is the exact form (torch.nn.GELU(), the default), GELU_TANH the tanh
 * approximation (torch.nn.GELU(approximate='tanh'), GPT-2 and many ViT ports).
 *
 * In float, Φ comes from a polynomial rather than libm's erff (gelu.c: vectorized, and
 * within 4e-7 relative of the exact x·Φ(x) everywhere, tails included); the double
 * build uses libm. */
#ifndef TESSERA_GELU_H
#define TESSERA_GELU_H

#include <stddef.h>

#include "grad_write.h"
#include "scalar.h"

typedef enum { GELU_ERF = 0, GELU_TANH = 1 } GeluKind;

void gelu_forward(scalar *out,       // (n)
                  const scalar *in,  // (n)
                  size_t n, GeluKind kind);

/* din += gelu'(in) * dout, or din = ... with din_write = GRAD_SET (grad_write.h). din
 * may be dout (elementwise, in place): with GRAD_SET that spares a third buffer. */
void gelu_backward(scalar *din,        // (n)
                   GradWrite din_write,
                   const scalar *dout, // (n)
                   const scalar *in,   // (n)
                   size_t n, GeluKind kind);

/* The same pair for a trainer that keeps only what backward needs. The forward also
 * writes gelu'(in) to slope, where slope may be in: the pre-activation is then replaced
 * by the derivative, which is all backward reads of it. Backward is then one multiply,
 * not the polynomial and the exp again (0.29 against 0.92 ns per element on one core;
 * the step's numbers are in BENCH.md, training benchmark). out and slope are the values
 * gelu_forward and gelu_backward give, bit for bit. */
void gelu_forward_slope(scalar *out,       // (n)
                        scalar *slope,     // (n), may be in
                        const scalar *in,  // (n)
                        size_t n, GeluKind kind);

/* din += slope * dout, or din = ... with GRAD_SET; din may be dout. */
void gelu_backward_slope(scalar *din,          // (n)
                         GradWrite din_write,
                         const scalar *dout,   // (n)
                         const scalar *slope,  // (n), from gelu_forward_slope
                         size_t n);

#endif
