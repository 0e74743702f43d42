/* writer: batched, replayable, append-only write transactions on a commit thread
 * (see writer.h). */
#include "writer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"

enum { OP_RECORD = 1, OP_REJECT = 2, OP_META = 3 };

static const double SYNC_EVERY_SECONDS = 10.0;

static void *commit_thread(void *arg);

int writer_open(StoreWriter *w, Store *s, Err *err) {
    memset(w, 0, sizeof *w);
    if (!s->writable) return err_set(err, "%s: store is open read-only", s->path);
    w->store = s;
    w->committed_records = store_record_count(s);
    w->committed_rejects = store_reject_count(s);
    w->commit_every_records = 4096;
    w->commit_every_bytes = (size_t)64 << 20;
    w->commit_every_seconds = 1.0;
    w->last_commit = w->last_sync = now_seconds();
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    if (pthread_create(&w->thread, NULL, commit_thread, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->changed);
        return err_set(err, "%s: cannot start the commit thread", s->path);
    }
    return 0;
}

/* ------------------------------------------------------------------ queueing (caller's thread) */

/* Queues one operation; its value is the concatenation of two parts (the second may be empty). */
static void queue_op2(StoreWriter *w, int op, const void *key, size_t key_bytes, const void *a, size_t a_bytes,
                      const void *b, size_t b_bytes) {
    Buf *q = &w->queue.ops;
    buf_reserve(q, 9 + key_bytes + a_bytes + b_bytes);
    buf_put_u8(q, (uint8_t)op);
    buf_put_u32(q, (uint32_t)key_bytes);
    buf_put(q, key, key_bytes);
    buf_put_u32(q, (uint32_t)(a_bytes + b_bytes));
    buf_put(q, a, a_bytes);
    buf_put(q, b, b_bytes);
    w->queue.n_ops++;
}

void writer_add_record_parts(StoreWriter *w, const char *source_id, const void *header, size_t header_bytes,
                             const void *payload, size_t payload_bytes) {
    char key[SOURCE_KEY_MAX + 1];
    queue_op2(w, OP_RECORD, key, store_source_key(source_id, key), header, header_bytes, payload, payload_bytes);
    w->queue.n_records++;
}

void writer_add_record(StoreWriter *w, const char *source_id, const void *record, size_t record_bytes) {
    writer_add_record_parts(w, source_id, record, record_bytes, NULL, 0);
}

void writer_add_reject(StoreWriter *w, const char *source_id, const char *reason) {
    char key[SOURCE_KEY_MAX + 1];
    queue_op2(w, OP_REJECT, key, store_source_key(source_id, key), reason, strlen(reason), NULL, 0);
    w->queue.n_rejects++;
}

void writer_set_meta(StoreWriter *w, const char *key, const char *value) {
    queue_op2(w, OP_META, key, strlen(key), value, strlen(value), NULL, 0);
}

/* ------------------------------------------------------------------ committing (commit thread) */

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn, unsigned flags) {
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    return mdb_put(txn, dbi, &key, &val, flags);
}

/* Replays a whole batch in one transaction. Returns an LMDB code. */
static int replay(Store *s, const WriteBatch *b, uint64_t first_index, MDB_txn *txn) {
    uint64_t index = first_index;
    Reader r = reader_of(b->ops.data, b->ops.len);
    for (size_t i = 0; i < b->n_ops; i++) {
        int op = rd_u8(&r);
        uint32_t key_len = rd_u32(&r);
        const char *key = (const char *)rd_bytes(&r, key_len);
        uint32_t value_len = rd_u32(&r);
        const uint8_t *value = rd_bytes(&r, value_len);
        if (r.bad) return MDB_CORRUPTED; /* cannot happen: we wrote the queue */
        int rc = 0;
        if (op == OP_RECORD) {
            uint8_t be[8];
            be64_put(be, index++);
            rc = put(txn, s->records, be, 8, value, value_len, MDB_APPEND);
            if (rc == 0) rc = put(txn, s->sources, key, key_len, be, 8, 0);
        } else if (op == OP_REJECT) {
            rc = put(txn, s->rejects, key, key_len, value, value_len, 0);
        } else {
            rc = put(txn, s->meta, key, key_len, value, value_len, 0);
        }
        if (rc != 0) return rc;
    }
    char count[32];
    int n = snprintf(count, sizeof count, "%llu", (unsigned long long)index);
    return put(txn, s->meta, "count", 5, count, (size_t)n, 0);
}

static int commit_batch(StoreWriter *w, const WriteBatch *b, uint64_t first_index, Err *err) {
    Store *s = w->store;
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == 0) rc = replay(s, b, first_index, txn);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else if (txn) {
            mdb_txn_abort(txn);
        }
        if (rc == MDB_MAP_FULL) {
            MDB_envinfo info;
            mdb_env_info(s->env, &info);
            size_t bigger = info.me_mapsize * 2;
            rc = mdb_env_set_mapsize(s->env, bigger);
            if (rc != 0) return err_set(err, "%s: cannot grow the map to %zu bytes (%s)", s->path, bigger, mdb_strerror(rc));
            w->map_growths++;
            continue;
        }
        if (rc != 0) return err_set(err, "%s: write failed (%s)", s->path, mdb_strerror(rc));
        return 0;
    }
}

static void *commit_thread(void *arg) {
    StoreWriter *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stop) pthread_cond_wait(&w->changed, &w->lock);
        if (!w->busy && w->stop) break;
        uint64_t first = w->committed_records;
        pthread_mutex_unlock(&w->lock);

        Err err;
        int rc = commit_batch(w, &w->in_flight, first, &err);
        double t = now_seconds();
        if (rc == 0 && t - w->last_sync > SYNC_EVERY_SECONDS) {
            mdb_env_sync(w->store->env, 1);
            w->last_sync = t;
        }

        pthread_mutex_lock(&w->lock);
        if (rc == 0) {
            w->committed_records += w->in_flight.n_records;
            w->committed_rejects += w->in_flight.n_rejects;
        } else if (!w->failed) {
            w->failed = 1;
            w->thread_err = err;
        }
        buf_clear(&w->in_flight.ops);
        w->in_flight.n_ops = w->in_flight.n_records = w->in_flight.n_rejects = 0;
        w->busy = 0;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ------------------------------------------------------------------ hand-over (caller's thread) */

/* Waits for the thread to be idle; returns its error, if it had one. Lock held. */
static int wait_idle(StoreWriter *w, Err *err) {
    while (w->busy) pthread_cond_wait(&w->changed, &w->lock);
    if (w->failed) {
        if (err) *err = w->thread_err;
        return -1;
    }
    return 0;
}

/* Hands the queue to the thread (waiting for the previous commit first). */
static int hand_over(StoreWriter *w, Err *err) {
    pthread_mutex_lock(&w->lock);
    int rc = wait_idle(w, err);
    if (rc == 0 && w->queue.n_ops > 0) {
        WriteBatch spare = w->in_flight; /* empty, but keeps its buffer */
        w->in_flight = w->queue;
        w->queue = spare;
        w->busy = 1;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    w->last_commit = now_seconds();
    return rc;
}

int writer_maybe_commit(StoreWriter *w, Err *err) {
    if (w->queue.n_ops == 0) {
        pthread_mutex_lock(&w->lock);
        int failed = w->failed;
        if (failed && err) *err = w->thread_err;
        pthread_mutex_unlock(&w->lock);
        return failed ? -1 : 0;
    }
    if (w->queue.n_records >= w->commit_every_records || w->queue.ops.len >= w->commit_every_bytes ||
        now_seconds() - w->last_commit >= w->commit_every_seconds)
        return hand_over(w, err);
    return 0;
}

int writer_commit(StoreWriter *w, Err *err) {
    int rc = hand_over(w, err);
    pthread_mutex_lock(&w->lock);
    if (rc == 0) rc = wait_idle(w, err);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int writer_close(StoreWriter *w, Err *err) {
    int rc = writer_commit(w, err);
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->changed);
    if (rc == 0) {
        int sync_rc = mdb_env_sync(w->store->env, 1);
        if (sync_rc != 0) rc = err_set(err, "%s: sync failed (%s)", w->store->path, mdb_strerror(sync_rc));
    }
    buf_free(&w->queue.ops);
    buf_free(&w->in_flight.ops);
    return rc;
}

void writer_set_standard_meta(StoreWriter *w, const char *kind, const char *dtype) {
    char created[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    writer_set_meta(w, "created", created);
    writer_set_meta(w, "kind", kind);
    writer_set_meta(w, "format_version", STORE_FORMAT_VERSION);
    writer_set_meta(w, "tool_version", TESSERA_VERSION);
    writer_set_meta(w, "dtype", dtype);
}
