/* grad_sync: the data-parallel gradient mean, started range by range while backward still
 * runs. A model's backward tells (grad_sync_ready) when a range of the flat gradient buffer
 * is final on this rank, a block's gradients say; its sum over ranks (MPI_Iallreduce) starts
 * then, in buckets of at least a set size, and moves on whenever backward calls
 * grad_sync_progress between its passes. grad_sync_end waits for the rest and sums what was
 * never told ready (with one blocking MPI_Allreduce when nothing was), so the whole buffer
 * is summed exactly once. Every rank must tell the same ranges in the same order (one
 * backward code path), and no element twice (asserted).
 *
 * With one rank every call does nothing. */
#ifndef TESSERA_GRAD_SYNC_H
#define TESSERA_GRAD_SYNC_H

#include <stddef.h>

typedef struct GradSync GradSync;

/* bucket: the fewest elements one MPI call sums (adjacent ready ranges are joined up to it;
 * 0 starts every range on its own). */
GradSync *grad_sync_create(int ranks, size_t bucket);
void grad_sync_free(GradSync *s);

/* A new step over grads (n elements). */
void grad_sync_begin(GradSync *s, float *grads, size_t n);
/* grads[first, first + count) will not change again this step. */
void grad_sync_ready(GradSync *s, size_t first, size_t count);
/* Lets MPI move the sums in flight along (it moves them only inside MPI calls). */
void grad_sync_progress(GradSync *s);
/* Returns when grads holds the mean over ranks of every rank's grads. */
void grad_sync_end(GradSync *s);

/* How a model's backward tells: ready and progress as above, with ctx for the GradSync
 * (grad_sync_hook). NULL functions: nothing is told (one rank, or no overlap). */
typedef struct {
    void (*ready)(void *ctx, size_t first, size_t count);
    void (*progress)(void *ctx);
    void *ctx;
} GradHook;

GradHook grad_sync_hook(GradSync *s);

#endif
