/* feature_set: reading a store through a feature source (see feature_set.h). */
#include "feature_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../store/store.h"
#include "npy.h"

static int check_store(const FeatureSource *src, Store *st, const char *path, Err *err) {
    Meta m;
    if (store_meta_load(st, &m, err) != 0) return err_prefix(err, "%s", path);
    const char *kind = meta_get(&m, "kind"), *h = meta_get(&m, "height"), *w = meta_get(&m, "width");
    const char *c = meta_get(&m, "channels");
    int rc = !kind || strcmp(kind, "pixels") != 0
                 ? err_set(err, "%s: is a %s store; features are taken of pixel stores", path, kind ? kind : "unknown")
             : !h || !w || !c || atoi(h) != src->height || atoi(w) != src->width || atoi(c) != src->channels
                 ? err_set(err, "%s: holds %s×%s×%s images; %s takes %d×%d×%d", path, h ? h : "?", w ? w : "?",
                           c ? c : "?", src->path, src->height, src->width, src->channels)
                 : 0;
    meta_free(&m);
    return rc;
}

/* Reads records [at, at + m) of the set into images and labels, each checked. */
static int read_chunk(StoreRead *sr, const FeatureSource *src, const char *path, const uint64_t *idx, size_t at,
                      size_t m, const uint8_t **images, int32_t *labels, Err *err) {
    size_t bytes = (size_t)src->height * src->width * src->channels;
    for (size_t i = 0; i < m; i++) {
        uint64_t r = idx ? idx[at + i] : at + i;
        RecordView rec;
        if (store_read_record(sr, r, &rec, err) != 0) return err_prefix(err, "%s: record %llu", path, (unsigned long long)r);
        if (rec.dtype != DTYPE_U8 || rec.payload_bytes != bytes || rec.height != src->height ||
            rec.width != src->width || rec.channels != src->channels)
            return err_set(err, "%s: record %llu is %u×%u×%u, the store says %d×%d×%d", path, (unsigned long long)r,
                           rec.height, rec.width, rec.channels, src->height, src->width, src->channels);
        images[i] = rec.payload;
        labels[at + i] = rec.label;
    }
    return 0;
}

int feature_set_from_store(FeatureSet *out, const FeatureSource *src, const char *path, const uint64_t *idx, size_t n,
                           Err *err) {
    memset(out, 0, sizeof *out);
    Store st;
    if (store_open(&st, path, 0, 0, err) != 0) return -1;
    int rc = check_store(src, &st, path, err);
    uint64_t count = store_record_count(&st);
    if (rc == 0 && n == 0) n = (size_t)count;
    if (rc == 0 && n == 0) rc = err_set(err, "%s: holds no records", path);
    for (size_t i = 0; rc == 0 && idx && i < n; i++)
        if (idx[i] >= count)
            rc = err_set(err, "%s: has %llu records, record %llu was asked for", path, (unsigned long long)count,
                         (unsigned long long)idx[i]);
    if (rc == 0 && !idx && n > count)
        rc = err_set(err, "%s: has %llu records, %zu were asked for", path, (unsigned long long)count, n);
    if (rc != 0) {
        store_close(&st);
        return -1;
    }
    *out = (FeatureSet){.n = n, .dim = src->dim, .classes = src->classes, .path = xstrdup(path)};
    out->features = xmalloc(n * out->dim * sizeof *out->features);
    out->probs = xmalloc((n * out->classes + 1) * sizeof *out->probs);
    out->labels = xmalloc(n * sizeof *out->labels);
    const uint8_t **images = xmalloc(src->chunk * sizeof *images);
    for (size_t at = 0; rc == 0 && at < n; at += src->chunk) {
        size_t m = n - at < src->chunk ? n - at : src->chunk;
        StoreRead sr;
        if ((rc = store_read_begin(&st, &sr, err)) != 0) break;
        if ((rc = read_chunk(&sr, src, path, idx, at, m, images, out->labels, err)) == 0)
            src->embed(src->ctx, images, m, out->features + at * out->dim, out->probs + at * out->classes);
        store_read_end(&sr);
    }
    free(images);
    store_close(&st);
    if (rc != 0) feature_set_free(out);
    return rc;
}

void feature_set_free(FeatureSet *s) {
    free(s->features);
    free(s->probs);
    free(s->labels);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* n distinct record indices of [0, count), drawn with a partial Fisher–Yates shuffle. */
static uint64_t *draw_subset(uint64_t count, size_t n, uint64_t seed) {
    uint64_t *p = xmalloc(count * sizeof *p);
    for (uint64_t i = 0; i < count; i++) p[i] = i;
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        uint64_t j = i + rng_below(&r, count - i), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

static int store_count(const char *path, uint64_t *count, Err *err) {
    Store st;
    if (store_open(&st, path, 0, 0, err) != 0) return -1;
    *count = store_record_count(&st);
    store_close(&st);
    return 0;
}

int feature_set_load(FeatureSet *s, const FeatureSource *src, const char *path, size_t n, uint64_t seed, Err *err) {
    memset(s, 0, sizeof *s);
    uint64_t count;
    if (store_count(path, &count, err) != 0) return -1;
    if (n > count) return err_set(err, "%s: holds %llu records, %zu were asked for", path, (unsigned long long)count, n);
    if (n == 0) n = (size_t)count;
    if (n == 0) return err_set(err, "%s: holds no records", path);
    uint64_t *idx = draw_subset(count, n, seed);
    int rc = feature_set_from_store(s, src, path, idx, n, err);
    free(idx);
    return rc;
}

int feature_set_dump(const FeatureSet *s, const char *dir, const char *name, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_features.npy", dir, name);
    if (npy_write_f64(path, s->features, s->n, s->dim, err) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s_probs.npy", dir, name);
    if (s->classes && npy_write_f64(path, s->probs, s->n, s->classes, err) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s_labels.npy", dir, name);
    return npy_write_i32(path, s->labels, s->n, 0, err);
}

