/* feature_set: the feature vectors of a pixel store's images under some feature source — a
 * trained network that turns images into vectors — which every metric of `tessera eval`
 * but recon is computed on, and their dump as .npy files so anyone can recompute. */
#ifndef TESSERA_FEATURE_SET_H
#define TESSERA_FEATURE_SET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* What turns images into feature vectors (and, for a classifier, class probabilities):
 * the feature network here; any model that exposes features can be one (the linear probe
 * also reads a tokenizer's, eval/probe_cmd.c). */
typedef struct {
    void *ctx;
    const char *path; /* its checkpoint, for messages */
    int height, width, channels;
    size_t dim, classes; /* classes 0: no probabilities */
    size_t chunk;        /* most images per embed call */
    /* features: n × dim, probs: n × classes (unused when classes is 0) */
    void (*embed)(void *ctx, const uint8_t *const *images, size_t n, double *features, double *probs);
} FeatureSource;

/* A set of images scored by a source: features (n × dim) and probabilities (n × classes)
 * in double, and each record's label (−1: none). */
typedef struct {
    size_t n, dim, classes;
    double *features, *probs;
    int32_t *labels;
    char *path; /* the store */
} FeatureSet;

/* Runs the source over records idx[0..n) of the pixel store at path (idx NULL: records
 * 0..n−1; n 0: all of them). Refuses a store of other images (size or channels) than the
 * source takes, naming both. */
int feature_set_from_store(FeatureSet *out, const FeatureSource *src, const char *path, const uint64_t *idx, size_t n,
                           Err *err);
/* The same for n records (0: all) in a seeded random order: a random subset when n is
 * smaller than the store, and never the store's own order, which may be by class (IS's
 * splits would each see one class; torch-fidelity shuffles before splitting too). */
int feature_set_load(FeatureSet *out, const FeatureSource *src, const char *path, size_t n, uint64_t seed, Err *err);
/* DIR/NAME_features.npy, NAME_probs.npy (when there are classes), NAME_labels.npy. */
int feature_set_dump(const FeatureSet *s, const char *dir, const char *name, Err *err);
void feature_set_free(FeatureSet *s);

#endif
