/* token_store: a token store's meta (see token_store.h). */
#include "token_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"

void token_store_write_meta(StoreWriter *w, const Tokenizer *t, const TokenSource *src) {
    char v[128];
    writer_set_standard_meta(w, "tokens", "uint16");
    writer_set_meta(w, "token_kind", "vq");
#define SET_INT(key, x) (snprintf(v, sizeof v, "%lld", (long long)(x)), writer_set_meta(w, key, v))
    SET_INT("height", t->grid_h);
    SET_INT("width", t->grid_w);
    SET_INT("channels", 1);
    SET_INT("codebook_size", t->K);
    SET_INT("image_height", t->height);
    SET_INT("image_width", t->width);
    SET_INT("image_channels", t->channels);
    SET_INT("downsample", t->downsample);
    SET_INT("num_labels", src->n_labels);
#undef SET_INT
    tokenizer_identity(t, v, sizeof v);
    writer_set_meta(w, "tokenizer", v);
    writer_set_meta(w, "tokenizer_kind", t->kind);
    snprintf(v, sizeof v, "%08x", t->checksum);
    writer_set_meta(w, "tokenizer_checksum", v);
    char *abs = realpath(t->path, NULL);
    writer_set_meta(w, "tokenizer_path", abs ? abs : t->path);
    free(abs);
    writer_set_meta(w, "tokenizer_config", t->config_text);
    writer_set_meta(w, "label_names", src->label_names);
    writer_set_meta(w, "source", src->description);
    if (src->source_store) writer_set_meta(w, "source_store", src->source_store);
}

int token_store_check_tokenizer(const Meta *m, const char *path, const Tokenizer *t, Err *err) {
    const char *kind = meta_get(m, "kind"), *made_by = meta_get(m, "tokenizer");
    if (!kind || strcmp(kind, "tokens") != 0) return err_set(err, "%s: is a %s store, not a token store", path, kind ? kind : "unknown");
    char mine[128];
    tokenizer_identity(t, mine, sizeof mine);
    if (!made_by || strcmp(made_by, mine) != 0) {
        const char *from = meta_get(m, "tokenizer_path");
        return err_set(err, "%s: its codes were made by tokenizer %s (%s), not by %s (%s)", path,
                       made_by ? made_by : "(none recorded)", from ? from : "?", t->path, mine);
    }
    const char *h = meta_get(m, "height"), *w = meta_get(m, "width");
    if (!h || !w || atoi(h) * t->downsample != t->height || atoi(w) * t->downsample != t->width)
        return err_set(err, "%s: its %s×%s grid is not the tokenizer's %d×%d", path, h ? h : "?", w ? w : "?",
                       t->grid_h, t->grid_w);
    return 0;
}

int token_store_check_meta(const Meta *m, const char *path, const Tokenizer *t, const TokenSource *src, Err *err) {
    if (token_store_check_tokenizer(m, path, t, err) != 0) return -1;
    /* More sources may be added to a store, as with ingest; their labels must mean the same. */
    const char *names = meta_get(m, "label_names");
    if (strcmp(names ? names : "", src->label_names) != 0)
        return err_set(err, "%s: its label names differ from these sources'", path);
    return 0;
}

int token_record_check(const RecordView *r, int grid_h, int grid_w, int K, Err *err) {
    size_t cells = (size_t)grid_h * (size_t)grid_w;
    if (r->dtype != DTYPE_U16 || r->height != grid_h || r->width != grid_w || r->payload_bytes != 2 * cells)
        return err_set(err, "is not a %d×%d uint16 code grid", grid_h, grid_w);
    for (size_t c = 0; c < cells; c++) {
        unsigned code = token_code(r, c);
        if (code >= (unsigned)K)
            return err_set(err, "code %u at row %zu, column %zu is out of range (the tokenizer has %d codes)", code,
                           c / (size_t)grid_w, c % (size_t)grid_w, K);
    }
    return 0;
}
