/* writer: batched, replayable, append-only write transactions (see writer.h). */
#include "writer.h"

#include <stdio.h>
#include <string.h>

#include "../core/clock.h"

enum { OP_RECORD = 1, OP_REJECT = 2, OP_META = 3 };

static const double SYNC_EVERY_SECONDS = 10.0;

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
    return 0;
}

/* Queues one operation; its value is the concatenation of two parts (the second may be empty). */
static void queue_op2(StoreWriter *w, int op, const void *key, size_t key_bytes, const void *a, size_t a_bytes,
                      const void *b, size_t b_bytes) {
    buf_reserve(&w->queue, 9 + key_bytes + a_bytes + b_bytes);
    buf_put_u8(&w->queue, (uint8_t)op);
    buf_put_u32(&w->queue, (uint32_t)key_bytes);
    buf_put(&w->queue, key, key_bytes);
    buf_put_u32(&w->queue, (uint32_t)(a_bytes + b_bytes));
    buf_put(&w->queue, a, a_bytes);
    buf_put(&w->queue, b, b_bytes);
    w->queued_ops++;
}

static void queue_op(StoreWriter *w, int op, const void *key, size_t key_bytes, const void *value,
                     size_t value_bytes) {
    queue_op2(w, op, key, key_bytes, value, value_bytes, NULL, 0);
}

void writer_add_record_parts(StoreWriter *w, const char *source_id, const void *header, size_t header_bytes,
                             const void *payload, size_t payload_bytes) {
    char key[SOURCE_KEY_MAX + 1];
    queue_op2(w, OP_RECORD, key, store_source_key(source_id, key), header, header_bytes, payload, payload_bytes);
    w->queued_records++;
}

void writer_add_record(StoreWriter *w, const char *source_id, const void *record, size_t record_bytes) {
    writer_add_record_parts(w, source_id, record, record_bytes, NULL, 0);
}

void writer_add_reject(StoreWriter *w, const char *source_id, const char *reason) {
    char key[SOURCE_KEY_MAX + 1];
    queue_op(w, OP_REJECT, key, store_source_key(source_id, key), reason, strlen(reason));
    w->queued_rejects++;
}

void writer_set_meta(StoreWriter *w, const char *key, const char *value) {
    queue_op(w, OP_META, key, strlen(key), value, strlen(value));
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn, unsigned flags) {
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    return mdb_put(txn, dbi, &key, &val, flags);
}

/* Replays the whole queue in one transaction. Returns an LMDB code. */
static int replay_queue(StoreWriter *w, MDB_txn *txn) {
    Store *s = w->store;
    uint64_t index = w->committed_records;
    Reader r = reader_of(w->queue.data, w->queue.len);
    for (size_t i = 0; i < w->queued_ops; i++) {
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

int writer_commit(StoreWriter *w, Err *err) {
    Store *s = w->store;
    if (w->queued_ops == 0) return 0;
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == 0) rc = replay_queue(w, txn);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
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
        break;
    }
    w->committed_records += w->queued_records;
    w->committed_rejects += w->queued_rejects;
    w->queued_records = w->queued_rejects = w->queued_ops = 0;
    buf_clear(&w->queue);
    double t = now_seconds();
    w->last_commit = t;
    if (t - w->last_sync > SYNC_EVERY_SECONDS) {
        mdb_env_sync(s->env, 1);
        w->last_sync = t;
    }
    return 0;
}

int writer_maybe_commit(StoreWriter *w, Err *err) {
    if (w->queued_ops == 0) return 0;
    if (w->queued_records >= w->commit_every_records || w->queue.len >= w->commit_every_bytes ||
        now_seconds() - w->last_commit >= w->commit_every_seconds)
        return writer_commit(w, err);
    return 0;
}

int writer_close(StoreWriter *w, Err *err) {
    int rc = writer_commit(w, err);
    if (rc == 0) {
        int sync_rc = mdb_env_sync(w->store->env, 1);
        if (sync_rc != 0) rc = err_set(err, "%s: sync failed (%s)", w->store->path, mdb_strerror(sync_rc));
    }
    buf_free(&w->queue);
    return rc;
}
