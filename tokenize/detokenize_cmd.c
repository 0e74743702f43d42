/* detokenize_cmd: `tessera detokenize --tokenizer CKPT TOKENS -o PIXELS` (docs/CLI.md).
 *
 * Decodes every code grid of a token store back to pixels with the tokenizer that made
 * it, into a pixel store, on the same pool as ingest and tokenize. Before any worker
 * starts, the token store's meta must name this tokenizer, and every record is checked
 * (dtype, grid, every code < K): a bad store is refused whole, naming the record, and
 * nothing is written. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "../core/xalloc.h"
#include "../ingest/source_options.h"
#include "../ingest/store_job.h"
#include "../store/store.h"
#include "job_tokenize.h"
#include "token_store.h"
#include "tokenize_cmd.h"

static const char *USAGE =
    "usage: tessera detokenize --tokenizer CKPT TOKENS -o PIXELS [options]\n"
    "\n"
    "Decodes a token store's codes back to images, into a pixel store, with the tokenizer that\n"
    "made them (a token store made by another tokenizer is refused). Running it again resumes.\n"
    "\n"
    "  -t, --tokenizer CKPT      the tokenizer checkpoint (required)\n"
    "  -o, --output PIXELS       the pixel store to create or continue\n"
    "      --workers N, --bind ENDPOINT, --heartbeat-timeout S   the pool, as for ingest\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 all stored; 3 finished with rejects; 1 bad input; 2 bad usage.\n";

typedef struct {
    Tokenizer tok;
    const char *tokenizer_path;
    Store tokens;
    StoreRead read;
    char *tokens_abs;
    int32_t *labels;
    char id[8192];
    char *label_names, *num_labels, *made_by;
} Detokenize;

static int set_tokenizer(int opt, const char *arg, void *ctx) {
    (void)opt;
    *(const char **)ctx = arg;
    return 0;
}

static const char *item_id(void *ctx, size_t item) {
    Detokenize *d = ctx;
    snprintf(d->id, sizeof d->id, "%s#%zu", d->tokens_abs, item);
    return d->id;
}

static void feed(void *ctx, size_t item, PoolInput *in) {
    Detokenize *d = ctx;
    RecordView r;
    Err err;
    store_read_record(&d->read, item, &r, &err); /* every record was read and checked before */
    in->kind = INPUT_TOKENS;
    in->data = r.payload;
    in->n = r.payload_bytes;
    in->width = r.width;
    in->height = r.height;
    in->channels = 2;
}

static int record_header(void *ctx, size_t item, size_t n, uint8_t header[RECORD_HEADER_BYTES], char *why,
                         size_t why_cap) {
    Detokenize *d = ctx;
    size_t expected = (size_t)d->tok.height * d->tok.width * d->tok.channels;
    if (n != expected) {
        snprintf(why, why_cap, "worker returned %zu bytes of pixels, expected %zu", n, expected);
        return -1;
    }
    record_encode_header(header, d->labels[item], d->tok.height, d->tok.width, d->tok.channels, DTYPE_U8, 0, n);
    return 0;
}

static int check_meta(void *ctx, const Meta *m, const char *path, Err *err) {
    Detokenize *d = ctx;
    const char *kind = meta_get(m, "kind"), *by = meta_get(m, "source");
    if (!kind || strcmp(kind, "pixels") != 0) return err_set(err, "%s: is a %s store, not a pixel store", path, kind ? kind : "unknown");
    if (!by || strcmp(by, d->made_by) != 0)
        return err_set(err, "%s: holds pixels of %s, not of this detokenize (give another -o)", path, by ? by : "unknown");
    return 0;
}

static void write_meta(void *ctx, StoreWriter *w) {
    Detokenize *d = ctx;
    char v[64];
    writer_set_standard_meta(w, "pixels", "uint8");
    snprintf(v, sizeof v, "%d", d->tok.height);
    if (d->tok.height == d->tok.width) writer_set_meta(w, "size", v);
    writer_set_meta(w, "height", v);
    snprintf(v, sizeof v, "%d", d->tok.width);
    writer_set_meta(w, "width", v);
    snprintf(v, sizeof v, "%d", d->tok.channels);
    writer_set_meta(w, "channels", v);
    writer_set_meta(w, "resize", "none");
    writer_set_meta(w, "crop", "none");
    writer_set_meta(w, "label_names", d->label_names);
    writer_set_meta(w, "num_labels", d->num_labels);
    writer_set_meta(w, "source", d->made_by);
    tokenizer_identity(&d->tok, v, sizeof v);
    writer_set_meta(w, "tokenizer", v);
}

/* Every record: uint16, the tokenizer's grid, codes below K. */
static int check_records(Detokenize *d, uint64_t n, Err *err) {
    for (uint64_t i = 0; i < n; i++) {
        RecordView r;
        if (store_read_record(&d->read, i, &r, err) != 0 ||
            token_record_check(&r, d->tok.grid_h, d->tok.grid_w, d->tok.K, err) != 0)
            return err_prefix(err, "%s: record %llu", d->tokens_abs, (unsigned long long)i);
        d->labels[i] = r.label;
    }
    return 0;
}

/* Opens the token store and the tokenizer at the store's image size, and checks they belong together. */
static int prepare(Detokenize *d, const char *path, Err *err) {
    if (store_open(&d->tokens, path, 0, 0, err) != 0) return -1;
    d->tokens_abs = realpath(path, NULL);
    if (!d->tokens_abs) d->tokens_abs = xstrdup(path);
    Meta m;
    if (store_meta_load(&d->tokens, &m, err) != 0) return -1;
    const char *kind = meta_get(&m, "kind"), *ih = meta_get(&m, "image_height"), *iw = meta_get(&m, "image_width");
    int rc = 0;
    if (!kind || strcmp(kind, "tokens") != 0)
        rc = err_set(err, "%s: is a %s store, not a token store", path, kind ? kind : "unknown");
    else if (!ih || !iw)
        rc = err_set(err, "%s: its meta lacks image_height and image_width", path);
    else if (tokenizer_open(&d->tok, d->tokenizer_path, atoi(ih), atoi(iw), err) != 0)
        rc = -1;
    else
        rc = token_store_check_tokenizer(&m, path, &d->tok, err);
    const char *ln = meta_get(&m, "label_names"), *nl = meta_get(&m, "num_labels");
    d->label_names = xstrdup(ln ? ln : "");
    d->num_labels = xstrdup(nl ? nl : "0");
    meta_free(&m);
    if (rc != 0) return -1;
    size_t need = strlen(d->tokens_abs) + 64;
    d->made_by = xmalloc(need);
    snprintf(d->made_by, need, "detokenize of %s", d->tokens_abs);
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    Detokenize d;
    memset(&d, 0, sizeof d);
    static const struct option own[] = {{"tokenizer", required_argument, 0, 't'}, {0, 0, 0, 0}};
    ExtraOptions extra = {own, set_tokenizer, &d.tokenizer_path};
    SourceOptions so;
    int status = source_options_parse(&so, argc, argv, "detokenize", USAGE, &extra);
    if (status >= 0) return status;
    if (!d.tokenizer_path || argc - so.first_source != 1 || so.size_given || so.channels_given) {
        report_error(!d.tokenizer_path ? "detokenize: missing --tokenizer CKPT"
                     : argc - so.first_source != 1 ? "detokenize: give exactly one TOKENS store"
                                                   : "detokenize: the image size and channels are the tokenizer's");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    double started = now_seconds();
    Err err;
    Buf job = {0};
    int rc = EXIT_BAD_INPUT, reading = 0;
    uint64_t n = 0;
    if (prepare(&d, argv[so.first_source], &err) != 0 || store_read_begin(&d.tokens, &d.read, &err) != 0) {
        report_error("%s", err.msg);
        goto done;
    }
    reading = 1;
    n = store_record_count(&d.tokens);
    d.labels = xcalloc(n ? n : 1, sizeof *d.labels);
    if (check_records(&d, n, &err) != 0) {
        report_error("%s", err.msg);
        goto done;
    }
    tokenize_job_options(&job, d.tokenizer_path, d.tok.checksum, d.tok.height, d.tok.width, NULL);
    so.pool.job_kind = "detokenize";
    so.pool.job_options = (const char *)job.data;
    StoreJob sj = {.verb = "detokenize", .out_path = so.out_path, .n_items = n, .ctx = &d,
                   .check_meta = check_meta, .write_meta = write_meta, .source_id = item_id, .feed = feed,
                   .record_header = record_header,
                   .output_bytes = (size_t)d.tok.height * d.tok.width * d.tok.channels, .max_batch = 32, .pool = so.pool,
                   .started = started};
    rc = store_job_run(&sj);
done:
    if (reading) store_read_end(&d.read);
    if (d.tokens.env) store_close(&d.tokens);
    tokenizer_close(&d.tok);
    free(d.labels);
    free(d.tokens_abs);
    free(d.label_names);
    free(d.num_labels);
    free(d.made_by);
    buf_free(&job);
    return rc;
}
