/* train_cmd: `tessera train CONFIG.ini [key=value ...]`, under `mpirun -np N` for N ranks.
 *
 * Each rank takes its slice of every global batch (store/batch_order.h), runs the
 * model's forward and backward on it, and the gradients are summed over ranks with one
 * MPI_Allreduce on the flat buffer, then averaged; every rank applies the same clipped
 * AdamW update, so parameters stay identical without being sent. Rank 0 logs
 * metrics.jsonl and writes checkpoints; a restarted run resumes from the newest valid
 * checkpoint in run_dir with the same parameters, optimizer moments, data order and RNG,
 * so 10 steps + resume + 10 steps give the losses of 20 steps straight. */
#include "train_cmd.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/config.h"
#include "../core/fs.h"
#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../nn/adamw.h"
#include "../nn/clip.h"
#include "../nn/ema.h"
#include "../nn/schedule.h"
#include "../store/batch_order.h"
#include "../store/store.h"
#include "checkpoint.h"
#include "dist.h"
#include "grad_sync.h"
#include "metrics.h"
#include "model.h"

const ConfigKey TRAIN_SHARED_KEYS[] = {
    {"model", CFG_STRING, NULL, 0, -1, NULL, "the model family (ar, igpt, vqvae, evalnet)"},
    {"store", CFG_STRING, NULL, 0, -1, NULL, "the store to train on"},
    {"run_dir", CFG_STRING, NULL, 0, -1, NULL, "where config, metrics, checkpoints and samples go"},
    {"batch_size", CFG_INT, "32", 1, 1e6, NULL, "examples per step over all ranks"},
    {"steps", CFG_INT, "1000", 1, 1e9, NULL, "optimizer steps"},
    {"seed", CFG_INT, "1", 0, 1e15, NULL, "initialisation, data order, sampling"},
    {"lr", CFG_FLOAT, "3e-4", 0, 10, NULL, "peak learning rate"},
    {"schedule", CFG_ENUM, "cosine", 0, -1, "cosine|constant", "after warmup: cosine decay or constant"},
    {"min_lr_ratio", CFG_FLOAT, "0.1", 0, 1, NULL, "cosine: final lr / lr"},
    {"warmup_steps", CFG_INT, "0", 0, 1e9, NULL, "linear warmup steps"},
    {"weight_decay", CFG_FLOAT, "0.1", 0, 10, NULL, "AdamW decoupled weight decay (matrices only)"},
    {"beta1", CFG_FLOAT, "0.9", 0, 0.9999999, NULL, "AdamW first-moment decay"},
    {"beta2", CFG_FLOAT, "0.95", 0, 0.9999999, NULL, "AdamW second-moment decay"},
    {"eps", CFG_FLOAT, "1e-8", 0, 1, NULL, "AdamW epsilon"},
    {"grad_clip", CFG_FLOAT, "1.0", 0, 1e6, NULL, "clip the global gradient norm to this (0: off)"},
    {"log_every", CFG_INT, "10", 1, 1e9, NULL, "steps between metrics lines"},
    {"ckpt_every", CFG_INT, "500", 1, 1e9, NULL, "steps between checkpoints (and one at the end)"},
    {"threads", CFG_INT, "1", 1, 256, NULL, "OpenBLAS threads per rank"},
    {"ema_decay", CFG_FLOAT, "0", 0, 0.999999, NULL, "keep an EMA of the weights with this decay (0: off)"},
    {"grad_bucket_mb", CFG_FLOAT, "0", 0, 1e6, NULL,
     "sum gradients over ranks while backward runs, in buckets of at least this many MB (0: one allreduce after it)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

enum { MAX_MODELS = 16 };
static const ModelKind *models[MAX_MODELS];
static size_t n_models;

void train_register_model(const ModelKind *kind) {
    if (!train_find_model(kind->name) && n_models < MAX_MODELS) models[n_models++] = kind;
}

const ModelKind *train_find_model(const char *name) {
    for (size_t i = 0; i < n_models; i++)
        if (!strcmp(models[i]->name, name)) return models[i];
    return NULL;
}

void train_model_names(char *out, size_t cap) {
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < n_models && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? ", " : "", models[i]->name);
}

static const char *USAGE =
    "usage: tessera train CONFIG.ini [key=value ...]      (mpirun -np N tessera train ... for N ranks)\n"
    "\n"
    "Trains the model the config names on a store, writing run_dir/config.ini (resolved),\n"
    "metrics.jsonl, ckpt_<step>.bin checkpoints and samples.png. Re-running with the same\n"
    "run_dir resumes from the newest valid checkpoint. Keys: docs/CONFIG.md.\n";

typedef struct {
    Dist dist;
    Config cfg;
    const ModelKind *kind;
    Model model;
    Store store;
    int store_open;
    BatchOrder order;
    float *m, *v;
    float *ema; /* NULL unless ema_decay > 0 */
    GradSync *sync; /* the gradient mean over ranks, overlapped with backward or not */
    Rng rng;
    uint64_t step;
} Run;

/* Only rank 0 speaks; every rank reaches the same verdict from the same inputs. */
static int fail(const Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const Run *r, const char *fmt, ...) {
    if (r->dist.rank == 0) {
        va_list ap;
        va_start(ap, fmt);
        report_error_v(fmt, ap);
        va_end(ap);
    }
    return EXIT_BAD_INPUT;
}

static size_t available_memory(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

static int load_batch(const uint64_t *indices, size_t n, RecordView *views, StoreRead *sr, Err *err) {
    for (size_t i = 0; i < n; i++)
        if (store_read_record(sr, indices[i], &views[i], err) != 0) return -1;
    return 0;
}

/* Every rank reads the whole store, so every rank refuses the same record. */
static int check_every_record(Run *r, Err *err) {
    StoreRead sr;
    if (store_read_begin(&r->store, &sr, err) != 0) return -1;
    uint64_t n = store_record_count(&r->store);
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        RecordView v;
        rc = store_read_record(&sr, i, &v, err); /* its message names the store and record */
        if (rc == 0 && (rc = r->model.check_example(&r->model, &v, err)) != 0)
            err_prefix(err, "%s: record %llu", config_str(&r->cfg, "store"), (unsigned long long)i);
    }
    store_read_end(&sr);
    return rc;
}

static int save_checkpoint(Run *r, Err *err) {
    CheckpointInfo info = {.step = r->step, .epoch = r->order.epoch, .next_batch = r->order.next_batch,
                           .n_params = r->model.table->total, .n_dims = r->model.n_dims};
    snprintf(info.model, sizeof info.model, "%s", r->model.kind);
    memcpy(info.dims, r->model.dims, sizeof info.dims);
    memcpy(info.rng, r->rng.s, sizeof info.rng);
    Buf text = {0};
    config_format(&r->cfg, &text);
    buf_put_u8(&text, 0);
    char *path = checkpoint_path(config_str(&r->cfg, "run_dir"), r->step);
    CheckpointData d = {r->model.params, r->m, r->v, r->ema};
    int rc = checkpoint_write(path, &info, (char *)text.data, &d, err);
    free(path);
    buf_free(&text);
    return rc;
}

static int resume(Run *r, Err *err) {
    const char *run_dir = config_str(&r->cfg, "run_dir");
    char *path = checkpoint_find_newest(run_dir);
    if (!path) return 0;
    CheckpointInfo expect = {.n_params = r->model.table->total, .n_dims = r->model.n_dims}, got;
    snprintf(expect.model, sizeof expect.model, "%s", r->model.kind);
    memcpy(expect.dims, r->model.dims, sizeof expect.dims);
    CheckpointData d = {r->model.params, r->m, r->v, r->ema};
    int rc = checkpoint_load(path, &expect, &got, &d, err);
    /* The EMA continues from the checkpoint's, or starts from its weights if it had none. */
    if (rc == 0 && r->ema && !got.has_ema) memcpy(r->ema, r->model.params, r->model.table->total * sizeof *r->ema);
    if (rc == 0) {
        r->step = got.step;
        memcpy(r->rng.s, got.rng, sizeof got.rng);
        batch_order_seek(&r->order, got.epoch, got.next_batch);
        if (r->dist.rank == 0) fprintf(stderr, "tessera: resuming from %s (step %llu)\n", path, (unsigned long long)got.step);
    }
    free(path);
    return rc;
}

static int train_loop(Run *r, Err *err) {
    const Config *c = &r->cfg;
    uint64_t steps = (uint64_t)config_int(c, "steps"), log_every = (uint64_t)config_int(c, "log_every");
    uint64_t ckpt_every = (uint64_t)config_int(c, "ckpt_every");
    size_t ranks = (size_t)r->dist.size, per_rank = (size_t)config_int(c, "batch_size") / ranks;
    Schedule sched = {.kind = strcmp(config_str(c, "schedule"), "constant") ? SCHEDULE_COSINE : SCHEDULE_CONSTANT,
                      .max_lr = config_float(c, "lr"), .warmup_steps = config_int(c, "warmup_steps"),
                      .total_steps = (long)steps, .min_ratio = config_float(c, "min_lr_ratio")};
    AdamWConfig ac = {.beta1 = config_float(c, "beta1"), .beta2 = config_float(c, "beta2"), .eps = config_float(c, "eps"),
                      .weight_decay = config_float(c, "weight_decay")};
    double clip = config_float(c, "grad_clip");
    MetricsLog log = {0};
    if (r->dist.rank == 0 && metrics_open(&log, config_str(c, "run_dir"), r->step, err) != 0) return -1;
    uint64_t *indices = xmalloc(per_rank * sizeof *indices);
    RecordView *views = xmalloc(per_rank * sizeof *views);
    size_t n = r->model.table->total;
    /* Fault injection for the tests (docs/CONFIG.md): the loss of this step becomes NaN. */
    const char *inject = getenv("TESSERA_INJECT_NAN_STEP");
    uint64_t nan_step = inject ? strtoull(inject, NULL, 10) : 0;
    double window_start = now_seconds();
    uint64_t window_steps = 0;
    int rc = 0;
    while (rc == 0 && r->step < steps) {
        uint64_t epoch = batch_order_next(&r->order, indices);
        StoreRead sr;
        if ((rc = store_read_begin(&r->store, &sr, err)) != 0) break;
        rc = load_batch(indices, per_rank, views, &sr, err);
        r->model.updates_done = r->step;
        grad_sync_begin(r->sync, r->model.grads, n);
        float loss = rc == 0 ? r->model.step(&r->model, views, per_rank) : 0;
        store_read_end(&sr);
        if (rc != 0) break;
        grad_sync_end(r->sync);
        if (ranks > 1) loss = (float)(dist_sum(loss) / (double)ranks);
        if (nan_step && r->step + 1 == nan_step) loss = NAN;
        if (!isfinite(loss)) {
            rc = err_set(err, "step %llu: the loss is %s; stopping without saving (checkpoints in %s are intact; try a "
                              "lower lr)",
                         (unsigned long long)r->step + 1, isnan(loss) ? "NaN" : "infinite", config_str(c, "run_dir"));
            break;
        }
        double grad_norm = clip > 0 ? clip_grad_norm(r->model.grads, n, clip) : clip_grad_norm(r->model.grads, n, INFINITY);
        double lr = schedule_lr(&sched, (long)r->step);
        adamw_step(r->model.params, r->m, r->v, r->model.grads, r->model.table, &ac, lr, (long)r->step + 1);
        if (r->ema) ema_update(r->ema, r->model.params, n, config_float(c, "ema_decay"));
        r->step++;
        if (r->model.after_update) r->model.after_update(&r->model, r->step);
        window_steps++;
        int last = r->step == steps;
        int log_now = r->step % log_every == 0 || last;
        int validate_now = r->model.validate && ((r->model.validate_every && r->step % r->model.validate_every == 0) || last);
        Measures val = {0}, *parts = &r->model.step_measures;
        if ((log_now || validate_now) && ranks > 1 && parts->n) { /* this step's parts, averaged over ranks */
            dist_allreduce_sum_double(parts->values, parts->n);
            for (size_t k = 0; k < parts->n; k++) parts->values[k] /= (double)ranks;
        }
        if (validate_now && (rc = r->model.validate(&r->model, &val, err)) != 0) break;
        if (r->dist.rank == 0 && (log_now || validate_now)) {
            double t = now_seconds(), examples_per_s = (double)window_steps * (double)per_rank * (double)ranks / (t - window_start);
            metrics_begin(&log, r->step);
            metrics_int(&log, "epoch", (long long)epoch);
            metrics_num(&log, "loss", loss);
            metrics_num(&log, "lr", lr);
            metrics_num(&log, "grad_norm", grad_norm);
            metrics_num(&log, "examples_per_s", examples_per_s);
            if (r->model.tokens_per_example) metrics_num(&log, "tokens_per_s", examples_per_s * (double)r->model.tokens_per_example);
            for (size_t k = 0; k < parts->n; k++) metrics_num(&log, parts->names[k], parts->values[k]);
            char val_name[64];
            for (size_t k = 0; k < val.n; k++) {
                snprintf(val_name, sizeof val_name, "val_%s", val.names[k]);
                metrics_num(&log, val_name, val.values[k]);
            }
            rc = metrics_end(&log, err);
            fprintf(stderr, "step %6llu/%llu  loss %.4f  lr %.2e  grad_norm %.3f  %.1f examples/s",
                    (unsigned long long)r->step, (unsigned long long)steps, loss, lr, grad_norm, examples_per_s);
            for (size_t k = 0; k < val.n; k++) fprintf(stderr, "  val_%s %.4g", val.names[k], val.values[k]);
            fputc('\n', stderr);
            window_start = t;
            window_steps = 0;
        }
        if (rc == 0 && (r->step % ckpt_every == 0 || last)) {
            if (r->dist.rank == 0) rc = save_checkpoint(r, err);
            dist_barrier();
        }
    }
    free(indices);
    free(views);
    if (r->dist.rank == 0) metrics_close(&log);
    return rc;
}

static int run(Run *r, int argc, char **argv) {
    Err err;
    const char *path = argv[1];
    char **overrides = argv + 2;
    int n_over = argc - 2;
    char names[256];
    train_model_names(names, sizeof names);
    err.msg[0] = 0;
    char *model_name = config_peek(path, overrides, n_over, "model", &err);
    if (!model_name) return err.msg[0] ? fail(r, "%s", err.msg) : fail(r, "%s: the config names no model (model = one of %s)", path, names);
    r->kind = train_find_model(model_name);
    if (!r->kind) {
        int rc = fail(r, "%s: model = %s is not a model this tessera trains (%s)", path, model_name, names);
        free(model_name);
        return rc;
    }
    free(model_name);
    const ConfigKey *const schemas[] = {TRAIN_SHARED_KEYS, r->kind->keys, NULL};
    if (config_load(&r->cfg, schemas, path, overrides, n_over, &err) != 0) return fail(r, "%s", err.msg);
    openblas_set_num_threads((int)config_int(&r->cfg, "threads"));

    const char *store_path = config_str(&r->cfg, "store");
    Meta meta;
    if (store_open(&r->store, store_path, 0, 0, &err) != 0 || store_meta_load(&r->store, &meta, &err) != 0)
        return fail(r, "store = %s", err.msg);
    r->store_open = 1;
    const char *kind = meta_get(&meta, "kind");
    if (!kind || strcmp(kind, r->kind->store_kind) != 0) {
        int rc = fail(r, "%s: is a %s store; model = %s trains on %s stores", store_path, kind ? kind : "unknown",
                      r->kind->name, r->kind->store_kind);
        meta_free(&meta);
        return rc;
    }
    if (r->kind->resolve && r->kind->resolve(&r->cfg, &meta, &err) != 0) {
        meta_free(&meta);
        return fail(r, "%s", err.msg);
    }
    uint64_t records = store_record_count(&r->store), batch = (uint64_t)config_int(&r->cfg, "batch_size");
    if (batch_order_init(&r->order, records, batch, r->dist.size, r->dist.rank, (uint64_t)config_int(&r->cfg, "seed"),
                         &err) != 0) {
        meta_free(&meta);
        return fail(r, "%s", err.msg);
    }
    size_t per_rank = (size_t)(batch / (uint64_t)r->dist.size);
    /* Say so before starting when the machine cannot hold it (ranks here share its memory). */
    double need = (double)r->kind->memory_bytes(&r->cfg, &meta, per_rank), all = need * r->dist.size;
    double have = (double)available_memory();
    if (have > 0 && all > have) {
        meta_free(&meta);
        return fail(r, "this config needs about %.1f GiB per rank (%.1f GiB for %d ranks) and %.1f GiB are available: "
                       "lower batch_size, width, layers or the image size",
                    need / 1073741824.0, all / 1073741824.0, r->dist.size, have / 1073741824.0);
    }
    int created = r->kind->create(&r->model, &r->cfg, &meta, &err);
    meta_free(&meta);
    if (created != 0) return fail(r, "%s", err.msg);
    r->model.comm = (ModelComm){r->dist.rank, r->dist.size, dist_allreduce_sum, dist_allreduce_sum_double, {0}};
    /* Without overlap no range is told ready, so grad_sync_end sums the whole buffer at once. */
    double bucket_mb = config_float(&r->cfg, "grad_bucket_mb");
    r->sync = grad_sync_create(r->dist.size, (size_t)(bucket_mb * 1e6 / sizeof(float)));
    if (bucket_mb > 0) r->model.comm.grad_hook = grad_sync_hook(r->sync);
    if (r->model.check_example && check_every_record(r, &err) != 0) return fail(r, "%s", err.msg);
    size_t n = r->model.table->total;

    const char *run_dir = config_str(&r->cfg, "run_dir");
    if (r->dist.rank == 0 && fs_mkdirs(run_dir, &err) != 0) return fail(r, "run_dir = %s", err.msg);
    dist_barrier();
    r->m = param_table_alloc(r->model.table);
    r->v = param_table_alloc(r->model.table);
    if (config_float(&r->cfg, "ema_decay") > 0) {
        r->ema = param_table_alloc(r->model.table);
        memcpy(r->ema, r->model.params, n * sizeof *r->ema);
    }
    rng_seed(&r->rng, (uint64_t)config_int(&r->cfg, "seed") ^ 0x7e55e7a);
    if (resume(r, &err) != 0) return fail(r, "%s", err.msg);
    if (r->dist.rank == 0) {
        Buf text = {0};
        config_format(&r->cfg, &text);
        char *cfg_path = fs_join(run_dir, "config.ini");
        FILE *f = fopen(cfg_path, "w");
        int ok = f && fwrite(text.data, 1, text.len, f) == text.len;
        if (f && fclose(f) != 0) ok = 0;
        free(cfg_path);
        buf_free(&text);
        if (!ok) return fail(r, "%s/config.ini: cannot write (%s)", run_dir, strerror(errno));
        fprintf(stderr, "tessera: training %s, %zu parameters, %llu records, batch %llu on %d rank%s, from step %llu\n",
                r->model.kind, n, (unsigned long long)records, (unsigned long long)batch, r->dist.size,
                r->dist.size == 1 ? "" : "s", (unsigned long long)r->step);
    }
    if (train_loop(r, &err) != 0) return fail(r, "%s", err.msg);
    /* Samples come from the EMA weights when there are any (training is over). */
    if (r->ema) memcpy(r->model.params, r->ema, n * sizeof *r->ema);
    if (r->dist.rank == 0 && r->model.write_samples) {
        char *png = fs_join(run_dir, r->model.samples_name ? r->model.samples_name : "samples.png");
        int rc = r->model.write_samples(&r->model, png, (uint64_t)config_int(&r->cfg, "seed"), &err);
        if (rc == 0) fprintf(stderr, "tessera: samples in %s\n", png);
        free(png);
        if (rc != 0) return fail(r, "%s", err.msg);
    }
    return EXIT_OK;
}

int cmd_train(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(USAGE, stdout);
        return EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    Run r;
    memset(&r, 0, sizeof r);
    dist_init(&r.dist, &argc, &argv);
    int rc = run(&r, argc, argv);
    if (r.model.destroy) r.model.destroy(&r.model);
    free(r.m);
    free(r.v);
    free(r.ema);
    grad_sync_free(r.sync);
    batch_order_free(&r.order);
    if (r.store_open) store_close(&r.store);
    if (r.cfg.n) config_free(&r.cfg);
    dist_finalize();
    return rc;
}
