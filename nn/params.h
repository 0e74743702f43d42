/* params: parameters, gradients, optimizer moments and activations each live in ONE
 * allocation, carved into named tensors by a table of sizes (as llm.c does). The same
 * table lays out params, grads, AdamW's m and v, so the optimizer step is one loop over
 * a flat buffer and a data-parallel gradient sum is one MPI_Allreduce on it.
 *
 *   static const ParamSpec specs[] = {{"wte", V * C, PARAM_NO_DECAY}, {"w1", C * H, 0}};
 *   ParamTable t;
 *   param_table_init(&t, specs, 2);
 *   scalar *params = param_table_alloc(&t), *grads = param_table_alloc(&t);
 *   scalar *wte = params + t.offsets[0];
 */
#ifndef TESSERA_PARAMS_H
#define TESSERA_PARAMS_H

#include <stddef.h>

#include "scalar.h"

enum {
    PARAM_NO_DECAY = 1, /* norms, biases, embeddings: no weight decay in AdamW */
    /* State saved with the parameters but not trained by the optimizer (torch's buffers):
     * e.g. a codebook learned by EMA and its running statistics. AdamW skips it. */
    PARAM_FROZEN = 2,
};

typedef struct {
    const char *name;
    size_t count; /* elements */
    int flags;
} ParamSpec;

typedef struct {
    const ParamSpec *specs;
    size_t n;
    size_t *offsets; /* element offset of each tensor in the flat buffer */
    size_t total;    /* elements in all */
} ParamTable;

void param_table_init(ParamTable *t, const ParamSpec *specs, size_t n);
void param_table_free(ParamTable *t);
/* One zeroed allocation of t->total scalars, 64-byte aligned. */
scalar *param_table_alloc(const ParamTable *t);

#endif
