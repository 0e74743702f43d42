/* dist: the MPI side of data-parallel training: one rank per core, gradients summed
 * in place over the flat gradient buffer, scalars (loss, norms) averaged or summed.
 * Run without mpirun, a program is one rank of one, and every call still works. */
#ifndef TESSERA_DIST_H
#define TESSERA_DIST_H

#include <stddef.h>

typedef struct {
    int rank, size;
} Dist;

/* MPI_Init_thread (FUNNELED: only the main thread talks to MPI). */
void dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(void);
/* Sums buf over ranks, in place, in chunks below MPI's int count limit. */
void dist_allreduce_sum(float *buf, size_t n);
void dist_allreduce_sum_double(double *buf, size_t n);
/* The mean of buf over ranks, in place: the data-parallel gradient (every rank's loss is
 * the mean over its share of the batch). Nothing to do on one rank. */
void dist_allreduce_mean(float *buf, size_t n, int ranks);
double dist_sum(double v);
double dist_max(double v);
void dist_barrier(void);
/* Each rank's share, count bytes that belong at offset of the whole, goes to rank 0's
 * `whole` (other ranks pass NULL; rank 0's own share may already sit in place). Any
 * sizes: sent in chunks below int's limit. */
void dist_gather_bytes(unsigned char *whole, const unsigned char *share, size_t offset, size_t count);
/* Ends every rank of the job (a rank that cannot go on must not leave the others hanging). */
void dist_abort(int code);

#endif
