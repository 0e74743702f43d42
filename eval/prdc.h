/* prdc: k-nearest-neighbour manifold metrics between real and generated (fake) feature sets:
 * improved precision and recall (Kynkäänniemi et al., NeurIPS 2019) and density and coverage
 * (Naeem et al., ICML 2020). Each sample's ball has as radius the distance to its k-th
 * nearest OTHER sample of its own set (other by index: a duplicate row at distance 0 counts
 * as a neighbour). A point is inside a ball when its distance is ≤ the radius (ties count as
 * inside, as in Kynkäänniemi's code; Naeem's prdc package uses < and differs only on ties).
 *
 * Distances are compared squared (the same order as the distances), each computed directly
 * as Σ (xt − yt)² over the d features in order, not through the |x|² + |y|² − 2x·y GEMM
 * identity: the identity's cancellation can move a distance across a radius, and the counts
 * must agree exactly with numpy's. (x − y)² and (y − x)² are bitwise equal, so duplicated
 * rows give exactly equal distances and ties are decided the same way everywhere.
 * Checked against numpy by tests/unit/test_eval_metrics.c. */
#ifndef TESSERA_PRDC_H
#define TESSERA_PRDC_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

typedef struct {
    /* Exact counts. */
    size_t precision_count; /* fake samples inside at least one real ball */
    size_t recall_count;    /* real samples inside at least one fake ball */
    uint64_t density_count; /* (real ball, fake sample) pairs with the sample inside the ball */
    size_t coverage_count;  /* real samples whose own ball holds at least one fake sample */
    /* The metrics: precision = precision_count / n_fake, recall = recall_count / n_real,
     * density = density_count / (k · n_fake) (can exceed 1), coverage = coverage_count / n_real. */
    double precision, recall, density, coverage;
} Prdc;

/* real: n_real × d, fake: n_fake × d, row-major doubles; k ≥ 1 nearest neighbours (3 for
 * precision/recall by convention; Naeem et al. recommend 5 for density/coverage — call twice
 * if both are wanted). O((n_real + n_fake)² · d) time, O(n_real + n_fake) memory.
 * Returns -1 with a message in err when a set has k or fewer samples, k = 0, d = 0, a pointer
 * is NULL or a value is not finite. */
int prdc(const double *real, size_t n_real, const double *fake, size_t n_fake, size_t d, size_t k, Prdc *out,
         Err *err);

#endif
