/* held_out: a model's validation store (see held_out.h). */
#include "held_out.h"

#include <stdlib.h>
#include <string.h>

#include "../store/meta.h"

static int same_file(const char *a, const char *b) {
    char *x = realpath(a, NULL), *y = realpath(b, NULL);
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

int held_out_open(HeldOut *h, const Config *c, int height, int width, int channels, Err *err) {
    memset(h, 0, sizeof *h);
    *h = (HeldOut){.height = height, .width = width, .channels = channels};
    const char *path = config_str(c, "val_store");
    if (!*path) return 0;
    if (same_file(path, config_str(c, "store")))
        return err_set(err, "val_store = %s is the training store; give the held-out split", path);
    if (store_open(&h->store, path, 0, 0, err) != 0) return err_set(err, "val_store = %s", err->msg);
    h->open = 1;
    Meta meta;
    if (store_meta_load(&h->store, &meta, err) != 0) {
        held_out_close(h);
        return -1;
    }
    const char *kind = meta_get(&meta, "kind"), *hs = meta_get(&meta, "height"), *ws = meta_get(&meta, "width");
    const char *cs = meta_get(&meta, "channels");
    int rc = kind && strcmp(kind, "pixels") != 0
                 ? err_set(err, "val_store = %s: is a %s store, not a pixel store", path, kind)
             : !hs || !ws || !cs || atoi(hs) != height || atoi(ws) != width || atoi(cs) != channels
                 ? err_set(err, "val_store = %s: holds %s×%s×%s images, the training store %d×%d×%d", path,
                           hs ? hs : "?", ws ? ws : "?", cs ? cs : "?", height, width, channels)
                 : 0;
    meta_free(&meta);
    if (rc != 0) {
        held_out_close(h);
        return -1;
    }
    uint64_t limit = (uint64_t)config_int(c, "val_images"), count = store_record_count(&h->store);
    h->count = limit && limit < count ? limit : count;
    return 0;
}

int held_out_read(HeldOut *h, StoreRead *sr, const uint64_t *idx, size_t n, RecordView *out, Err *err) {
    size_t bytes = (size_t)h->height * h->width * h->channels;
    for (size_t i = 0; i < n; i++) {
        if (store_read_record(sr, idx[i], &out[i], err) != 0) return -1;
        const RecordView *r = &out[i];
        if (r->dtype != DTYPE_U8 || r->height != h->height || r->width != h->width || r->channels != h->channels ||
            r->payload_bytes != bytes)
            return err_set(err, "%s: record %llu is %u×%u×%u, the model takes %d×%d×%d uint8 images", h->store.path,
                           (unsigned long long)idx[i], r->height, r->width, r->channels, h->height, h->width,
                           h->channels);
    }
    return 0;
}

void held_out_close(HeldOut *h) {
    if (h->open) store_close(&h->store);
    h->open = 0;
}
