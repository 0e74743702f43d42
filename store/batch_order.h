/* batch_order: which records make each training batch, on each rank.
 *
 * Every epoch has its own permutation of the store's records, drawn from (seed,
 * epoch) alone. Global batch g of an epoch is positions [g·B, (g+1)·B) of it (the
 * tail that does not fill a batch is dropped), and rank r of R takes the contiguous
 * slice [r·B/R, (r+1)·B/R) of that batch. So R ranks with B/R each see exactly the
 * batches one rank with B sees, in the same order, and ranks never talk about data.
 * The position (epoch, batch) is all a checkpoint needs to resume the order. */
#ifndef TESSERA_BATCH_ORDER_H
#define TESSERA_BATCH_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

typedef struct {
    uint64_t records;  /* N */
    uint64_t batch;    /* B, global */
    int ranks, rank;   /* R, r */
    uint64_t seed;
    uint64_t epoch;    /* current position */
    uint64_t next_batch;
    uint64_t *perm;    /* this epoch's permutation of 0..N-1 */
} BatchOrder;

int batch_order_init(BatchOrder *o, uint64_t records, uint64_t global_batch, int ranks, int rank, uint64_t seed,
                     Err *err);
/* Continues from a saved position (from a checkpoint). */
void batch_order_seek(BatchOrder *o, uint64_t epoch, uint64_t next_batch);
uint64_t batch_order_batches_per_epoch(const BatchOrder *o);
/* Fills out[0 .. B/R) with this rank's record indices of the next batch; moves on
 * (to the next epoch when this one is used up). Returns the epoch of the batch. */
uint64_t batch_order_next(BatchOrder *o, uint64_t *out);
void batch_order_free(BatchOrder *o);

#endif
