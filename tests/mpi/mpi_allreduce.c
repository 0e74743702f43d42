/* mpi_allreduce: run under `mpirun -np R`. Each rank fills a buffer with values that
 * depend on its rank; after dist_allreduce_sum every rank must hold the exact sum
 * (integers in float: exact), and the scalar reductions must agree. Prints one line
 * per rank: "rank r/R ok" or what differed; exits non-zero on a mismatch. */
#include <stdio.h>
#include <stdlib.h>

#include "../../train/dist.h"

int main(int argc, char **argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    size_t n = 1000003; /* odd, larger than one message */
    float *buf = malloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i % 1000) + (size_t)d.rank * 7);
    dist_allreduce_sum(buf, n);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        double want = (double)(i % 1000) * d.size + 7.0 * d.size * (d.size - 1) / 2;
        if (buf[i] != (float)want) {
            printf("rank %d/%d: element %zu is %g, expected %g\n", d.rank, d.size, i, buf[i], want);
            bad = 1;
        }
    }
    double s = dist_sum(d.rank + 1), m = dist_max(d.rank);
    if (s != d.size * (d.size + 1) / 2.0 || m != d.size - 1) {
        printf("rank %d/%d: sum %g max %g\n", d.rank, d.size, s, m);
        bad = 1;
    }
    if (!bad) printf("rank %d/%d ok\n", d.rank, d.size);
    free(buf);
    dist_finalize();
    return bad;
}
