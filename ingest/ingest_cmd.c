/* ingest_cmd: `tessera ingest SRC... -o STORE` (docs/CLI.md).
 *
 * Plans the sources and says what a pixel store's meta and records are; store_job.c
 * runs the pool into the store: it skips every source the store already holds or
 * rejected and writes each result in source order through the store's single writer.
 * Killed at any moment, ingest can be run again with the same arguments and finishes the
 * job: commits are atomic and always a prefix of the source order. */
#define _GNU_SOURCE
#include "ingest_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "pool.h"
#include "preprocess.h"
#include "source.h"
#include "source_feed.h"
#include "source_options.h"
#include "store_job.h"

static const char *USAGE =
    "usage: tessera ingest SRC... -o STORE [options]\n"
    "\n"
    "Decodes JPEGs from folder trees, list files, tar shards or IDX files into a pixel store.\n"
    "Running it again on the same store resumes: sources already stored or rejected are skipped.\n"
    "\n"
    "  -o, --output STORE        the store to create or continue (a folder)\n"
    "      --size N              output N×N pixels (default 64)\n"
    "      --channels 1|3        grayscale or RGB (default 3)\n"
    "      --resize area|bilinear  area = antialiased box filter (default)\n"
    "      --crop center|none    centred square, or the whole image stretched (default center)\n"
    "      --workers N           local worker processes (default: number of cores; 0 = remote only)\n"
    "      --bind ENDPOINT       also accept remote workers, e.g. tcp://0.0.0.0:5555\n"
    "      --max-pixels N        reject JPEGs whose header claims more pixels (default 100000000)\n"
    "      --label-names A,B,..  names for integer labels (IDX, list files, .cls members)\n"
    "      --exact-dct           accurate integer IDCT instead of the fast one\n"
    "      --heartbeat-timeout S seconds before a silent worker's batches go to others (default 5)\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 all sources stored; 3 finished, some sources rejected (STORE/rejects.tsv);\n"
    "1 bad input that stopped the job; 2 bad usage.\n";

typedef struct {
    const SourcePlan *plan;
    const PreprocessOptions *options;
    const char *label_names; /* one per line */
    SourceFeed feed;
} Ingest;

static const char *item_id(void *ctx, size_t item) {
    Ingest *g = ctx;
    return g->plan->items[item].id;
}

static void begin(void *ctx, int all_local) {
    Ingest *g = ctx;
    source_feed_begin(&g->feed, g->plan, all_local);
}

static void feed(void *ctx, size_t item, PoolInput *in) {
    Ingest *g = ctx;
    source_feed_item(&g->feed, item, in);
}

static int record_header(void *ctx, size_t item, size_t n, uint8_t header[RECORD_HEADER_BYTES], char *why,
                         size_t why_cap) {
    Ingest *g = ctx;
    const PreprocessOptions *o = g->options;
    size_t expected = (size_t)o->size * o->size * o->channels;
    if (n != expected) {
        snprintf(why, why_cap, "worker returned %zu bytes, expected %zu", n, expected);
        return -1;
    }
    record_encode_header(header, g->plan->items[item].label, o->size, o->size, o->channels, DTYPE_U8, 0, n);
    return 0;
}

/* ------------------------------------------------------------------ store meta */

static void join_names(const SourcePlan *plan, Buf *out) {
    buf_clear(out);
    for (size_t i = 0; i < plan->n_labels; i++) buf_printf(out, "%s%s", i ? "\n" : "", plan->label_names[i]);
    buf_put_u8(out, 0);
}

/* The meta values that fix how records were made: written into a new store, and checked
 * against the store's own on every re-run, so one table serves both. */
enum { N_SHAPE_KEYS = 4 };
typedef struct {
    const char *key, *flag;
    char value[32];
} ShapeKey;

static void shape_keys(const PreprocessOptions *o, ShapeKey out[N_SHAPE_KEYS]) {
    out[0] = (ShapeKey){"size", "--size", ""};
    out[1] = (ShapeKey){"channels", "--channels", ""};
    out[2] = (ShapeKey){"resize", "--resize", ""};
    out[3] = (ShapeKey){"crop", "--crop", ""};
    snprintf(out[0].value, sizeof out[0].value, "%d", o->size);
    snprintf(out[1].value, sizeof out[1].value, "%d", o->channels);
    snprintf(out[2].value, sizeof out[2].value, "%s", resize_filter_name(o->filter));
    snprintf(out[3].value, sizeof out[3].value, "%s", o->crop_center ? "center" : "none");
}

static int check_meta(void *ctx, const Meta *m, const char *path, Err *err) {
    const Ingest *g = ctx;
    const PreprocessOptions *o = g->options;
    const char *names = g->label_names;
    const char *kind = meta_get(m, "kind");
    if (!kind) return err_set(err, "%s: is not a Tessera store (no kind in meta)", path);
    if (strcmp(kind, "pixels") != 0) return err_set(err, "%s: is a %s store, ingest writes pixel stores", path, kind);
    ShapeKey keys[N_SHAPE_KEYS];
    shape_keys(o, keys);
    for (int i = 0; i < N_SHAPE_KEYS; i++) {
        const char *have = meta_get(m, keys[i].key);
        if (!have || strcmp(have, keys[i].value) != 0)
            return err_set(err, "%s: was made with %s %s, this run asks for %s %s", path, keys[i].flag,
                           have ? have : "(unset)", keys[i].flag, keys[i].value);
    }
    const char *have_names = meta_get(m, "label_names");
    if (strcmp(have_names ? have_names : "", names) != 0)
        return err_set(err, "%s: its label names differ from these sources' (classes added, removed or renamed?)", path);
    return 0;
}

static void write_meta(void *ctx, StoreWriter *w) {
    const Ingest *g = ctx;
    const PreprocessOptions *o = g->options;
    const SourcePlan *plan = g->plan;
    const char *names = g->label_names;
    char v[64];
    writer_set_standard_meta(w, "pixels", "uint8");
    ShapeKey keys[N_SHAPE_KEYS];
    shape_keys(o, keys);
    for (int i = 0; i < N_SHAPE_KEYS; i++) writer_set_meta(w, keys[i].key, keys[i].value);
    writer_set_meta(w, "height", keys[0].value);
    writer_set_meta(w, "width", keys[0].value);
    writer_set_meta(w, "label_names", names);
    snprintf(v, sizeof v, "%zu", plan->n_labels);
    writer_set_meta(w, "num_labels", v);
    writer_set_meta(w, "source", plan->description);
}

/* ------------------------------------------------------------------ the command */

int cmd_ingest(int argc, char **argv) {
    SourceOptions so;
    int status = source_options_parse(&so, argc, argv, "ingest", USAGE, NULL);
    if (status >= 0) return status;
    PreprocessOptions o = so.pre;
    PoolConfig pc = so.pool;
    const char *out_path = so.out_path, *label_names = so.label_names;
    optind = so.first_source;
    double started = now_seconds();
    Err err;
    SourcePlan plan;
    if (source_plan(&plan, argv + optind, argc - optind, label_names, &err) != 0) {
        report_error("%s", err.msg);
        source_plan_free(&plan);
        return EXIT_BAD_INPUT;
    }
    if (plan.skipped_loose_files)
        fprintf(stderr, "tessera: note: %zu files at the top of a labelled folder tree are outside any class folder and were skipped\n",
                plan.skipped_loose_files);
    if (plan.duplicates) fprintf(stderr, "tessera: note: %zu sources were listed more than once; each is ingested once\n", plan.duplicates);

    Buf names = {0}, job = {0};
    join_names(&plan, &names);
    preprocess_options_format(&o, &job);
    buf_put_u8(&job, 0);
    Ingest g = {.plan = &plan, .options = &o, .label_names = (const char *)names.data};
    pc.job_kind = "ingest";
    pc.job_options = (const char *)job.data;
    StoreJob sj = {.verb = "ingest", .out_path = out_path, .n_items = plan.n_items, .ctx = &g,
                   .check_meta = check_meta, .write_meta = write_meta, .source_id = item_id, .feed = feed,
                   .record_header = record_header, .begin = begin,
                   .output_bytes = (size_t)o.size * o.size * o.channels, .pool = pc, .started = started};
    int rc = store_job_run(&sj);
    source_feed_end(&g.feed);
    source_plan_free(&plan);
    buf_free(&names);
    buf_free(&job);
    return rc;
}
