/* qknorm: QK-norm, a layernorm without affine parameters (eps 1e-5) over the head
 * dimension of every query and key head, applied to the packed qkv (B,T,3C) of
 * attention.h before attention_forward; v passes through unchanged. It keeps the
 * attention logits bounded, which steadies training at high learning rates.
 *
 * A separate layer rather than a flag of attention_forward, so the attention core keeps
 * one signature and models without QK-norm carry no extra buffers:
 *     linear -> qknorm -> attention  (forward),  attention -> qknorm -> linear  (backward). */
#ifndef TESSERA_QKNORM_H
#define TESSERA_QKNORM_H

#include <stddef.h>

#include "scalar.h"

/* N = B·T tokens; C = NH·HS. */
void qknorm_forward(scalar *out,       // (N,3C) normalised q and k, v copied
                    scalar *mean,      // (N,2NH) saved for backward
                    scalar *rstd,      // (N,2NH) saved for backward
                    const scalar *qkv, // (N,3C)
                    size_t N, size_t C, size_t NH);

/* Adds into dqkv. */
void qknorm_backward(scalar *dqkv,       // (N,3C)
                     const scalar *dout, // (N,3C)
                     const scalar *qkv,  // (N,3C)
                     const scalar *mean, // (N,2NH)
                     const scalar *rstd, // (N,2NH)
                     size_t N, size_t C, size_t NH);

#endif
