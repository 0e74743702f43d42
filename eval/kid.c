/* kid: unbiased polynomial-kernel MMD² over random subsets (definitions in kid.h).
 *
 * One subset pair's three Gram matrices come from a single dgemm of the stacked rows [x; y]
 * with themselves: the (m + n)² dot products, then the kernel and the three block sums. */
#include "kid.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"

double kid_mmd2_unbiased(const double *x, size_t m, const double *y, size_t n, size_t d) {
    if (m < 2 || n < 2 || d == 0 || m + n > INT_MAX || d > INT_MAX) return NAN;
    size_t t = m + n;
    double *rows = xmalloc((t * d + t * t) * sizeof *rows), *gram = rows + t * d;
    memcpy(rows, x, m * d * sizeof *rows);
    memcpy(rows + m * d, y, n * d * sizeof *rows);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)d, 1.0, rows, (int)d, rows, (int)d, 0.0,
                gram, (int)t);
    double sum_xx = 0, sum_yy = 0, sum_xy = 0;
    for (size_t i = 0; i < t; i++)
        for (size_t j = 0; j < t; j++) {
            double base = gram[i * t + j] / (double)d + 1, k = base * base * base;
            if (i < m && j < m) {
                if (i != j) sum_xx += k;
            } else if (i >= m && j >= m) {
                if (i != j) sum_yy += k;
            } else if (i < m) {
                sum_xy += k; /* the x-y block once; the y-x block is its transpose */
            }
        }
    free(rows);
    double dm = (double)m, dn = (double)n;
    return sum_xx / (dm * (dm - 1)) + sum_yy / (dn * (dn - 1)) - 2 * sum_xy / (dm * dn);
}

static void draw_subset(Rng *rng, size_t *perm, size_t n, size_t m, size_t *out) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)rng_below(rng, (uint64_t)(n - i));
        size_t swap = perm[i];
        perm[i] = perm[j];
        perm[j] = swap;
        out[i] = perm[i];
    }
}

void kid_subsets(size_t na, size_t nb, size_t m, size_t n_subsets, uint64_t seed, size_t *idx_a, size_t *idx_b) {
    Rng rng;
    rng_seed(&rng, seed);
    size_t *perm = xmalloc((na > nb ? na : nb) * sizeof *perm);
    for (size_t s = 0; s < n_subsets; s++) {
        draw_subset(&rng, perm, na, m, idx_a + s * m);
        draw_subset(&rng, perm, nb, m, idx_b + s * m);
    }
    free(perm);
}

static void gather_rows(const double *x, const size_t *idx, size_t m, size_t d, double *out) {
    for (size_t i = 0; i < m; i++) memcpy(out + i * d, x + idx[i] * d, d * sizeof *out);
}

int kid(const double *a, size_t na, const double *b, size_t nb, size_t d, size_t n_subsets, size_t m, uint64_t seed,
        double *mean, double *std, Err *err) {
    if (!a || !b || !mean || !std) return err_set(err, "kid: NULL feature matrix or output");
    if (d == 0) return err_set(err, "kid: feature dimension d is 0");
    if (n_subsets == 0) return err_set(err, "kid: n_subsets is 0");
    if (m < 2) return err_set(err, "kid: subset size %zu is below 2 (the unbiased estimator needs pairs)", m);
    if (m > na || m > nb)
        return err_set(err, "kid: subset size %zu exceeds a set (%zu and %zu samples); pass m = min(1000, na, nb)", m,
                       na, nb);
    if (2 * m > INT_MAX || d > INT_MAX) return err_set(err, "kid: sizes too large for BLAS int (m %zu, d %zu)", m, d);
    for (size_t i = 0; i < na * d; i++)
        if (!isfinite(a[i])) return err_set(err, "kid: set a, row %zu, feature %zu is not finite", i / d, i % d);
    for (size_t i = 0; i < nb * d; i++)
        if (!isfinite(b[i])) return err_set(err, "kid: set b, row %zu, feature %zu is not finite", i / d, i % d);

    size_t *idx = xmalloc(2 * n_subsets * m * sizeof *idx), *idx_a = idx, *idx_b = idx + n_subsets * m;
    kid_subsets(na, nb, m, n_subsets, seed, idx_a, idx_b);
    double *sub = xmalloc((2 * m * d + n_subsets) * sizeof *sub), *sub_a = sub, *sub_b = sub + m * d;
    double *values = sub_b + m * d, sum = 0;
    for (size_t s = 0; s < n_subsets; s++) {
        gather_rows(a, idx_a + s * m, m, d, sub_a);
        gather_rows(b, idx_b + s * m, m, d, sub_b);
        values[s] = kid_mmd2_unbiased(sub_a, m, sub_b, m, d);
        sum += values[s];
    }
    double mu = sum / (double)n_subsets, var = 0;
    for (size_t s = 0; s < n_subsets; s++) var += (values[s] - mu) * (values[s] - mu);
    *mean = mu;
    *std = sqrt(var / (double)n_subsets);
    free(sub);
    free(idx);
    return 0;
}
