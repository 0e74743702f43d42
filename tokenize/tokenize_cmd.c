/* tokenize_cmd: `tessera tokenize --tokenizer CKPT SRC... -o TOKENS` (docs/CLI.md).
 *
 * SRC is either one pixel store (its records are sent to the workers as pixels) or JPEG
 * sources exactly as ingest takes them (workers decode, resize and encode in one pass,
 * with ingest's preprocessing options). The pool run, resume, rejects and summary are
 * ingest's (ingest/store_job.h); this file says what the inputs and records are. */
#define _GNU_SOURCE
#include "tokenize_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/clock.h"
#include "../core/fs.h"
#include "../core/xalloc.h"
#include "../ingest/source_feed.h"
#include "../ingest/source_options.h"
#include "../ingest/store_job.h"
#include "../store/store.h"
#include "job_tokenize.h"
#include "token_store.h"

static const char *USAGE =
    "usage: tessera tokenize --tokenizer CKPT SRC... -o TOKENS [options]\n"
    "\n"
    "Encodes images into a token store with a trained tokenizer (a `model = vqvae` checkpoint).\n"
    "SRC is one pixel store, or JPEG sources exactly as `tessera ingest` takes them (decoded,\n"
    "resized and encoded in one pass). Running it again on the same TOKENS resumes.\n"
    "\n"
    "  -t, --tokenizer CKPT      the tokenizer checkpoint (required)\n"
    "  -o, --output TOKENS       the token store to create or continue\n"
    "      --size N              JPEG sources: decode to N×N (default: the tokenizer's training size)\n"
    "      --channels 1|3        JPEG sources: must be the tokenizer's (the default)\n"
    "      --resize, --crop, --max-pixels, --exact-dct, --label-names   as for ingest\n"
    "      --workers N, --bind ENDPOINT, --heartbeat-timeout S          the pool, as for ingest\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 all stored; 3 finished with rejects (TOKENS/rejects.tsv); 1 bad input; 2 bad usage.\n";

typedef struct {
    Tokenizer tok;
    const char *tokenizer_path;
    TokenSource src;
    /* a pixel store source */
    Store pixels;
    int from_store;
    StoreRead read;
    char *store_abs;
    int32_t *labels;      /* per record, filled as records are fed */
    char id[PATH_MAX + 32];
    /* JPEG sources */
    SourcePlan plan;
    SourceFeed feed;
    char error[256];
} Tokenize;

static int set_tokenizer(int opt, const char *arg, void *ctx) {
    (void)opt;
    *(const char **)ctx = arg;
    return 0;
}

static const char *item_id(void *ctx, size_t item) {
    Tokenize *t = ctx;
    if (!t->from_store) return t->plan.items[item].id;
    snprintf(t->id, sizeof t->id, "%s#%zu", t->store_abs, item);
    return t->id;
}

static void begin(void *ctx, int all_local) {
    Tokenize *t = ctx;
    if (!t->from_store) source_feed_begin(&t->feed, &t->plan, all_local);
}

static void feed(void *ctx, size_t item, PoolInput *in) {
    Tokenize *t = ctx;
    if (!t->from_store) {
        source_feed_item(&t->feed, item, in);
        return;
    }
    RecordView r;
    Err err;
    int bad = store_read_record(&t->read, item, &r, &err) != 0 ||
              ((r.dtype != DTYPE_U8 || r.payload_bytes != (size_t)r.height * r.width * r.channels) &&
               err_set(&err, "not a record of uint8 pixels"));
    if (bad) {
        snprintf(t->error, sizeof t->error, "record %zu: %s", item, err.msg);
        in->kind = INPUT_ERROR;
        in->data = (const uint8_t *)t->error;
        in->n = strlen(t->error);
        return;
    }
    t->labels[item] = r.label;
    in->kind = INPUT_PIXELS;
    in->data = r.payload;
    in->n = r.payload_bytes;
    in->width = r.width;
    in->height = r.height;
    in->channels = r.channels;
}

static int record_header(void *ctx, size_t item, size_t n, uint8_t header[RECORD_HEADER_BYTES], char *why,
                         size_t why_cap) {
    Tokenize *t = ctx;
    size_t expected = 2 * (size_t)t->tok.grid_h * t->tok.grid_w;
    if (n != expected) {
        snprintf(why, why_cap, "worker returned %zu bytes of codes, expected %zu", n, expected);
        return -1;
    }
    int32_t label = t->from_store ? t->labels[item] : t->plan.items[item].label;
    record_encode_header(header, label, t->tok.grid_h, t->tok.grid_w, 1, DTYPE_U16, 0, n);
    return 0;
}

static int check_meta(void *ctx, const Meta *m, const char *path, Err *err) {
    Tokenize *t = ctx;
    return token_store_check_meta(m, path, &t->tok, &t->src, err);
}

static void write_meta(void *ctx, StoreWriter *w) {
    Tokenize *t = ctx;
    token_store_write_meta(w, &t->tok, &t->src);
}

static int is_store(const char *path) {
    char *mdb = fs_join(path, "data.mdb");
    struct stat st;
    int yes = stat(mdb, &st) == 0;
    free(mdb);
    return yes;
}

/* One pixel store as the source: its shape decides the tokenizer's image size. */
static int plan_store(Tokenize *t, const char *path, Buf *names, Err *err) {
    if (store_open(&t->pixels, path, 0, 0, err) != 0) return -1;
    t->from_store = 1;
    Meta m;
    if (store_meta_load(&t->pixels, &m, err) != 0) return -1;
    const char *kind = meta_get(&m, "kind"), *h = meta_get(&m, "height"), *w = meta_get(&m, "width");
    const char *c = meta_get(&m, "channels"), *ln = meta_get(&m, "label_names"), *nl = meta_get(&m, "num_labels");
    int rc = 0, height = h ? atoi(h) : 0, width = w ? atoi(w) : 0, channels = c ? atoi(c) : 0;
    if (!kind || strcmp(kind, "pixels") != 0)
        rc = err_set(err, "%s: is a %s store; tokenize reads pixel stores or JPEG sources", path, kind ? kind : "unknown");
    else if (height <= 0 || width <= 0)
        rc = err_set(err, "%s: its meta lacks height and width", path);
    else if (tokenizer_open(&t->tok, t->tokenizer_path, 0, 0, err) != 0)
        rc = -1;
    else if (height % t->tok.downsample || width % t->tok.downsample)
        rc = err_set(err, "%s: holds %d×%d images; the tokenizer %s downsamples by %d, which does not divide them",
                     path, height, width, t->tokenizer_path, t->tok.downsample);
    else if ((tokenizer_close(&t->tok), tokenizer_open(&t->tok, t->tokenizer_path, height, width, err)) != 0)
        rc = -1;
    else if (channels != t->tok.channels)
        rc = err_set(err, "%s: holds %d-channel images, the tokenizer %s takes %d channels", path, channels,
                     t->tokenizer_path, t->tok.channels);
    buf_printf(names, "%s", ln ? ln : "");
    buf_put_u8(names, 0);
    t->src.n_labels = nl ? strtoul(nl, NULL, 10) : 0;
    meta_free(&m);
    if (rc != 0) return -1;
    t->store_abs = realpath(path, NULL);
    if (!t->store_abs) t->store_abs = xstrdup(path);
    t->src.description = t->store_abs;
    t->src.source_store = t->store_abs;
    return 0;
}

/* JPEG sources: decoded at --size (default the tokenizer's training size). */
static int plan_sources(Tokenize *t, SourceOptions *so, char **paths, int n, Buf *names, Err *err) {
    Tokenizer probe;
    if (tokenizer_open(&probe, t->tokenizer_path, 0, 0, err) != 0) return -1;
    int height = probe.height, width = probe.width, channels = probe.channels;
    int trained = height == width ? height : 0;
    tokenizer_close(&probe);
    if (!so->size_given && !trained)
        return err_set(err, "%s: was trained on %d×%d images; give --size for square crops", t->tokenizer_path,
                       height, width);
    if (!so->size_given) so->pre.size = trained;
    if (so->channels_given && so->pre.channels != channels)
        return err_set(err, "--channels %d: the tokenizer %s takes %d-channel images", so->pre.channels,
                       t->tokenizer_path, channels);
    so->pre.channels = channels;
    if (tokenizer_open(&t->tok, t->tokenizer_path, so->pre.size, so->pre.size, err) != 0)
        return err_prefix(err, "--size %d", so->pre.size);
    if (source_plan(&t->plan, paths, n, so->label_names, err) != 0) return -1;
    for (size_t i = 0; i < t->plan.n_labels; i++) buf_printf(names, "%s%s", i ? "\n" : "", t->plan.label_names[i]);
    buf_put_u8(names, 0);
    t->src.n_labels = t->plan.n_labels;
    t->src.description = t->plan.description;
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    Tokenize t;
    memset(&t, 0, sizeof t);
    static const struct option own[] = {{"tokenizer", required_argument, 0, 't'}, {0, 0, 0, 0}};
    ExtraOptions extra = {own, set_tokenizer, &t.tokenizer_path};
    SourceOptions so;
    int status = source_options_parse(&so, argc, argv, "tokenize", USAGE, &extra);
    if (status >= 0) return status;
    if (!t.tokenizer_path) {
        report_error("tokenize: missing --tokenizer CKPT");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    double started = now_seconds();
    char **srcs = argv + so.first_source;
    int n_srcs = argc - so.first_source;
    Err err;
    Buf names = {0}, job = {0};
    int rc = EXIT_BAD_INPUT;
    int store_src = is_store(srcs[0]);
    if (store_src && n_srcs > 1) {
        report_error("tokenize: a pixel store is tokenized on its own; give it as the only SRC");
        rc = EXIT_USAGE;
        goto done;
    }
    if ((store_src ? plan_store(&t, srcs[0], &names, &err) : plan_sources(&t, &so, srcs, n_srcs, &names, &err)) != 0) {
        report_error("%s", err.msg);
        goto done;
    }
    t.src.label_names = (const char *)names.data;
    size_t n_items = store_src ? (size_t)store_record_count(&t.pixels) : t.plan.n_items;
    if (store_src) {
        t.labels = xcalloc(n_items ? n_items : 1, sizeof *t.labels);
        if (store_read_begin(&t.pixels, &t.read, &err) != 0) {
            report_error("%s", err.msg);
            goto done;
        }
    }
    tokenize_job_options(&job, t.tokenizer_path, t.tok.checksum, t.tok.height, t.tok.width, &so.pre);
    so.pool.job_kind = "tokenize";
    so.pool.job_options = (const char *)job.data;
    StoreJob sj = {.verb = "tokenize", .out_path = so.out_path, .n_items = n_items, .ctx = &t,
                   .check_meta = check_meta, .write_meta = write_meta, .source_id = item_id, .feed = feed,
                   .record_header = record_header, .begin = begin,
                   .output_bytes = 2 * (size_t)t.tok.grid_h * t.tok.grid_w, .max_batch = 32, .pool = so.pool, .started = started};
    rc = store_job_run(&sj);
    if (store_src) store_read_end(&t.read);
done:
    source_feed_end(&t.feed);
    if (t.from_store) store_close(&t.pixels);
    source_plan_free(&t.plan);
    tokenizer_close(&t.tok);
    free(t.labels);
    free(t.store_abs);
    buf_free(&names);
    buf_free(&job);
    return rc;
}
