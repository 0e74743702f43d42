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
#include "grad_sync.h"

typedef struct Model Model;

/* Named numbers a model reports: its own parts of the loss, validation scores. */
enum { MODEL_MAX_MEASURES = 16 };
typedef struct {
    size_t n;
    const char *names[MODEL_MAX_MEASURES]; /* static strings */
    double values[MODEL_MAX_MEASURES];
} Measures;

static inline void measures_add(Measures *m, const char *name, double value) {
    if (m->n < MODEL_MAX_MEASURES) m->names[m->n] = name, m->values[m->n++] = value;
}

/* The collective operations a model may call inside step, after_update and validate
 * (MPI under mpirun; for one rank they change nothing). Every rank must make the same
 * calls in the same order. */
typedef struct {
    int rank, size;
    void (*sum_floats)(float *buf, size_t n);
    void (*sum_doubles)(double *buf, size_t n);
    /* For step's backward to tell which gradients are final, so their sum over ranks can
     * overlap it (grad_sync.h; set when grad_bucket_mb > 0, else its functions are NULL). A model
     * that tells nothing has its gradients summed after step. */
    GradHook grad_hook;
} ModelComm;

struct Model {
    const char *kind;            /* the `model` config value, stored in checkpoints */
    const ParamTable *table;     /* parameter layout */
    float *params, *grads;       /* t->total each */
    uint32_t n_dims;             /* the model's shape, checked when a checkpoint loads */
    uint64_t dims[CKPT_MAX_DIMS];
    size_t tokens_per_example;   /* for tokens/s (0 when it does not apply) */
    void *state;
    ModelComm comm; /* set by the trainer before the first step */
    uint64_t updates_done; /* optimizer steps before the coming `step` (set by the trainer) */
    /* Optional: refuses a record it cannot train on (a code out of range, say). The trainer
     * checks every record of the store with it before the first step. */
    int (*check_example)(const Model *m, const RecordView *example, Err *err);
    /* Zeroes the gradients, then forward + backward over n examples; returns the mean loss.
     * Parts of the loss go in step_measures (averaged over ranks and logged). */
    float (*step)(Model *m, const RecordView *examples, size_t n);
    Measures step_measures;
    /* Optional: run on every rank after each optimizer step, for state the optimizer does
     * not own (an EMA codebook); `step` is the number of updates done. */
    void (*after_update)(Model *m, uint64_t step);
    /* Optional: scores on held-out data every validate_every steps and at the end, logged
     * with a "val_" prefix. Collective: every rank calls it. */
    int (*validate)(Model *m, Measures *out, Err *err);
    uint64_t validate_every;
    /* Writes a PNG of samples (one row per class where it applies), on rank 0. */
    int (*write_samples)(Model *m, const char *png, uint64_t seed, Err *err);
    const char *samples_name; /* file name in run_dir; NULL: "samples.png" */
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
    /* Optional, before memory_bytes and create: fills keys whose default comes from the
     * store (its tokenizer, say), or refuses a config that does not fit the store. */
    int (*resolve)(Config *c, const Meta *store_meta, Err *err);
} ModelKind;

extern const ModelKind IGPT_MODEL;

/* Stages register the models they define at start-up (tessera.c), as pool jobs are. */
void train_register_model(const ModelKind *kind);
const ModelKind *train_find_model(const char *name);
/* "igpt|vqvae|...", for messages. */
void train_model_names(char *out, size_t cap);

/* The keys every model shares (model, store, run_dir, batch_size, ...): a checkpoint's
 * config text is parsed with these and the model's own. */
extern const ConfigKey TRAIN_SHARED_KEYS[];

#endif
