/* evalnet_model: the feature network as a model of `tessera train` (model = evalnet), on a
 * pixel store. A step is cross-entropy on the store's labels, or with task = rotation on
 * the four rotations of every image. Validation on val_store logs val_accuracy and val_loss;
 * the run ends with predictions.png, one row per class of the held-out images the network
 * assigns to it (a picture of what it confuses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/grid.h"
#include "../core/xalloc.h"
#include "../nn/crossentropy.h"
#include "../store/store.h"
#include "../train/held_out.h"
#include "../train/model.h"
#include "evalnet.h"
#include "evalnet_model.h"

enum { VAL_CHUNK = 128, PREDICTIONS_PER_CLASS = 12, MAX_PREDICTION_ROWS = 16, PREDICTION_CANDIDATES = 4096 };

typedef struct {
    EvalNet net;
    const uint8_t **images; /* this step's network inputs (4 per image with rotations) */
    int *turns;
    size_t cap;
    HeldOut val;
} EvalModel;

static size_t image_bytes(const EvalNet *v) { return (size_t)v->s.size * v->s.size * v->s.channels; }

static void reserve(EvalModel *e, size_t inputs) {
    if (inputs <= e->cap) return;
    e->images = xrealloc(e->images, inputs * sizeof *e->images);
    e->turns = xrealloc(e->turns, inputs * sizeof *e->turns);
    e->cap = inputs;
    evalnet_reserve(&e->net, inputs);
}

/* The network inputs and targets of n records: the record and its label, or the record
 * in each of the four rotations and the rotation. A label outside the classes is ignored. */
static size_t prepare(EvalModel *e, const RecordView *records, size_t n) {
    EvalNet *v = &e->net;
    int rotate = v->s.task == EVALNET_ROTATION;
    size_t inputs = rotate ? n * EVALNET_ROTATIONS : n;
    reserve(e, inputs);
    for (size_t i = 0, at = 0; i < n; i++)
        for (int k = 0; k < (rotate ? EVALNET_ROTATIONS : 1); k++, at++) {
            e->images[at] = records[i].payload;
            e->turns[at] = k;
            int32_t label = records[i].label;
            v->targets[at] = rotate ? k : label >= 0 && label < v->s.classes ? label : -1;
        }
    evalnet_set_inputs(v, e->images, e->turns, inputs);
    return inputs;
}

static float evalnet_step(Model *m, const RecordView *examples, size_t n) {
    EvalModel *e = m->state;
    EvalNet *v = &e->net;
    size_t inputs = prepare(e, examples, n);
    memset(v->grads, 0, v->table.total * sizeof *v->grads);
    evalnet_forward(v, inputs);
    size_t correct = evalnet_correct(v, v->targets, inputs);
    float loss = evalnet_backward(v, v->targets, inputs);
    m->step_measures.n = 0;
    measures_add(&m->step_measures, "accuracy", (double)correct / (double)inputs);
    return loss;
}

/* ------------------------------------------------------------------ held-out data */

static int evalnet_validate(Model *m, Measures *out, Err *err) {
    EvalModel *e = m->state;
    EvalNet *v = &e->net;
    if (!e->val.open) return 0;
    enum { LOSS, CORRECT, INPUTS, FAILED, N_SUMS };
    double sums[N_SUMS] = {0};
    RecordView records[VAL_CHUNK];
    uint64_t idx[VAL_CHUNK];
    int rc = 0;
    for (uint64_t i = (uint64_t)m->comm.rank; rc == 0 && i < e->val.count;) {
        size_t n = 0;
        for (; n < VAL_CHUNK && i < e->val.count; i += (uint64_t)m->comm.size) idx[n++] = i;
        StoreRead sr;
        if ((rc = store_read_begin(&e->val.store, &sr, err)) != 0) break;
        if ((rc = held_out_read(&e->val, &sr, idx, n, records, err)) == 0) {
            size_t inputs = prepare(e, records, n);
            evalnet_forward(v, inputs);
            size_t counted = 0;
            for (size_t k = 0; k < inputs; k++) counted += v->targets[k] >= 0;
            sums[CORRECT] += (double)evalnet_correct(v, v->targets, inputs);
            sums[LOSS] += crossentropy_forward(NULL, v->row_max, v->row_logsum, evalnet_logits(v), v->targets, NULL,
                                               -1, inputs, (size_t)v->s.classes) * (double)counted;
            sums[INPUTS] += (double)counted;
        }
        store_read_end(&sr);
    }
    /* Every rank reaches the sum, even one that failed, so none is left waiting. */
    sums[FAILED] = rc != 0;
    m->comm.sum_doubles(sums, N_SUMS);
    if (rc == 0 && sums[FAILED] > 0) rc = err_set(err, "validation failed on another rank");
    if (rc == 0 && sums[INPUTS] > 0) {
        measures_add(out, "accuracy", sums[CORRECT] / sums[INPUTS]);
        measures_add(out, "loss", sums[LOSS] / sums[INPUTS]);
    }
    return rc;
}

/* One row per class (at most MAX_PREDICTION_ROWS): the first held-out images the network
 * assigns to it, unrotated. Blank tiles where a class got fewer. */
static int evalnet_write_predictions(Model *m, const char *png, uint64_t seed, Err *err) {
    (void)seed;
    EvalModel *e = m->state;
    EvalNet *v = &e->net;
    if (!e->val.open || v->s.task != EVALNET_LABELS) return 0;
    int rows = v->s.classes < MAX_PREDICTION_ROWS ? v->s.classes : MAX_PREDICTION_ROWS;
    size_t bytes = image_bytes(v), tiles_n = (size_t)rows * PREDICTIONS_PER_CLASS;
    uint8_t *pixels = xcalloc(tiles_n + 1, bytes); /* the last one stays blank */
    const uint8_t **tiles = xmalloc(tiles_n * sizeof *tiles);
    size_t *filled = xcalloc((size_t)rows, sizeof *filled);
    for (size_t t = 0; t < tiles_n; t++) tiles[t] = pixels + tiles_n * bytes;
    RecordView records[VAL_CHUNK];
    uint64_t idx[VAL_CHUNK];
    int rc = 0;
    /* Evenly spaced records, not the first ones: a store ingested from class folders is in class order. */
    uint64_t looked_at = e->val.count < PREDICTION_CANDIDATES ? e->val.count : PREDICTION_CANDIDATES;
    for (uint64_t i = 0; rc == 0 && i < looked_at;) {
        size_t n = 0;
        for (; n < VAL_CHUNK && i < looked_at; i++) idx[n++] = i * e->val.count / looked_at;
        StoreRead sr;
        if ((rc = store_read_begin(&e->val.store, &sr, err)) != 0) break;
        if ((rc = held_out_read(&e->val, &sr, idx, n, records, err)) == 0) {
            prepare(e, records, n);
            evalnet_forward(v, n);
            const scalar *logits = evalnet_logits(v);
            for (size_t k = 0; k < n; k++) {
                int best = 0;
                for (int c = 1; c < v->s.classes; c++)
                    if (logits[k * (size_t)v->s.classes + c] > logits[k * (size_t)v->s.classes + best]) best = c;
                if (best >= rows || filled[best] == PREDICTIONS_PER_CLASS) continue;
                size_t t = (size_t)best * PREDICTIONS_PER_CLASS + filled[best]++;
                memcpy(pixels + t * bytes, records[k].payload, bytes);
                tiles[t] = pixels + t * bytes;
            }
        }
        store_read_end(&sr);
    }
    if (rc == 0)
        rc = grid_write_png(png, tiles, (size_t)rows, PREDICTIONS_PER_CLASS, v->s.size, v->s.size, v->s.channels,
                            grid_auto_scale(v->s.size, 56), err);
    free(filled);
    free(tiles);
    free(pixels);
    return rc;
}

static void evalnet_destroy(Model *m) {
    EvalModel *e = m->state;
    evalnet_free(&e->net);
    held_out_close(&e->val);
    free(e->images);
    free(e->turns);
    free(e);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ creation */

static int store_shape(const Meta *meta, const Config *c, EvalNetShape *s, Err *err) {
    const char *h = meta_get(meta, "height"), *w = meta_get(meta, "width"), *ch = meta_get(meta, "channels");
    const char *labels = meta_get(meta, "num_labels");
    if (!h || !w || !ch) return err_set(err, "store meta lacks height, width or channels");
    return evalnet_shape(s, c, atoi(h), atoi(w), atoi(ch), labels ? atoi(labels) : 0, err);
}

static size_t evalnet_memory(const Config *c, const Meta *meta, size_t per_rank_batch) {
    EvalNetShape s;
    Err err;
    if (store_shape(meta, c, &s, &err) != 0) return 0; /* create says why */
    size_t inputs = per_rank_batch * (s.task == EVALNET_ROTATION ? EVALNET_ROTATIONS : 1);
    return evalnet_memory_bytes(&s, inputs > VAL_CHUNK * 4 ? inputs : VAL_CHUNK * 4);
}

static int evalnet_create_model(Model *m, const Config *c, const Meta *meta, Err *err) {
    EvalNetShape s;
    if (store_shape(meta, c, &s, err) != 0) return -1;
    EvalModel *e = xcalloc(1, sizeof *e);
    evalnet_create(&e->net, &s);
    evalnet_init_weights(&e->net, (uint64_t)config_int(c, "seed"));
    *m = (Model){.kind = "evalnet", .table = &e->net.table, .params = e->net.params, .grads = e->net.grads,
                 .n_dims = EVALNET_N_DIMS, .state = e, .step = evalnet_step, .validate = evalnet_validate,
                 .validate_every = (uint64_t)config_int(c, "val_every"), .write_samples = evalnet_write_predictions,
                 .samples_name = "predictions.png", .destroy = evalnet_destroy};
    evalnet_shape_dims(&s, m->dims);
    if (held_out_open(&e->val, c, s.size, s.size, s.channels, err) != 0) {
        evalnet_destroy(m);
        return -1;
    }
    return 0;
}

const ModelKind EVALNET_MODEL = {"evalnet", EVALNET_KEYS, "pixels", evalnet_memory, evalnet_create_model, NULL};
