/* model: what the trainer needs from a model family. The trainer owns the loop,
 * MPI, the optimizer, schedules, checkpoints and logs; a model owns its parameters
 * (one flat ParamTable buffer), turns this rank's share of a batch of store records
 * into a loss and gradients, and draws samples. */
#ifndef TESSERA_MODEL_H
#define TESSERA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../nn/params.h"
#include "../store/meta.h"
#include "../store/record.h"
#include "checkpoint.h"

typedef struct Model Model;

struct Model {
    const char *kind;            /* the `model` config value, stored in checkpoints */
    const ParamTable *table;     /* parameter layout */
    float *params, *grads;       /* t->total each */
    uint32_t n_dims;             /* the model's shape, checked when a checkpoint loads */
    uint64_t dims[CKPT_MAX_DIMS];
    size_t tokens_per_example;   /* for tokens/s (0 when it does not apply) */
    void *state;
    /* Zeroes the gradients, then forward + backward over n examples; returns the mean loss. */
    float (*step)(Model *m, const RecordView *examples, size_t n);
    /* Writes a PNG of samples (one row per class where it applies). */
    int (*write_samples)(Model *m, const char *png, uint64_t seed, Err *err);
    void (*destroy)(Model *m);
};

typedef struct {
    const char *name;
    const ConfigKey *keys; /* the model's own keys, after the shared ones */
    const char *store_kind; /* the store kind it trains on: "pixels", later "tokens" */
    /* Bytes one rank needs (parameters, gradients, AdamW moments, activations), estimated
     * before anything is allocated, so a config too big for the machine is refused early. */
    size_t (*memory_bytes)(const Config *c, const Meta *store_meta, size_t per_rank_batch);
    /* Builds the model for this config and store (activations are sized on the first step). */
    int (*create)(Model *m, const Config *c, const Meta *store_meta, Err *err);
} ModelKind;

extern const ModelKind IGPT_MODEL;

#endif
