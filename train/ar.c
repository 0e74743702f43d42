/* ar: training the autoregressive token model, raster or RAR (see ar.h). */
#include "ar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../nn/attention.h"
#include "../tokenize/token_store.h"
#include "ar_sample.h"

const ConfigKey AR_KEYS[] = {
    {"tokenizer", CFG_STRING, "", 0, -1, NULL,
     "the tokenizer checkpoint that made the store (empty: the one its meta names)"},
    {"layers", CFG_INT, "4", 1, 48, NULL, "transformer blocks"},
    {"heads", CFG_INT, "4", 1, 64, NULL, "attention heads (width must be a multiple)"},
    {"width", CFG_INT, "128", 8, 4096, NULL, "channels of the residual stream"},
    {"gelu", CFG_ENUM, "erf", 0, -1, "erf|tanh", "GELU form"},
    {"qk_norm", CFG_BOOL, "false", 0, -1, NULL, "layer-normalise queries and keys per head"},
    {"target_aware", CFG_BOOL, "true", 0, -1, NULL, "RAR's target-aware positional embedding"},
    {"label_dropout", CFG_FLOAT, "0.1", 0, 1, NULL, "probability a sample's class becomes the null class"},
    {"anneal_start", CFG_FLOAT, "0", 0, 1e12, NULL, "RAR: random order (r = 1) until here"},
    {"anneal_end", CFG_FLOAT, "0", 0, 1e12, NULL, "RAR: r falls linearly to 0 here (start = end = 0: raster)"},
    {"anneal_unit", CFG_ENUM, "steps", 0, -1, "steps|epochs", "unit of anneal_start and anneal_end"},
    {"samples_per_class", CFG_INT, "8", 0, 64, NULL, "samples drawn for the final PNG (0: none)"},
    {"sample_cfg", CFG_FLOAT, "1.0", 0, 100, NULL, "guidance scale of the final PNG's samples"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ------------------------------------------------------------------ shape */

void ar_shape_dims(const ArShape *s, uint64_t dims[AR_N_DIMS]) {
    uint64_t d[AR_N_DIMS] = {s->K,      s->classes, s->grid_h,  s->grid_w,       s->layers,
                             s->heads,  s->width,   (uint64_t)s->qk_norm, (uint64_t)s->target_aware,
                             s->tokenizer_checksum};
    memcpy(dims, d, sizeof d);
}

int ar_shape_from_dims(ArShape *s, const uint64_t *d, uint32_t n_dims, Err *err) {
    if (n_dims != AR_N_DIMS) return err_set(err, "has %u dimensions, an AR model has %d", n_dims, AR_N_DIMS);
    *s = (ArShape){.K = d[0], .classes = d[1], .grid_h = d[2], .grid_w = d[3], .layers = d[4], .heads = d[5],
                   .width = d[6], .qk_norm = d[7] != 0, .target_aware = d[8] != 0, .tokenizer_checksum = (uint32_t)d[9]};
    if (!s->K || s->K > 65536 || s->classes > 65536 || !s->grid_h || !s->grid_w || s->grid_w > 65536 / s->grid_h ||
        !s->layers || s->layers > 48 || !s->heads || !s->width || s->width % s->heads || s->width > 4096)
        return err_set(err, "has dimensions no AR config gives");
    return 0;
}

GptConfig ar_gpt_config(const ArShape *s, int gelu_tanh) {
    size_t N = ar_seq(s);
    return (GptConfig){.vocab_in = s->K + s->classes + 1, .vocab_out = s->K, .max_seq = N, .positions = N + 1,
                       .target_aware = s->target_aware, .layers = s->layers, .heads = s->heads, .width = s->width,
                       .gelu = gelu_tanh ? GELU_TANH : GELU_ERF, .qk_norm = s->qk_norm};
}

double ar_random_order_ratio(double p, double start, double end) {
    if (p < start) return 1;
    if (p >= end) return 0;
    return 1 - (p - start) / (end - start);
}

void ar_sequence(size_t N, const int32_t *codes, int32_t class_id, const int32_t *order, int32_t *inputs,
                 int32_t *positions, int32_t *target_positions, int32_t *targets) {
    /* Slot t predicts the code at grid position τ_t; slot t > 0 holds the one at τ_{t-1}. */
    for (size_t t = 0; t < N; t++) {
        int32_t at = order ? order[t] : (int32_t)t;
        targets[t] = codes[at];
        target_positions[t] = at;
        if (t + 1 < N) {
            inputs[t + 1] = codes[at];
            positions[t + 1] = 1 + at;
        }
    }
    inputs[0] = class_id;
    positions[0] = 0;
}

/* ------------------------------------------------------------------ resolving the store */

static size_t meta_size(const Meta *m, const char *key) {
    const char *v = meta_get(m, key);
    return v ? strtoul(v, NULL, 10) : 0;
}

/* The tokenizer key names the checkpoint that made the store's codes: filled from the
 * store's meta when empty, checked against it (by CRC-32) otherwise. */
static int ar_resolve(Config *c, const Meta *meta, Err *err) {
    const char *store = config_str(c, "store"), *kind = meta_get(meta, "token_kind");
    const char *made_by = meta_get(meta, "tokenizer_checksum"), *meta_path = meta_get(meta, "tokenizer_path");
    if (!kind || strcmp(kind, "vq") != 0)
        return err_set(err, "%s: holds %s tokens; model = ar trains on VQ code grids", store, kind ? kind : "unknown");
    if (!made_by || !meta_size(meta, "codebook_size") || !meta_size(meta, "height") || !meta_size(meta, "width"))
        return err_set(err, "%s: its meta lacks the tokenizer, codebook_size or grid", store);
    const char *given = config_str(c, "tokenizer");
    const char *path = given[0] ? given : meta_path;
    if (!path) return err_set(err, "%s: its meta names no tokenizer path; give tokenizer = CKPT", store);
    CheckpointInfo info;
    if (checkpoint_inspect(path, &info, NULL, err) != 0)
        return err_prefix(err, "%s", given[0] ? "tokenizer" : "the token store's tokenizer (give tokenizer = CKPT)");
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", info.checksum);
    if (strcmp(info.model, "vqvae") != 0 || strcmp(crc, made_by) != 0)
        return err_set(err, "tokenizer %s (%s:%s) is not the tokenizer that made %s (%s:%s)", path, info.model, crc,
                       store, meta_get(meta, "tokenizer_kind") ? meta_get(meta, "tokenizer_kind") : "vqvae", made_by);
    return given[0] ? 0 : config_set(c, "tokenizer", path, "the store's meta", err);
}

static ArShape shape_of(const Config *c, const Meta *meta) {
    const char *crc = meta_get(meta, "tokenizer_checksum");
    return (ArShape){.K = meta_size(meta, "codebook_size"), .classes = meta_size(meta, "num_labels"),
                     .grid_h = meta_size(meta, "height"), .grid_w = meta_size(meta, "width"),
                     .layers = (size_t)config_int(c, "layers"), .heads = (size_t)config_int(c, "heads"),
                     .width = (size_t)config_int(c, "width"), .qk_norm = config_bool(c, "qk_norm"),
                     .target_aware = config_bool(c, "target_aware"),
                     .tokenizer_checksum = crc ? (uint32_t)strtoul(crc, NULL, 16) : 0};
}

/* ------------------------------------------------------------------ training */

typedef struct {
    ArShape s;
    Gpt gpt;
    int gelu_tanh;
    uint64_t seed;
    double label_dropout, anneal_start, anneal_end, steps_per_unit;
    size_t samples_per_class;
    double sample_cfg;
    char *tokenizer;
    int32_t *inputs, *positions, *target_positions, *targets, *codes, *order; /* (B,N); codes, order (N) */
    uint8_t *mask;
    size_t batch_cap;
} Ar;

static void ensure_batch(Ar *a, size_t n) {
    if (n <= a->batch_cap) return;
    size_t N = ar_seq(&a->s);
    int32_t **bufs[] = {&a->inputs, &a->positions, &a->target_positions, &a->targets};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        free(*bufs[i]);
        *bufs[i] = xmalloc(n * N * sizeof **bufs[i]);
    }
    a->batch_cap = n;
}

static int ar_check_example(const Model *m, const RecordView *r, Err *err) {
    const Ar *a = m->state;
    if (token_record_check(r, (int)a->s.grid_h, (int)a->s.grid_w, (int)a->s.K, err) != 0) return -1;
    if (r->label < -1 || (a->s.classes && (r->label < 0 || (size_t)r->label >= a->s.classes)))
        return err_set(err, "label %d is not one of the store's %zu classes", (int)r->label, a->s.classes);
    return 0;
}

static float ar_step(Model *m, const RecordView *examples, size_t n) {
    Ar *a = m->state;
    size_t N = ar_seq(&a->s);
    ensure_batch(a, n);
    double r = ar_random_order_ratio((double)m->updates_done / a->steps_per_unit, a->anneal_start, a->anneal_end);
    /* A stream per step and rank: resuming from a checkpoint draws what an unbroken run would. */
    Rng rng;
    rng_seed(&rng, mix64(a->seed ^ mix64(m->updates_done * 1024 + (uint64_t)m->comm.rank + 1)));
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < N; t++)
            a->codes[t] = (int32_t)token_code(&examples[i], t);
        int drop = !a->s.classes || rng_float(&rng) < a->label_dropout;
        int32_t cls = drop ? ar_null_id(&a->s) : ar_class_id(&a->s, (size_t)examples[i].label);
        int32_t *order = NULL;
        if (r > 0 && rng_float(&rng) < r) {
            order = a->order;
            for (size_t t = 0; t < N; t++) order[t] = (int32_t)t;
            for (size_t t = N - 1; t > 0; t--) { /* Fisher–Yates */
                size_t j = (size_t)rng_below(&rng, t + 1);
                int32_t tmp = order[t];
                order[t] = order[j], order[j] = tmp;
            }
        }
        size_t o = i * N;
        ar_sequence(N, a->codes, cls, order, a->inputs + o, a->positions + o, a->target_positions + o, a->targets + o);
    }
    GptBatch b = {.inputs = a->inputs, .positions = a->positions, .target_positions = a->target_positions,
                  .targets = a->targets, .mask = a->mask, .B = n, .T = N};
    float loss = gpt_forward_batch(&a->gpt, &b);
    gpt_zero_grad(&a->gpt);
    a->gpt.hook = m->comm.grad_hook;
    gpt_backward(&a->gpt);
    m->step_measures.n = 0;
    measures_add(&m->step_measures, "r", r);
    return loss;
}

static int ar_write_samples(Model *m, const char *png, uint64_t seed, Err *err) {
    Ar *a = m->state;
    if (!a->samples_per_class) return 0;
    ArSampleOptions o = ar_sample_defaults();
    o.seed = seed;
    o.cfg = a->sample_cfg;
    return ar_sample_grid(&a->gpt, &a->s, a->tokenizer, a->samples_per_class, &o, png, err);
}

static void ar_destroy(Model *m) {
    Ar *a = m->state;
    gpt_free(&a->gpt);
    free(a->inputs);
    free(a->positions);
    free(a->target_positions);
    free(a->targets);
    free(a->codes);
    free(a->order);
    free(a->mask);
    free(a->tokenizer);
    free(a);
    memset(m, 0, sizeof *m);
}

static size_t ar_memory_bytes(const Config *c, const Meta *meta, size_t per_rank_batch) {
    ArShape s = shape_of(c, meta);
    GptConfig g = ar_gpt_config(&s, 0);
    return gpt_training_bytes(&g, ar_seq(&s), per_rank_batch);
}

static int ar_create(Model *m, const Config *c, const Meta *meta, Err *err) {
    ArShape s = shape_of(c, meta);
    if (s.width % s.heads) return err_set(err, "width = %zu is not a multiple of heads = %zu", s.width, s.heads);
    if (config_float(c, "anneal_end") < config_float(c, "anneal_start"))
        return err_set(err, "anneal_end = %g comes before anneal_start = %g", config_float(c, "anneal_end"),
                       config_float(c, "anneal_start"));
    if (ar_seq(&s) < 2) return err_set(err, "a %zu×%zu code grid is too small to model", s.grid_h, s.grid_w);
    Ar *a = xcalloc(1, sizeof *a);
    a->s = s;
    a->gelu_tanh = !strcmp(config_str(c, "gelu"), "tanh");
    a->seed = (uint64_t)config_int(c, "seed");
    a->label_dropout = config_float(c, "label_dropout");
    a->anneal_start = config_float(c, "anneal_start");
    a->anneal_end = config_float(c, "anneal_end");
    double per_epoch = (double)meta_size(meta, "count") / (double)config_int(c, "batch_size");
    a->steps_per_unit = strcmp(config_str(c, "anneal_unit"), "epochs") ? 1 : per_epoch > 0 ? per_epoch : 1;
    a->samples_per_class = (size_t)config_int(c, "samples_per_class");
    a->sample_cfg = config_float(c, "sample_cfg");
    a->tokenizer = xstrdup(config_str(c, "tokenizer"));
    size_t N = ar_seq(&s);
    a->codes = xmalloc(N * sizeof *a->codes);
    a->order = xmalloc(N * sizeof *a->order);
    a->mask = xmalloc(N * N);
    attention_causal_mask(a->mask, N);
    GptConfig gc = ar_gpt_config(&s, a->gelu_tanh);
    gpt_create(&a->gpt, &gc);
    gpt_init_weights(&a->gpt, a->seed);
    *m = (Model){.kind = "ar", .table = &a->gpt.table, .params = a->gpt.params, .grads = a->gpt.grads,
                 .n_dims = AR_N_DIMS, .tokens_per_example = N, .state = a, .step = ar_step,
                 .check_example = ar_check_example, .write_samples = ar_write_samples, .destroy = ar_destroy};
    ar_shape_dims(&s, m->dims);
    return 0;
}

const ModelKind AR_MODEL = {"ar", AR_KEYS, "tokens", ar_memory_bytes, ar_create, ar_resolve};

/* ------------------------------------------------------------------ loading for sampling */

int ar_model_open(ArModel *a, const char *path, Err *err) {
    memset(a, 0, sizeof *a);
    CheckpointInfo info;
    if (checkpoint_inspect(path, &info, &a->config_text, err) != 0) return -1;
    int rc = 0, gelu_tanh = 0;
    if (strcmp(info.model, "ar") != 0)
        rc = err_set(err, "%s: is a checkpoint of model '%s', not of an autoregressive model (ar)", path, info.model);
    else if (ar_shape_from_dims(&a->shape, info.dims, info.n_dims, err) != 0)
        rc = err_prefix(err, "%s", path);
    Config cfg;
    const ConfigKey *const schemas[] = {TRAIN_SHARED_KEYS, AR_KEYS, NULL};
    if (rc == 0 && (rc = config_load_text(&cfg, schemas, a->config_text, path, err)) == 0) {
        const char *tok = config_str(&cfg, "tokenizer");
        if (!tok[0]) rc = err_set(err, "%s: names no tokenizer (its config has tokenizer = ''), so its codes cannot be decoded", path);
        a->tokenizer_path = xstrdup(tok);
        gelu_tanh = !strcmp(config_str(&cfg, "gelu"), "tanh");
        config_free(&cfg);
    }
    if (rc != 0) {
        ar_model_close(a);
        return -1;
    }
    GptConfig gc = ar_gpt_config(&a->shape, gelu_tanh);
    gpt_create(&a->gpt, &gc);
    CheckpointInfo expect = {.n_params = a->gpt.table.total, .n_dims = AR_N_DIMS}, got;
    snprintf(expect.model, sizeof expect.model, "ar");
    memcpy(expect.dims, info.dims, sizeof expect.dims);
    if (checkpoint_load_weights(path, &expect, a->gpt.params, &got, err) != 0) {
        ar_model_close(a);
        return -1;
    }
    a->path = xstrdup(path);
    a->checksum = got.checksum;
    a->step = got.step;
    return 0;
}

void ar_model_close(ArModel *a) {
    if (a->gpt.params) gpt_free(&a->gpt);
    free(a->path);
    free(a->tokenizer_path);
    free(a->config_text);
    memset(a, 0, sizeof *a);
}
