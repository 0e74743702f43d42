/* ingest_cmd: `tessera ingest SRC... -o STORE` (docs/CLI.md).
 *
 * Plans the sources, opens (or creates) the store, skips every source the store
 * already holds or rejected, runs the pool over the rest, and writes each result
 * in source order through the store's single writer. Killed at any moment, it can
 * be run again with the same arguments and finishes the job: commits are atomic
 * and always a prefix of the source order, and re-runs skip by source id. */
#define _GNU_SOURCE
#include "ingest_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/fs.h"
#include "../core/xalloc.h"
#include "../store/writer.h"
#include "pool.h"
#include "preprocess.h"
#include "source.h"

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
    SourceReader *reader;
    size_t *todo;
    size_t n_todo, next;
    StoreWriter *writer;
    size_t record_bytes;
    int size, channels;
    int tty;
    int send_paths; /* all workers are local: send file paths, not bytes */
    uint64_t stored, rejected;
} IngestRun;

static int feed_next(void *ctx, PoolInput *in) {
    IngestRun *r = ctx;
    if (r->next >= r->n_todo) return 0;
    size_t item = r->todo[r->next++];
    const SourceItem *it = &r->plan->items[item];
    if (r->send_paths && it->kind == ITEM_FILE && strlen(it->path) <= INPUT_PATH_MAX) {
        in->tag = item;
        in->kind = INPUT_FILE;
        in->data = (const uint8_t *)it->path;
        in->n = strlen(it->path);
        return 1;
    }
    static Payload p; /* valid until the next call, as pool.h asks */
    source_read(r->reader, item, &p);
    in->tag = item;
    switch (p.kind) {
    case PAYLOAD_JPEG:
        in->kind = INPUT_JPEG;
        in->data = p.data;
        in->n = p.n;
        break;
    case PAYLOAD_PIXELS:
        in->kind = INPUT_PIXELS;
        in->data = p.data;
        in->n = p.n;
        in->width = p.width;
        in->height = p.height;
        in->channels = p.channels;
        break;
    default:
        in->kind = INPUT_ERROR;
        in->data = (const uint8_t *)p.error;
        in->n = strlen(p.error);
    }
    return 1;
}

static int deliver(void *ctx, uint64_t tag, int ok, const uint8_t *data, size_t n, Err *err) {
    (void)err;
    IngestRun *r = ctx;
    const SourceItem *it = &r->plan->items[tag];
    if (ok && n != r->record_bytes) {
        ok = 0;
        static char msg[128];
        snprintf(msg, sizeof msg, "worker returned %zu bytes, expected %zu", n, r->record_bytes);
        data = (const uint8_t *)msg;
        n = strlen(msg);
    }
    if (ok) {
        uint8_t header[RECORD_HEADER_BYTES];
        record_encode_header(header, it->label, r->size, r->size, r->channels, DTYPE_U8, 0, n);
        writer_add_record_parts(r->writer, it->id, header, sizeof header, data, n);
        r->stored++;
    } else {
        char reason[1024];
        size_t k = n < sizeof reason - 1 ? n : sizeof reason - 1;
        memcpy(reason, data, k);
        reason[k] = 0;
        for (char *s = reason; *s; s++)
            if (*s == '\n' || *s == '\t') *s = ' ';
        writer_add_reject(r->writer, it->id, reason);
        fprintf(stderr, "%sreject: %s: %s\n", r->tty ? "\r\033[K" : "", it->id, reason);
        r->rejected++;
    }
    return 0;
}

static int tick(void *ctx, Err *err) {
    IngestRun *r = ctx;
    return writer_maybe_commit(r->writer, err);
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

static int check_compatible(const Meta *m, const char *path, const PreprocessOptions *o, const char *names,
                            Err *err) {
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

static void write_new_meta(StoreWriter *w, const PreprocessOptions *o, const SourcePlan *plan, const char *names) {
    char v[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tm);
    writer_set_meta(w, "created", v);
    writer_set_meta(w, "kind", "pixels");
    writer_set_meta(w, "format_version", STORE_FORMAT_VERSION);
    writer_set_meta(w, "tool_version", TESSERA_VERSION);
    writer_set_meta(w, "dtype", "uint8");
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

/* rejects.tsv beside the store: "source id<TAB>reason", rewritten from the table. */
static int write_rejects_log(Store *s, Err *err) {
    char *path = fs_join(s->path, "rejects.tsv");
    char *tmp = fs_join(s->path, "rejects.tsv.tmp");
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f) {
        rc = err_set(err, "%s: cannot write (%s)", tmp, strerror(errno));
    } else {
        MDB_txn *txn;
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
            if (mdb_cursor_open(txn, s->rejects, &cur) == 0) {
                for (int c = mdb_cursor_get(cur, &k, &v, MDB_FIRST); c == 0; c = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
                    fprintf(f, "%.*s\t%.*s\n", (int)k.mv_size, (char *)k.mv_data, (int)v.mv_size, (char *)v.mv_data);
                mdb_cursor_close(cur);
            }
            mdb_txn_abort(txn);
        }
        if (fclose(f) != 0 || rename(tmp, path) != 0) rc = err_set(err, "%s: cannot write (%s)", path, strerror(errno));
    }
    free(path);
    free(tmp);
    return rc;
}

/* One writer per store: a second ingest into the same store is refused, not merged. */
static int lock_store(const char *path, int *fd_out, Err *err) {
    char *lock = fs_join(path, "tessera.lock");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    free(lock);
    if (fd < 0) return err_set(err, "%s: cannot create tessera.lock (%s)", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return err_set(err, "%s: another tessera process is writing this store", path);
    }
    *fd_out = fd;
    return 0;
}

/* ------------------------------------------------------------------ the command */

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        report_error("%s: expected an integer in %ld..%ld, got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cmd_ingest(int argc, char **argv) {
    PreprocessOptions o;
    preprocess_defaults(&o);
    PoolConfig pc;
    pool_config_defaults(&pc);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pc.local_workers = cores > 0 ? (int)cores : 1;
    const char *out_path = NULL, *label_names = NULL;
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'}, {"size", required_argument, 0, 's'},
        {"channels", required_argument, 0, 'c'}, {"resize", required_argument, 0, 'r'},
        {"crop", required_argument, 0, 'C'}, {"workers", required_argument, 0, 'w'},
        {"bind", required_argument, 0, 'b'}, {"max-pixels", required_argument, 0, 'm'},
        {"label-names", required_argument, 0, 'L'}, {"exact-dct", no_argument, 0, 'x'},
        {"heartbeat-timeout", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    long v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (opt) {
        case 'o': out_path = optarg; break;
        case 's': if (parse_int("--size", optarg, 1, 4096, &v)) return EXIT_USAGE; o.size = (int)v; break;
        case 'c':
            if (parse_int("--channels", optarg, 1, 3, &v) || v == 2) {
                report_error("--channels: expected 1 or 3");
                return EXIT_USAGE;
            }
            o.channels = (int)v;
            break;
        case 'r':
            if (!strcmp(optarg, "area")) o.filter = RESIZE_AREA;
            else if (!strcmp(optarg, "bilinear")) o.filter = RESIZE_BILINEAR;
            else { report_error("--resize: expected area or bilinear, got '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'C':
            if (!strcmp(optarg, "center")) o.crop_center = 1;
            else if (!strcmp(optarg, "none")) o.crop_center = 0;
            else { report_error("--crop: expected center or none, got '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'w': if (parse_int("--workers", optarg, 0, 1024, &v)) return EXIT_USAGE; pc.local_workers = (int)v; break;
        case 'b': pc.bind = optarg; break;
        case 'm': {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || x == 0) { report_error("--max-pixels: expected a positive integer, got '%s'", optarg); return EXIT_USAGE; }
            o.max_pixels = x;
            break;
        }
        case 'L': label_names = optarg; break;
        case 'x': o.fast_dct = 0; break;
        case 'H': {
            char *end;
            double t = strtod(optarg, &end);
            if (!*optarg || *end || t < 0.5 || t > 3600) { report_error("--heartbeat-timeout: expected seconds in 0.5..3600, got '%s'", optarg); return EXIT_USAGE; }
            pc.heartbeat_timeout = t;
            break;
        }
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (!out_path || optind >= argc) {
        report_error(!out_path ? "ingest: missing -o STORE" : "ingest: no sources given");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    if (pc.local_workers == 0 && !pc.bind) {
        report_error("ingest: --workers 0 needs --bind, or nothing would do the work");
        return EXIT_USAGE;
    }

    double started = now_seconds(), planned = 0, pool_done = 0;
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

    Buf names = {0};
    join_names(&plan, &names);
    Store store;
    StoreWriter writer;
    int lock_fd = -1, rc = EXIT_BAD_INPUT;
    if (store_open(&store, out_path, 1, 1, &err) != 0) {
        report_error("%s", err.msg);
        source_plan_free(&plan);
        buf_free(&names);
        return EXIT_BAD_INPUT;
    }
    Meta meta;
    if (lock_store(out_path, &lock_fd, &err) != 0 || store_meta_load(&store, &meta, &err) != 0 ||
        writer_open(&writer, &store, &err) != 0) {
        report_error("%s", err.msg);
        goto done_store;
    }
    int fresh = meta.n == 0;
    if (!fresh && check_compatible(&meta, out_path, &o, (char *)names.data, &err) != 0) {
        report_error("%s", err.msg);
        meta_free(&meta);
        goto done_store;
    }
    meta_free(&meta);
    if (fresh) {
        write_new_meta(&writer, &o, &plan, (char *)names.data);
        if (writer_commit(&writer, &err) != 0) {
            report_error("%s", err.msg);
            goto done_store;
        }
    }

    /* Resume: what the store already holds or rejected is not done again. */
    IngestRun run = {.plan = &plan, .writer = &writer, .size = o.size, .channels = o.channels,
                     .record_bytes = (size_t)o.size * o.size * o.channels, .tty = isatty(STDERR_FILENO)};
    run.todo = xmalloc((plan.n_items ? plan.n_items : 1) * sizeof *run.todo);
    StoreRead sr;
    if (store_read_begin(&store, &sr, &err) != 0) {
        report_error("%s", err.msg);
        free(run.todo);
        goto done_store;
    }
    size_t already = 0;
    for (size_t i = 0; i < plan.n_items; i++) {
        if (store_source_state(&sr, plan.items[i].id)) already++;
        else run.todo[run.n_todo++] = i;
    }
    store_read_end(&sr);
    if (already) fprintf(stderr, "tessera: resuming: %zu of %zu sources are already in the store\n", already, plan.n_items);

    planned = now_seconds();
    Buf job = {0};
    preprocess_options_format(&o, &job);
    buf_put_u8(&job, 0);
    /* Workers that share our file system read files themselves; remote ones get bytes. */
    run.send_paths = pc.bind == NULL;
    /* Results of about 4 MiB per batch: small enough to balance the load and bound the
     * reorder window's memory, large enough that per-message costs vanish. */
    size_t per_batch = ((size_t)4 << 20) / run.record_bytes;
    pc.batch_items = per_batch < 8 ? 8 : per_batch > 256 ? 256 : per_batch;
    pc.job_kind = "ingest";
    pc.job_options = (const char *)job.data;
    pc.total = run.n_todo;
    pc.progress_label = "ingest";
    run.reader = source_reader_open(&plan);
    PoolCallbacks cb = {.next = feed_next, .deliver = deliver, .tick = tick, .ctx = &run};
    PoolStats stats;
    int pool_rc = run.n_todo ? pool_run(&pc, &cb, &stats, &err) : (memset(&stats, 0, sizeof stats), 0);
    source_reader_close(run.reader);
    buf_free(&job);
    free(run.todo);
    /* Whatever stopped the pool, what was delivered is a prefix of the sources: keep it. */
    pool_done = now_seconds();
    Err close_err;
    int close_rc = writer_close(&writer, &close_err);
    if (pool_rc != 0 || close_rc != 0) {
        report_error("%s", pool_rc != 0 ? err.msg : close_err.msg);
        write_rejects_log(&store, &close_err);
        goto done_store;
    }
    if (write_rejects_log(&store, &err) != 0) report_error("%s", err.msg);

    uint64_t total = store_record_count(&store), total_rejects = store_reject_count(&store);
    double wall = now_seconds() - started;
    double rate = wall > 0 ? (double)stats.delivered / wall : 0;
    printf("ingest: %llu stored, %llu rejected, %zu already done, in %.2f s (%.0f images/s); planning %.2f s, "
           "final flush to disk %.2f s\n",
           (unsigned long long)run.stored, (unsigned long long)run.rejected, already, wall, rate, planned - started,
           now_seconds() - pool_done);
    printf("store %s: %llu records, %llu rejects%s\n", out_path, (unsigned long long)total,
           (unsigned long long)total_rejects, total_rejects ? " (see rejects.tsv)" : "");
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define CPU_SECONDS(ru) ((double)(ru).ru_utime.tv_sec + (ru).ru_utime.tv_usec * 1e-6 + (ru).ru_stime.tv_sec + \
                         (ru).ru_stime.tv_usec * 1e-6)
    printf("cpu: coordinator %.2f s, local workers %.2f s\n", CPU_SECONDS(self), CPU_SECONDS(children));
#undef CPU_SECONDS
    if (stats.workers_lost)
        printf("workers lost: %llu (their %llu batches were done by others)\n", (unsigned long long)stats.workers_lost,
               (unsigned long long)stats.batches_resent);
    rc = total_rejects ? EXIT_REJECTS : EXIT_OK;

done_store:
    store_close(&store);
    if (lock_fd >= 0) close(lock_fd);
    source_plan_free(&plan);
    buf_free(&names);
    return rc;
}
