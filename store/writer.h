/* writer: the single writer of a store.
 *
 * Records, source ids, rejects and meta changes are queued in memory and committed
 * in batched write transactions (every few thousand records, MiB or seconds).
 * Record keys are dense and increasing, so they go in with MDB_APPEND. When the map
 * is full the transaction is aborted, the map doubled and the batch replayed: the
 * queue is kept until its commit succeeds.
 *
 * Commits run on the writer's own thread, double-buffered: while one queue commits,
 * the caller fills the other, so a 64 MiB commit never stalls a worker pool. The
 * caller waits only when a full queue is ready before the previous commit finished. */
#ifndef TESSERA_WRITER_H
#define TESSERA_WRITER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "store.h"

/* Operations queued for one transaction. */
typedef struct {
    Buf ops;
    size_t n_ops, n_records, n_rejects;
} WriteBatch;

typedef struct {
    Store *store;
    WriteBatch queue;     /* filled by the caller */
    WriteBatch in_flight; /* being committed by the thread */
    uint64_t committed_records, committed_rejects; /* in the store after the last commit */
    double last_commit, last_sync;
    size_t commit_every_records, commit_every_bytes;
    double commit_every_seconds;
    uint64_t map_growths;
    /* the commit thread */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int busy, stop, failed;
    Err thread_err;
} StoreWriter;

int writer_open(StoreWriter *w, Store *s, Err *err);
/* The index the next added record will get. */
static inline uint64_t writer_next_index(const StoreWriter *w) {
    return w->committed_records + w->in_flight.n_records + w->queue.n_records;
}
void writer_add_record(StoreWriter *w, const char *source_id, const void *record, size_t record_bytes);
/* The same, for a record given as its header and its payload (saves copying the payload twice). */
void writer_add_record_parts(StoreWriter *w, const char *source_id, const void *header, size_t header_bytes,
                             const void *payload, size_t payload_bytes);
void writer_add_reject(StoreWriter *w, const char *source_id, const char *reason);
void writer_set_meta(StoreWriter *w, const char *key, const char *value);
/* The meta every new store starts with: created (UTC), kind, format_version, tool_version, dtype. */
void writer_set_standard_meta(StoreWriter *w, const char *kind, const char *dtype);
/* Hands the queue to the commit thread if a threshold is reached. */
int writer_maybe_commit(StoreWriter *w, Err *err);
/* Commits everything queued and waits until it is in the store. */
int writer_commit(StoreWriter *w, Err *err);
/* Commits what is queued, syncs to disk, stops the thread and frees the queues. */
int writer_close(StoreWriter *w, Err *err);

#endif
