/* token_store: the meta of a token store (docs/FORMAT.md, "Token stores"): which tokenizer
 * made it (kind, checksum, path, its training config), the code range K, the grid, the
 * image size the codes decode to, and the source. Records are uint16 grids (record.h,
 * DTYPE_U16, channels 1, height × width = the grid), labels carried over from the source.
 * The format leaves room for variable-length records (RECORD_FLAG_VARIABLE: dynamic codes)
 * and for float16 feature vectors (DTYPE_F16: semantic tokens), under other token_kind
 * values. */
#ifndef TESSERA_TOKEN_STORE_H
#define TESSERA_TOKEN_STORE_H

#include "../core/err.h"
#include "../store/meta.h"
#include "../store/writer.h"
#include "tokenizer.h"

typedef struct {
    const char *description; /* what the codes were made from: a pixel store path, or the sources */
    const char *source_store; /* absolute path of the pixel store, or NULL for JPEG sources */
    const char *label_names;  /* one per line, "" for none */
    size_t n_labels;
} TokenSource;

void token_store_write_meta(StoreWriter *w, const Tokenizer *t, const TokenSource *src);
/* An existing token store continued by tokenize: same tokenizer, grid and label names. */
int token_store_check_meta(const Meta *m, const char *path, const Tokenizer *t, const TokenSource *src, Err *err);
/* A token store to decode: made by this tokenizer (by checksum), with its grid. */
int token_store_check_tokenizer(const Meta *m, const char *path, const Tokenizer *t, Err *err);

/* Code i of a VQ token record (uint16, little-endian). */
static inline unsigned token_code(const RecordView *r, size_t i) {
    return (unsigned)r->payload[2 * i] | (unsigned)r->payload[2 * i + 1] << 8;
}
/* A record of a VQ token store: a grid_h × grid_w uint16 grid with every code < K. Says
 * which code is out of range by row and column. */
int token_record_check(const RecordView *r, int grid_h, int grid_w, int K, Err *err);

#endif
