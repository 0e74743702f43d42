/* store_job: a worker-pool run whose outputs become the records of one store — what
 * ingest, tokenize and detokenize have in common, so each of them only says what its
 * inputs are, what a record looks like, and what its store's meta holds.
 *
 * The driver opens (or creates) the output store and holds its lock, so one process
 * writes it; checks an existing store's meta is compatible (or writes a new store's);
 * skips every item whose source id the store already holds or rejected, which makes a
 * re-run after a crash or Ctrl-C finish the job; runs the pool; writes each output in
 * input order through the store's single writer, and each failure as a reject; keeps
 * what was delivered if the pool stops (always a prefix of the inputs, in order);
 * writes rejects.tsv; and prints the summary. */
#ifndef TESSERA_STORE_JOB_H
#define TESSERA_STORE_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "../store/record.h"
#include "../store/writer.h"
#include "pool.h"

typedef struct {
    const char *verb;     /* "ingest", "tokenize", ...: messages and progress */
    const char *out_path; /* the store */
    size_t n_items;
    void *ctx;
    /* An existing store: 0 when its meta fits this run, else an error naming the difference. */
    int (*check_meta)(void *ctx, const Meta *existing, const char *path, Err *err);
    /* A new store: its meta (kind, shape, labels, what made it). */
    void (*write_meta)(void *ctx, StoreWriter *w);
    const char *(*source_id)(void *ctx, size_t item);
    /* Fills the pool input of an item (data valid until the next call); in->tag is set by the driver. */
    void (*feed)(void *ctx, size_t item, PoolInput *in);
    /* Checks a worker's output for an item and encodes its record header; non-zero with a
     * reason in why makes the item a reject. */
    int (*record_header)(void *ctx, size_t item, size_t n, uint8_t header[RECORD_HEADER_BYTES], char *why,
                         size_t why_cap);
    /* Called once the items to do are known, before the pool starts (may be NULL). */
    void (*begin)(void *ctx, int all_local);
    size_t output_bytes; /* per item, to size batches (about 4 MiB of results each) */
    size_t max_batch;    /* items per batch at most (0: 256); keeps a batch's compute short */
    PoolConfig pool;     /* job kind and options, workers, bind, heartbeat */
    double started;      /* now_seconds() when the command began (planning counts), or 0 */
} StoreJob;

/* Returns the exit status: 0 every item stored, 3 some rejected, 1 the job stopped. */
int store_job_run(StoreJob *j);

#endif
