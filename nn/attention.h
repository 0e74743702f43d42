/* attention: multi-head scaled dot-product attention. The one attention core of every
 * sequence model here (autoregressive, MaskGIT, D-iGPT, ViT): they differ only in the mask.
 *
 * Layout. Input is the packed qkv (B,T,3C) that a single linear layer produces: for
 * token (b,t), q is channels [0,C), k [C,2C), v [2C,3C), and each is NH heads of HS = C/NH
 * consecutive channels. In torch terms: q, k, v = qkv.split(C, -1), then
 * q.view(B,T,NH,HS).transpose(1,2). The output (B,T,C) holds the heads side by side the
 * same way, ready for the output projection. The matrix products read each head in place
 * through its leading dimension (3C), so neither pass copies or transposes.
 *
 * Mask. uint8, mask[i*T + j] = 1 when query i may attend to key j. NULL: every query sees
 * every key (bidirectional). Otherwise (T,T) shared by the batch, or (B,T,T), one per
 * sample, when mask_per_sample is set. Causal attention is the lower-triangular (T,T)
 * mask of attention_causal_mask. Keys a whole block of queries may not see are not
 * computed at all (a causal mask skips most of the upper triangle; attention.c), in
 * both passes; any other mask works entry by entry.
 *
 * A query that may attend to no key gets output 0 and passes gradient 0 (softmax over an
 * empty set is undefined; torch gives NaN). Forward saves the softmax probabilities, 0 at
 * masked positions, for backward, which needs no mask: it skips what is 0 there. */
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "scalar.h"

/* mask[i*T + j] = (j <= i). */
void attention_causal_mask(uint8_t *mask, // (T,T)
                           size_t T);

/* out = softmax(q·kᵀ/√HS, masked) · v per head. C must be a multiple of NH. */
void attention_forward(scalar *out,         // (B,T,C)
                       scalar *att,         // (B,NH,T,T) probabilities, saved for backward
                       const scalar *qkv,   // (B,T,3C)
                       const uint8_t *mask, // NULL, (T,T) or (B,T,T) with mask_per_sample
                       int mask_per_sample, size_t B, size_t T, size_t C, size_t NH);

/* Adds into dqkv. scratch holds one head's (T,T) gradient at a time. */
void attention_backward(scalar *dqkv,       // (B,T,3C)
                        scalar *scratch,    // (T,T)
                        const scalar *dout, // (B,T,C)
                        const scalar *qkv,  // (B,T,3C)
                        const scalar *att,  // (B,NH,T,T)
                        size_t B, size_t T, size_t C, size_t NH);

#endif
