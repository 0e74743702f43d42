/* crossentropy: softmax and negative log-likelihood fused, over logits (N,V) and int32
 * targets (N), with an ignore value and optional per-position weights.
 *
 * Normalisation. With nll_i = logsumexp(logits_i) - logits_i[targets_i] and w_i = 1 when
 * weights is NULL,
 *
 *     loss = Σ_i w_i·nll_i / Σ_i w_i,   both sums over the i with targets_i != ignore.
 *
 * That is torch.nn.CrossEntropyLoss(reduction='none', ignore_index=ignore), multiplied by
 * w and summed, divided by the sum of w over non-ignored positions; without weights it is
 * reduction='mean'. Where torch returns NaN (every target ignored, or the weights summing
 * to 0) the loss and its gradient are 0, so a batch whose targets are all masked out
 * trains nothing instead of poisoning the weights. The normaliser is per call: a
 * data-parallel trainer whose ranks see different numbers of targets rescales dloss.
 *
 * Numerically stable: every exp sees z - max(z) <= 0. Forward saves per row the maximum
 * and log Σ exp(z - max) (2N values instead of an (N,V) probability table); backward
 * recomputes the probabilities as exp((z - max) - logsum). Saving max + logsum as one
 * number would lose its low bits when the logits are large (at |z| ~ 1000 a float is
 * good to 6e-5), and with them the small probabilities. */
#ifndef TESSERA_CROSSENTROPY_H
#define TESSERA_CROSSENTROPY_H

#include <stddef.h>
#include <stdint.h>

#include "scalar.h"

/* Returns the loss above. losses (may be NULL) receives nll_i, 0 where ignored. Targets
 * that are not `ignore` must lie in [0, V) (assert). */
scalar crossentropy_forward(scalar *losses,         // (N) or NULL
                            scalar *row_max,        // (N) saved for backward
                            scalar *row_logsum,     // (N) saved for backward
                            const scalar *logits,   // (N,V)
                            const int32_t *targets, // (N)
                            const scalar *weights,  // (N) or NULL (all 1)
                            int32_t ignore, size_t N, size_t V);

/* dlogits += dloss · w_i / Σw · (softmax(logits_i) - onehot(targets_i)); ignored rows get
 * nothing. dloss is the gradient of the training objective with respect to the returned
 * loss (1 when the loss is the objective). */
void crossentropy_backward(scalar *dlogits,          // (N,V)
                           scalar dloss,
                           const scalar *logits,     // (N,V)
                           const scalar *row_max,    // (N)
                           const scalar *row_logsum, // (N)
                           const int32_t *targets,   // (N)
                           const scalar *weights,    // (N) or NULL
                           int32_t ignore, size_t N, size_t V);

#endif
