/* feature_net: loading an evalnet checkpoint and scoring stores with it (see feature_net.h). */
#include "feature_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"
#include "../store/store.h"
#include "../train/checkpoint.h"
#include "../train/model.h"

enum { CHUNK = 256 };

int feature_net_open(FeatureNet *f, const char *path, Err *err) {
    memset(f, 0, sizeof *f);
    CheckpointInfo info;
    char *config_text = NULL;
    if (checkpoint_inspect(path, &info, &config_text, err) != 0) return -1;
    int rc = 0;
    EvalNetShape s;
    if (strcmp(info.model, "evalnet") != 0)
        rc = err_set(err, "%s: is a checkpoint of model '%s', not of a feature network (evalnet)", path, info.model);
    else if (evalnet_shape_from_dims(&s, info.dims, info.n_dims, err) != 0)
        rc = err_prefix(err, "%s", path);
    Config cfg;
    const ConfigKey *const schemas[] = {TRAIN_SHARED_KEYS, EVALNET_KEYS, NULL};
    if (rc == 0 && (rc = config_load_text(&cfg, schemas, config_text, path, err)) == 0) {
        f->train_store = xstrdup(config_str(&cfg, "store"));
        config_free(&cfg);
    }
    free(config_text);
    if (rc != 0) return -1;
    evalnet_create(&f->net, &s);
    CheckpointInfo expect = {.n_params = f->net.table.total, .n_dims = EVALNET_N_DIMS}, got;
    snprintf(expect.model, sizeof expect.model, "evalnet");
    memcpy(expect.dims, info.dims, sizeof expect.dims);
    rc = checkpoint_load_weights(path, &expect, f->net.params, &got, err);
    if (rc != 0) {
        feature_net_close(f);
        return -1;
    }
    f->path = xstrdup(path);
    f->checksum = got.checksum;
    f->step = got.step;
    return 0;
}

void feature_net_close(FeatureNet *f) {
    if (f->net.params) evalnet_free(&f->net);
    free(f->path);
    free(f->train_store);
    memset(f, 0, sizeof *f);
}

/* Features and probabilities of n images. */
static void embed(void *ctx, const uint8_t *const *images, size_t n, double *features, double *probs) {
    EvalNet *v = &((FeatureNet *)ctx)->net;
    size_t dim = (size_t)v->s.features, classes = (size_t)v->s.classes;
    evalnet_reserve(v, n);
    evalnet_set_inputs(v, images, NULL, n);
    evalnet_forward(v, n);
    const scalar *feat = evalnet_features(v), *logits = evalnet_logits(v);
    for (size_t i = 0; i < n * dim; i++) features[i] = feat[i];
    for (size_t i = 0; i < n; i++) {
        const scalar *z = logits + i * classes;
        double *p = probs + i * classes, top = z[0], sum = 0;
        for (size_t k = 1; k < classes; k++) top = fmax(top, z[k]);
        for (size_t k = 0; k < classes; k++) sum += p[k] = exp((double)z[k] - top);
        for (size_t k = 0; k < classes; k++) p[k] /= sum;
    }
}

FeatureSource feature_net_source(FeatureNet *f) {
    return (FeatureSource){.ctx = f, .path = f->path, .height = f->net.s.size, .width = f->net.s.size,
                           .channels = f->net.s.channels, .dim = (size_t)f->net.s.features,
                           .classes = (size_t)f->net.s.classes, .chunk = CHUNK, .embed = embed};
}

