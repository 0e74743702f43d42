/* kid: Kernel Inception Distance (Bińkowski et al., ICLR 2018) on any feature space: the
 * unbiased estimate of the squared MMD between two feature sets under the cubic polynomial
 * kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets (as clean-fid and
 * torch-fidelity compute it). Unlike the Fréchet distance it is unbiased in the sample size,
 * so it can be near 0 or slightly negative for sets drawn from one distribution.
 * Checked against numpy by tests/unit/test_eval_metrics.c. */
#ifndef TESSERA_KID_H
#define TESSERA_KID_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* Unbiased MMD² of one subset pair, x: m × d and y: n × d row-major:
 *     Σ_{i≠j} k(xi, xj) / (m(m−1)) + Σ_{i≠j} k(yi, yj) / (n(n−1)) − 2 Σ_{i,j} k(xi, yj) / (mn)
 * (diagonals excluded). The dot products come from dgemm, in double. NaN when m < 2, n < 2,
 * d = 0 or a size exceeds BLAS's int. Allocates (m + n)² doubles for the call. */
double kid_mmd2_unbiased(const double *x, size_t m, const double *y, size_t n, size_t d);

/* The row indices of n_subsets subset pairs of size m: idx_a and idx_b are n_subsets × m.
 * One Rng (core/rng.h) is seeded with rng_seed(seed); for each subset s in turn, first from
 * set a then from set b, a permutation array p = 0, 1, …, n−1 is started afresh and shuffled
 * partially (Fisher–Yates from the front): for i = 0 … m−1, j = i + rng_below(n − i),
 * swap p[i] and p[j]; the subset is p[0 … m−1] in that order. So each subset draws m rows
 * without replacement, independently of the others. Requires 1 ≤ m ≤ na, nb (unchecked
 * here; kid() checks). Allocates na + nb indices for the call. */
void kid_subsets(size_t na, size_t nb, size_t m, size_t n_subsets, uint64_t seed, size_t *idx_a, size_t *idx_b);

/* KID between a (na × d) and b (nb × d): kid_mmd2_unbiased over the n_subsets subset pairs
 * of size m that kid_subsets(na, nb, m, n_subsets, seed) draws. Stores the mean over subsets
 * in *mean and their standard deviation in *std (population, dividing by n_subsets, as
 * torch-fidelity's np.std). Usually quoted ×10³; standard settings are 100 subsets of
 * m = min(1000, na, nb) — the caller picks m, since a silently smaller subset changes the
 * estimate's variance.
 *
 * Returns -1 with a message in err when m < 2, m > na or m > nb, n_subsets = 0, d = 0, a size
 * exceeds BLAS's int, a pointer is NULL or a value is not finite. */
int kid(const double *a, size_t na, const double *b, size_t nb, size_t d, size_t n_subsets, size_t m, uint64_t seed,
        double *mean, double *std, Err *err);

#endif
