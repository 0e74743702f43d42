/* dist: MPI data parallelism (see dist.h). */
#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <string.h>

void dist_init(Dist *d, int *argc, char ***argv) {
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
}

void dist_finalize(void) { MPI_Finalize(); }

void dist_allreduce_sum(float *buf, size_t n) {
    const size_t chunk = (size_t)1 << 30; /* MPI counts are ints */
    for (size_t at = 0; at < n; at += chunk) {
        size_t count = n - at < chunk ? n - at : chunk;
        MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_allreduce_sum_double(double *buf, size_t n) {
    const size_t chunk = (size_t)1 << 30;
    for (size_t at = 0; at < n; at += chunk) {
        size_t count = n - at < chunk ? n - at : chunk;
        MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_allreduce_mean(float *buf, size_t n, int ranks) {
    if (ranks <= 1) return;
    dist_allreduce_sum(buf, n);
    float scale = 1.0f / (float)ranks;
    for (size_t i = 0; i < n; i++) buf[i] *= scale;
}

double dist_sum(double v) {
    double out;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return out;
}

double dist_max(double v) {
    double out;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

enum { CHUNK_BYTES = 1 << 30 };

void dist_gather_bytes(unsigned char *whole, const unsigned char *share, size_t offset, size_t count) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank != 0) {
        unsigned long long span[2] = {offset, count};
        MPI_Send(span, 2, MPI_UNSIGNED_LONG_LONG, 0, 0, MPI_COMM_WORLD);
        for (size_t at = 0; at < count; at += CHUNK_BYTES) {
            size_t n = count - at < CHUNK_BYTES ? count - at : CHUNK_BYTES;
            MPI_Send(share + at, (int)n, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
        }
        return;
    }
    if (whole + offset != share) memmove(whole + offset, share, count);
    for (int r = 1; r < size; r++) {
        unsigned long long span[2];
        MPI_Recv(span, 2, MPI_UNSIGNED_LONG_LONG, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (size_t at = 0; at < span[1]; at += CHUNK_BYTES) {
            size_t n = span[1] - at < CHUNK_BYTES ? span[1] - at : CHUNK_BYTES;
            MPI_Recv(whole + span[0] + at, (int)n, MPI_BYTE, r, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
}

void dist_barrier(void) { MPI_Barrier(MPI_COMM_WORLD); }

void dist_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
