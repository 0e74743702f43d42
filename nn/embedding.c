/* embedding: row gather forward, row scatter-add backward. */
#include "embedding.h"

#include <assert.h>
#include <string.h>

void embedding_forward(scalar *out, const int32_t *ids, const scalar *table, size_t N, size_t V, size_t C) {
    for (size_t n = 0; n < N; n++) {
        assert(ids[n] >= 0 && (size_t)ids[n] < V);
        memcpy(out + n * C, table + (size_t)ids[n] * C, C * sizeof *out);
    }
    (void)V; /* only read by the assert */
}

void embedding_backward(scalar *dtable, const scalar *dout, const int32_t *ids, size_t N, size_t V, size_t C) {
    for (size_t n = 0; n < N; n++) {
        assert(ids[n] >= 0 && (size_t)ids[n] < V);
        scalar *row = dtable + (size_t)ids[n] * C;
        const scalar *g = dout + n * C;
        for (size_t c = 0; c < C; c++) row[c] += g[c];
    }
    (void)V;
}
