/* batch_order: epoch permutations sliced into global batches and rank shards (see batch_order.h). */
#include "batch_order.h"

#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"

static void shuffle_epoch(BatchOrder *o) {
    Rng r;
    rng_seed(&r, mix64(o->seed) ^ mix64(o->epoch + 0x5eedull));
    for (uint64_t i = 0; i < o->records; i++) o->perm[i] = i;
    for (uint64_t i = o->records; i > 1; i--) { /* Fisher–Yates */
        uint64_t j = rng_below(&r, i);
        uint64_t t = o->perm[i - 1];
        o->perm[i - 1] = o->perm[j];
        o->perm[j] = t;
    }
}

int batch_order_init(BatchOrder *o, uint64_t records, uint64_t global_batch, int ranks, int rank, uint64_t seed,
                     Err *err) {
    memset(o, 0, sizeof *o);
    if (ranks < 1 || rank < 0 || rank >= ranks) return err_set(err, "bad rank %d of %d", rank, ranks);
    if (global_batch == 0 || global_batch % (uint64_t)ranks != 0)
        return err_set(err, "batch_size = %llu must be a positive multiple of the %d ranks",
                       (unsigned long long)global_batch, ranks);
    if (records < global_batch)
        return err_set(err, "the store holds %llu records, fewer than one batch of batch_size = %llu",
                       (unsigned long long)records, (unsigned long long)global_batch);
    *o = (BatchOrder){.records = records, .batch = global_batch, .ranks = ranks, .rank = rank, .seed = seed};
    o->perm = xmalloc(records * sizeof *o->perm);
    shuffle_epoch(o);
    return 0;
}

uint64_t batch_order_batches_per_epoch(const BatchOrder *o) { return o->records / o->batch; }

void batch_order_seek(BatchOrder *o, uint64_t epoch, uint64_t next_batch) {
    int reshuffle = epoch != o->epoch;
    o->epoch = epoch;
    o->next_batch = next_batch;
    if (reshuffle) shuffle_epoch(o);
}

uint64_t batch_order_next(BatchOrder *o, uint64_t *out) {
    if (o->next_batch >= batch_order_batches_per_epoch(o)) batch_order_seek(o, o->epoch + 1, 0);
    uint64_t share = o->batch / (uint64_t)o->ranks;
    const uint64_t *start = o->perm + o->next_batch * o->batch + (uint64_t)o->rank * share;
    memcpy(out, start, share * sizeof *out);
    o->next_batch++;
    return o->epoch;
}

void batch_order_free(BatchOrder *o) {
    free(o->perm);
    memset(o, 0, sizeof *o);
}
