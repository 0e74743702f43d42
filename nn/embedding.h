/* embedding: a lookup table from int32 ids to vectors (token, class and position
 * embeddings). Backward scatters into the table's gradient; an id that occurs k times in
 * a batch receives the sum of its k output gradients. */
#ifndef TESSERA_EMBEDDING_H
#define TESSERA_EMBEDDING_H

#include <stddef.h>
#include <stdint.h>

#include "scalar.h"

/* out[n] = table[ids[n]]. Every id must lie in [0, V): ids come from our own tokenizers
 * and dataset code, which check them, so a bad id here is a bug (assert), not bad input. */
void embedding_forward(scalar *out,         // (N,C)
                       const int32_t *ids,  // (N)
                       const scalar *table, // (V,C)
                       size_t N, size_t V, size_t C);

/* dtable[ids[n]] += dout[n]. */
void embedding_backward(scalar *dtable,      // (V,C)
                        const scalar *dout,  // (N,C)
                        const int32_t *ids,  // (N)
                        size_t N, size_t V, size_t C);

#endif
