/* clip: gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_: the norm is
 * taken over the whole flat gradient buffer (after any data-parallel sum), and when it
 * exceeds max_norm every gradient is scaled by max_norm / (norm + 1e-6). */
#ifndef TESSERA_CLIP_H
#define TESSERA_CLIP_H

#include <stddef.h>

#include "scalar.h"

/* Returns the norm before clipping (for the log); sums of squares are taken in double. */
double clip_grad_norm(scalar *grads, size_t n, double max_norm);

#endif
