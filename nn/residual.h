/* residual: out = a + b, the skip connection. Trivial, but a named pair so that model code
 * reads as a list of layers and the backward pass mirrors it line by line. */
#ifndef TESSERA_RESIDUAL_H
#define TESSERA_RESIDUAL_H

#include <stddef.h>

#include "scalar.h"

void residual_forward(scalar *out,     // (n)
                      const scalar *a, // (n)
                      const scalar *b, // (n)
                      size_t n);

/* da += dout, db += dout. */
void residual_backward(scalar *da,         // (n)
                       scalar *db,         // (n)
                       const scalar *dout, // (n)
                       size_t n);

#endif
