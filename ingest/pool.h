/* pool: a ZeroMQ worker pool with one coordinator, for every job that turns a
 * stream of inputs into a stream of outputs in order (ingest now, tokenize and
 * detokenize later: one pool, several kinds of job).
 *
 * The coordinator owns one ROUTER socket. Workers (DEALER) say HELLO, get the JOB,
 * and grant credits with READY; the dispatcher sends a batch only to a worker with
 * credit, so a slow worker is never pre-loaded. A RESULT returns a credit and
 * acknowledges its batch. A worker that stops heartbeating (or a local worker
 * process that exits) loses its batches to the others. The sink hands results to
 * the caller strictly in input order, whatever order they arrive in, so the output
 * is the same for any number of workers; duplicate results are dropped by batch id.
 *
 * Local workers are `tessera worker` processes the coordinator starts on an ipc://
 * endpoint; remote ones run `tessera worker --connect ENDPOINT` against --bind. */
#ifndef TESSERA_POOL_H
#define TESSERA_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "pool_proto.h"

/* ------------------------------------------------------------------ worker side */

/* A kind of job a worker can run. `process` turns one input into one output,
 * appended to out; a non-zero return rejects that input with err's message. */
typedef struct {
    const char *name;
    void *(*start)(const char *options, size_t n, Err *err);
    int (*process)(void *state, const TaskItem *in, Buf *out, Err *err);
    void (*stop)(void *state);
} JobKind;

/* Stages register their jobs at start-up (tessera.c), so the pool never imports them. */
void pool_register_job(const JobKind *job);
const JobKind *job_kind_find(const char *name, size_t n);

typedef struct {
    const char *connect;      /* endpoint of the coordinator */
    int local;                /* started by a coordinator on this host: exit when it goes */
    double heartbeat_timeout; /* seconds of coordinator silence before giving up on it */
    double idle_timeout;      /* remote workers: seconds without any coordinator before exiting */
} WorkerOptions;

/* Runs until STOP (returns 0) or until the coordinator is gone (returns 1). */
int pool_worker_run(const WorkerOptions *o);

/* ------------------------------------------------------------------ coordinator side */

typedef struct {
    InputKind kind;
    const uint8_t *data; /* copied into the batch before the next call */
    size_t n;
    int width, height, channels; /* INPUT_PIXELS */
    uint64_t tag;                /* given back to the sink with the output */
} PoolInput;

typedef struct {
    /* Fills the next input; returns 0 when there are no more. */
    int (*next)(void *ctx, PoolInput *in);
    /* Called in input order; a non-zero return (a store that cannot be written)
     * stops the pool with err's message. */
    int (*deliver)(void *ctx, uint64_t tag, int ok, const uint8_t *data, size_t n, Err *err);
    /* Called every loop turn, to commit what deliver queued when due. */
    int (*tick)(void *ctx, Err *err);
    void *ctx;
} PoolCallbacks;

typedef struct {
    const char *job_kind;
    const char *job_options;
    int local_workers;
    const char *bind;         /* extra endpoint for remote workers, or NULL */
    double heartbeat_timeout; /* seconds */
    size_t batch_items, batch_bytes;
    uint64_t total;           /* inputs expected, for progress */
    const char *progress_label;
} PoolConfig;

typedef struct {
    uint64_t delivered, rejected;
    uint64_t workers_lost, batches_resent;
    double seconds;
} PoolStats;

void pool_config_defaults(PoolConfig *c);
/* Ctrl-C and SIGTERM, caught from pool_catch_interrupts to pool_release_interrupts (which
 * puts back what was there): pool_run then stops at its next turn and returns an error
 * saying so, and the caller commits what was delivered. The caller holds them over its own
 * final commit too, so that an interrupt arriving after the pool is done cannot kill the
 * process in the middle of it; one arriving there changes nothing (all was done). */
void pool_catch_interrupts(void);
void pool_release_interrupts(void);
int pool_run(const PoolConfig *c, const PoolCallbacks *cb, PoolStats *stats, Err *err);

#endif
