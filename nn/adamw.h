/* adamw: the AdamW update (Loshchilov & Hutter), as torch.optim.AdamW: weight decay is
 * decoupled from the gradient (p -= lr * wd * p, before the Adam step) and both moments are
 * bias-corrected. It works on the flat buffers a ParamTable lays out (params.h), params,
 * grads, m and v sharing one indexing; tensors flagged PARAM_NO_DECAY (norms, biases,
 * embeddings) get no weight decay, and tensors flagged PARAM_FROZEN (state a model updates
 * itself, e.g. an EMA codebook) are not touched. m and v start zeroed (param_table_alloc). */
#ifndef TESSERA_ADAMW_H
#define TESSERA_ADAMW_H

#include <stddef.h>

#include "params.h"
#include "scalar.h"

typedef struct {
    double beta1, beta2; /* moment decay rates, e.g. 0.9, 0.999 (torch's defaults) */
    double eps;          /* added to sqrt(v̂), e.g. 1e-8 */
    double weight_decay; /* e.g. 0.1; applied as p *= 1 - lr * weight_decay */
} AdamWConfig;

/* One step over every tensor of t (t->total elements). lr is this step's learning rate
 * (schedule_lr); t_step numbers the updates from 1 (bias correction 1 - beta^t_step), so
 * the update after schedule step s is t_step = s + 1, as llm.c does. */
void adamw_step(scalar *params,       // (t->total)
                scalar *m,            // (t->total) first moments
                scalar *v,            // (t->total) second moments
                const scalar *grads,  // (t->total)
                const ParamTable *t, const AdamWConfig *c, double lr, long t_step);

/* adamw_step's inner loop: the update of n elements with the given weight decay (which
 * stands in for c->weight_decay), public so a caller can update a slice of the flat
 * buffer, e.g. one rank's shard. */
void adamw_update(scalar *params, scalar *m, scalar *v, const scalar *grads, size_t n, const AdamWConfig *c,
                  double lr, double weight_decay, long t_step);

#endif
