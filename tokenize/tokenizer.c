/* tokenizer: loading a tokenizer checkpoint (see tokenizer.h). */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"
#include "../train/checkpoint.h"
#include "../train/model.h"

int tokenizer_open(Tokenizer *t, const char *path, int height, int width, Err *err) {
    memset(t, 0, sizeof *t);
    CheckpointInfo info;
    if (checkpoint_inspect(path, &info, &t->config_text, err) != 0) return -1;
    if (strcmp(info.model, "vqvae") != 0) {
        tokenizer_close(t); /* leaves t closed (config_text NULL): callers may close it again */
        return err_set(err, "%s: is a checkpoint of model '%s', not of a tokenizer (vqvae)", path, info.model);
    }
    Config cfg;
    const ConfigKey *const schemas[] = {TRAIN_SHARED_KEYS, VQVAE_KEYS, NULL};
    VqVaeShape s;
    uint64_t dims[VQVAE_N_DIMS];
    int rc = config_load_text(&cfg, schemas, t->config_text, path, err);
    if (rc == 0) {
        rc = vqvae_shape(&s, &cfg, (int)info.dims[0], (int)info.dims[1], (int)info.dims[2], err);
        if (rc != 0) err_prefix(err, "%s: bad tokenizer config", path);
        config_free(&cfg);
        if (rc == 0) vqvae_shape_dims(&s, dims);
        if (rc == 0 && (info.n_dims != VQVAE_N_DIMS || memcmp(dims, info.dims, sizeof dims) != 0))
            rc = err_set(err, "%s: its header's dimensions disagree with its own config", path);
    }
    if (rc != 0) {
        tokenizer_close(t);
        return -1;
    }
    VqVaeShape sized = s;
    if (height && width) {
        if (height % s.downsample || width % s.downsample) {
            tokenizer_close(t);
            return err_set(err, "%s: its downsampling factor %d does not divide the image size %d×%d", path,
                           s.downsample, height, width);
        }
        sized.height = height;
        sized.width = width;
    }
    vqvae_create(&t->net, &sized); /* the parameters do not depend on the image size */
    CheckpointInfo expect = {.n_params = t->net.table.total, .n_dims = VQVAE_N_DIMS}, got;
    snprintf(expect.model, sizeof expect.model, "vqvae");
    memcpy(expect.dims, dims, sizeof dims);
    rc = checkpoint_load_weights(path, &expect, t->net.params, &got, err);
    if (rc != 0) {
        tokenizer_close(t);
        return -1;
    }
    t->path = xstrdup(path);
    snprintf(t->kind, sizeof t->kind, "vqvae");
    t->checksum = got.checksum;
    t->height = sized.height;
    t->width = sized.width;
    t->trained_height = s.height;
    t->trained_width = s.width;
    t->downsample = s.downsample;
    t->channels = s.channels;
    t->grid_h = t->net.grid_h;
    t->grid_w = t->net.grid_w;
    t->K = s.q.K;
    return 0;
}

void tokenizer_close(Tokenizer *t) {
    if (t->net.params) vqvae_free(&t->net);
    free(t->path);
    free(t->config_text);
    memset(t, 0, sizeof *t);
}

void tokenizer_identity(const Tokenizer *t, char *out, size_t cap) {
    snprintf(out, cap, "%s:%08x", t->kind, t->checksum);
}
