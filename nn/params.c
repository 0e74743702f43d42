/* params: flat buffers carved by a size table (see params.h). */
#include "params.h"

#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

void param_table_init(ParamTable *t, const ParamSpec *specs, size_t n) {
    t->specs = specs;
    t->n = n;
    t->offsets = xmalloc((n ? n : 1) * sizeof *t->offsets);
    t->total = 0;
    for (size_t i = 0; i < n; i++) {
        t->offsets[i] = t->total;
        t->total += specs[i].count;
    }
}

void param_table_free(ParamTable *t) {
    free(t->offsets);
    memset(t, 0, sizeof *t);
}

scalar *param_table_alloc(const ParamTable *t) {
    size_t bytes = (t->total ? t->total : 1) * sizeof(scalar);
    scalar *p = xmalloc_large(bytes);
    memset(p, 0, bytes);
    return p;
}
