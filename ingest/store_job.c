/* store_job: a pool run written into one store (see store_job.h). */
#include "store_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/fs.h"
#include "../core/xalloc.h"

typedef struct {
    StoreJob *job;
    StoreWriter *writer;
    size_t *todo;
    size_t n_todo, next;
    int tty;
    uint64_t stored, rejected;
} Run;

static int feed_next(void *ctx, PoolInput *in) {
    Run *r = ctx;
    if (r->next >= r->n_todo) return 0;
    size_t item = r->todo[r->next++];
    memset(in, 0, sizeof *in);
    r->job->feed(r->job->ctx, item, in);
    in->tag = item;
    return 1;
}

static void add_reject(Run *r, const char *id, const uint8_t *data, size_t n) {
    char reason[1024];
    size_t k = n < sizeof reason - 1 ? n : sizeof reason - 1;
    memcpy(reason, data, k);
    reason[k] = 0;
    for (char *s = reason; *s; s++)
        if (*s == '\n' || *s == '\t') *s = ' ';
    writer_add_reject(r->writer, id, reason);
    fprintf(stderr, "%sreject: %s: %s\n", r->tty ? "\r\033[K" : "", id, reason);
    r->rejected++;
}

static int deliver(void *ctx, uint64_t tag, int ok, const uint8_t *data, size_t n, Err *err) {
    (void)err;
    Run *r = ctx;
    StoreJob *j = r->job;
    const char *id = j->source_id(j->ctx, tag);
    if (!ok) {
        add_reject(r, id, data, n);
        return 0;
    }
    uint8_t header[RECORD_HEADER_BYTES];
    char why[256];
    if (j->record_header(j->ctx, tag, n, header, why, sizeof why) != 0) {
        add_reject(r, id, (const uint8_t *)why, strlen(why));
        return 0;
    }
    writer_add_record_parts(r->writer, id, header, sizeof header, data, n);
    r->stored++;
    return 0;
}

static int tick(void *ctx, Err *err) {
    Run *r = ctx;
    return writer_maybe_commit(r->writer, err);
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

/* One writer per store: a second run into the same store is refused, not merged. */
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

static double cpu_seconds(int who) {
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* Opens the store, settles its meta, and lists the items it does not hold yet. */
static int prepare(StoreJob *j, Store *store, StoreWriter *writer, Run *run, size_t *already, Err *err) {
    Meta meta;
    if (store_meta_load(store, &meta, err) != 0) return -1;
    int fresh = meta.n == 0;
    int rc = fresh ? 0 : j->check_meta(j->ctx, &meta, j->out_path, err);
    meta_free(&meta);
    if (rc != 0 || writer_open(writer, store, err) != 0) return -1;
    Err ignored;
    StoreRead sr;
    if (fresh) j->write_meta(j->ctx, writer);
    if ((fresh && writer_commit(writer, err) != 0) || store_read_begin(store, &sr, err) != 0) {
        writer_close(writer, &ignored);
        return -1;
    }
    run->todo = xmalloc((j->n_items ? j->n_items : 1) * sizeof *run->todo);
    for (size_t i = 0; i < j->n_items; i++) {
        if (store_source_state(&sr, j->source_id(j->ctx, i))) (*already)++;
        else run->todo[run->n_todo++] = i;
    }
    store_read_end(&sr);
    return 0;
}

int store_job_run(StoreJob *j) {
    double started = j->started ? j->started : now_seconds(), planned = now_seconds();
    Err err;
    Store store;
    StoreWriter writer;
    int lock_fd = -1, rc = EXIT_BAD_INPUT, caught = 0;
    if (store_open(&store, j->out_path, 1, 1, &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    Run run = {.job = j, .writer = &writer, .tty = isatty(STDERR_FILENO)};
    size_t already = 0;
    if (lock_store(j->out_path, &lock_fd, &err) != 0 || prepare(j, &store, &writer, &run, &already, &err) != 0) {
        report_error("%s", err.msg);
        goto done;
    }
    if (already)
        fprintf(stderr, "tessera: resuming: %zu of %zu sources are already in the store\n", already, j->n_items);

    PoolConfig pc = j->pool;
    int all_local = pc.bind == NULL;
    if (j->begin) j->begin(j->ctx, all_local);
    /* Results of about 4 MiB per batch: small enough to balance the load and bound the
     * reorder window's memory, large enough that per-message costs vanish. */
    size_t per_batch = ((size_t)4 << 20) / (j->output_bytes ? j->output_bytes : 1);
    size_t most = j->max_batch ? j->max_batch : 256;
    pc.batch_items = per_batch < 8 ? 8 : per_batch > most ? most : per_batch;
    pc.total = run.n_todo;
    pc.progress_label = j->verb;
    PoolCallbacks cb = {.next = feed_next, .deliver = deliver, .tick = tick, .ctx = &run};
    PoolStats stats;
    memset(&stats, 0, sizeof stats);
    pool_catch_interrupts(); /* until the store is closed */
    caught = 1;
    int pool_rc = run.n_todo ? pool_run(&pc, &cb, &stats, &err) : 0;
    /* Whatever stopped the pool, what was delivered is a prefix of the inputs: keep it. */
    double pool_done = now_seconds();
    Err close_err;
    int close_rc = writer_close(&writer, &close_err);
    if (pool_rc != 0 || close_rc != 0) {
        report_error("%s", pool_rc != 0 ? err.msg : close_err.msg);
        write_rejects_log(&store, &close_err);
        goto done;
    }
    if (write_rejects_log(&store, &err) != 0) report_error("%s", err.msg);

    uint64_t total = store_record_count(&store), total_rejects = store_reject_count(&store);
    double wall = now_seconds() - started;
    printf("%s: %llu stored, %llu rejected, %zu already done, in %.2f s (%.0f images/s); planning %.2f s, final flush "
           "to disk %.2f s\n",
           j->verb, (unsigned long long)run.stored, (unsigned long long)run.rejected, already, wall,
           wall > 0 ? (double)stats.delivered / wall : 0, planned - started, now_seconds() - pool_done);
    printf("store %s: %llu records, %llu rejects%s\n", j->out_path, (unsigned long long)total,
           (unsigned long long)total_rejects, total_rejects ? " (see rejects.tsv)" : "");
    printf("cpu: coordinator %.2f s, local workers %.2f s\n", cpu_seconds(RUSAGE_SELF), cpu_seconds(RUSAGE_CHILDREN));
    if (stats.workers_lost)
        printf("workers lost: %llu (their %llu batches were done by others)\n", (unsigned long long)stats.workers_lost,
               (unsigned long long)stats.batches_resent);
    rc = total_rejects ? EXIT_REJECTS : EXIT_OK;
done:
    free(run.todo);
    store_close(&store);
    if (lock_fd >= 0) close(lock_fd);
    if (caught) pool_release_interrupts();
    return rc;
}
