/* grad_sync: bucketed MPI_Iallreduce over the flat gradient buffer (see grad_sync.h). */
#include "grad_sync.h"

#include <assert.h>
#include <mpi.h>
#include <stdlib.h>

#include "../core/xalloc.h"
#include "dist.h"

typedef struct {
    size_t first, count;
    MPI_Request req; /* MPI_REQUEST_NULL once summed and scaled */
} Bucket;

struct GradSync {
    int ranks;
    size_t bucket_min;
    float *grads;
    size_t n;
    size_t pend_first, pend_count; /* told ready, not yet started */
    Bucket *buckets;
    size_t n_buckets, cap;
};

GradSync *grad_sync_create(int ranks, size_t bucket) {
    GradSync *s = xcalloc(1, sizeof *s);
    s->ranks = ranks;
    s->bucket_min = bucket;
    return s;
}

void grad_sync_free(GradSync *s) {
    if (!s) return;
    free(s->buckets);
    free(s);
}

void grad_sync_begin(GradSync *s, float *grads, size_t n) {
    s->grads = grads;
    s->n = n;
    s->pend_count = 0;
    s->n_buckets = 0;
}

enum { PIECE = 1 << 30 }; /* MPI counts are ints */

/* The sum of [first, first + count) over ranks, started (counts above int go in pieces). */
static void start(GradSync *s, size_t first, size_t count) {
    for (size_t at = first; at < first + count; at += PIECE) {
        size_t k = first + count - at < PIECE ? first + count - at : PIECE;
        if (s->n_buckets == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 16;
            s->buckets = xrealloc(s->buckets, s->cap * sizeof *s->buckets);
        }
        Bucket *b = &s->buckets[s->n_buckets++];
        *b = (Bucket){at, k, MPI_REQUEST_NULL};
        MPI_Iallreduce(MPI_IN_PLACE, s->grads + at, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &b->req);
    }
}

static void start_pending(GradSync *s) {
    if (s->pend_count) start(s, s->pend_first, s->pend_count);
    s->pend_count = 0;
}

void grad_sync_ready(GradSync *s, size_t first, size_t count) {
    if (s->ranks <= 1 || count == 0) return;
    if (s->pend_count && first + count == s->pend_first) /* backward goes down the buffer */
        s->pend_first = first, s->pend_count += count;
    else if (s->pend_count && s->pend_first + s->pend_count == first)
        s->pend_count += count;
    else {
        start_pending(s);
        s->pend_first = first, s->pend_count = count;
    }
    if (s->pend_count >= s->bucket_min) start_pending(s);
}

/* The mean from the sum, while the range is still in cache. */
static void to_mean(GradSync *s, size_t first, size_t count) {
    float scale = 1.0f / (float)s->ranks;
    float *g = s->grads + first;
    for (size_t i = 0; i < count; i++) g[i] *= scale;
}

void grad_sync_progress(GradSync *s) {
    if (s->ranks <= 1) return;
    for (size_t i = 0; i < s->n_buckets; i++) {
        Bucket *b = &s->buckets[i];
        if (b->req == MPI_REQUEST_NULL) continue;
        int done = 0;
        MPI_Test(&b->req, &done, MPI_STATUS_IGNORE); /* sets req to MPI_REQUEST_NULL when done */
        if (done) to_mean(s, b->first, b->count);
    }
}

static int by_first(const void *a, const void *b) {
    size_t x = ((const Bucket *)a)->first, y = ((const Bucket *)b)->first;
    return (x > y) - (x < y);
}

/* A range nobody told ready is summed now with dist_allreduce_mean's blocking
 * MPI_Allreduce: Open MPI's is faster than its nonblocking one over a whole buffer (2 ranks,
 * 21 MB: 3.6 against 6.5 ms; BENCH.md, training benchmark). */
static void sum_now(GradSync *s, size_t first, size_t count) {
    dist_allreduce_mean(s->grads + first, count, s->ranks);
}

void grad_sync_end(GradSync *s) {
    if (s->ranks <= 1) return;
    start_pending(s);
    for (size_t i = 0; i < s->n_buckets; i++) {
        Bucket *b = &s->buckets[i];
        if (b->req == MPI_REQUEST_NULL) continue;
        MPI_Wait(&b->req, MPI_STATUS_IGNORE);
        to_mean(s, b->first, b->count);
    }
    /* The gaps between the buckets, in buffer order (the same on every rank, as the buckets
     * are). */
    qsort(s->buckets, s->n_buckets, sizeof *s->buckets, by_first);
    size_t at = 0;
    for (size_t i = 0; i < s->n_buckets; i++) {
        assert(s->buckets[i].first >= at && "a range was told ready twice");
        if (s->buckets[i].first > at) sum_now(s, at, s->buckets[i].first - at);
        at = s->buckets[i].first + s->buckets[i].count;
    }
    if (at < s->n) sum_now(s, at, s->n - at);
}

static void ready_hook(void *s, size_t first, size_t count) { grad_sync_ready(s, first, count); }
static void progress_hook(void *s) { grad_sync_progress(s); }

GradHook grad_sync_hook(GradSync *s) { return (GradHook){ready_hook, progress_hook, s}; }
