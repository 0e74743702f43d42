/* mpi_grad_sync: run under `mpirun -np R`. For several ways a backward may tell its
 * gradients ready (from the top down as gpt does, bottom up, with gaps nobody tells, not at
 * all) and several bucket sizes, grad_sync must leave every element the mean
 * dist_allreduce_mean gives, bit for bit (integer-valued floats: the sums are exact in any
 * order). Prints "rank r/R ok: N cases" or the first element that differed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../train/dist.h"
#include "../../train/grad_sync.h"

enum { N = 300007 }; /* odd, many buckets' worth */

typedef struct {
    const char *name;
    size_t bucket;
    size_t n_ranges;
    size_t ranges[8][2]; /* first, count: told in this order */
} Case;

static const Case CASES[] = {
    {"top down, every range its own bucket", 0, 4, {{200000, 100007}, {100000, 100000}, {1000, 99000}, {0, 1000}}},
    {"top down, joined into 150000", 150000, 4, {{200000, 100007}, {100000, 100000}, {1000, 99000}, {0, 1000}}},
    {"top down, one bucket at the end", (size_t)1 << 30, 4,
     {{200000, 100007}, {100000, 100000}, {1000, 99000}, {0, 1000}}},
    {"bottom up", 50000, 3, {{0, 70000}, {70000, 130000}, {200000, 100007}}},
    {"gaps and an empty range", 0, 3, {{250000, 10000}, {40000, 0}, {5, 100}}},
    {"nothing told", 0, 0, {{0, 0}}},
};

int main(int argc, char **argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    float *got = malloc(N * sizeof *got), *want = malloc(N * sizeof *want);
    GradSync *sync = NULL;
    int bad = 0;
    size_t n_cases = sizeof CASES / sizeof CASES[0];
    for (size_t c = 0; c < n_cases && !bad; c++) {
        const Case *k = &CASES[c];
        for (size_t i = 0; i < N; i++) want[i] = (float)((i * 7 + c) % 1013) - 300.0f * (float)d.rank;
        memcpy(got, want, N * sizeof *got);
        dist_allreduce_mean(want, N, d.size);
        grad_sync_free(sync);
        sync = grad_sync_create(d.size, k->bucket);
        for (int step = 0; step < 2 && !bad; step++) { /* a second step reuses the buckets */
            if (step) memcpy(got, want, N * sizeof *got), dist_allreduce_mean(want, N, d.size);
            grad_sync_begin(sync, got, N);
            for (size_t r = 0; r < k->n_ranges; r++) {
                grad_sync_ready(sync, k->ranges[r][0], k->ranges[r][1]);
                grad_sync_progress(sync);
            }
            grad_sync_end(sync);
            for (size_t i = 0; i < N; i++)
                if (memcmp(&got[i], &want[i], sizeof got[i]) != 0) {
                    printf("rank %d/%d: %s, step %d: element %zu is %.9g, expected %.9g\n", d.rank, d.size, k->name,
                           step, i, got[i], want[i]);
                    bad = 1;
                    break;
                }
        }
    }
    if (!bad) printf("rank %d/%d ok: %zu cases\n", d.rank, d.size, n_cases);
    grad_sync_free(sync);
    free(got), free(want);
    dist_finalize();
    return bad;
}
