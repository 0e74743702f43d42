/* writer: the single writer of a store.
 *
 * Records, source ids, rejects and meta changes are queued in memory and committed
 * in batched write transactions (every few thousand records, MiB or seconds).
 * Record keys are dense and increasing, so they go in with MDB_APPEND. When the map
 * is full the transaction is aborted, the map doubled and the batch replayed: the
 * queue is kept until its commit succeeds. */
#ifndef TESSERA_WRITER_H
#define TESSERA_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "store.h"

typedef struct {
    Store *store;
    Buf queue;               /* pending operations, replayable */
    size_t queued_ops, queued_records;
    uint64_t committed_records; /* records in the store after the last commit */
    uint64_t committed_rejects;
    uint64_t queued_rejects;
    double last_commit, last_sync;
    size_t commit_every_records, commit_every_bytes;
    double commit_every_seconds;
    uint64_t map_growths;
} StoreWriter;

int writer_open(StoreWriter *w, Store *s, Err *err);
/* The index the next added record will get. */
static inline uint64_t writer_next_index(const StoreWriter *w) { return w->committed_records + w->queued_records; }
void writer_add_record(StoreWriter *w, const char *source_id, const void *record, size_t record_bytes);
/* The same, for a record given as its header and its payload (saves copying the payload twice). */
void writer_add_record_parts(StoreWriter *w, const char *source_id, const void *header, size_t header_bytes,
                             const void *payload, size_t payload_bytes);
void writer_add_reject(StoreWriter *w, const char *source_id, const char *reason);
void writer_set_meta(StoreWriter *w, const char *key, const char *value);
/* Commits if a threshold is reached. */
int writer_maybe_commit(StoreWriter *w, Err *err);
int writer_commit(StoreWriter *w, Err *err);
/* Commits what is queued, syncs to disk and frees the queue. */
int writer_close(StoreWriter *w, Err *err);

#endif
