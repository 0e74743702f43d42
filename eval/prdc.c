/* prdc: precision, recall, density and coverage (definitions in prdc.h).
 *
 * Two passes: the radius of every sample within its own set (a k-sized insertion list per row
 * keeps the k smallest distances), then one pass over all (real, fake) pairs that updates the
 * four counts at once, so no distance matrix is stored. */
#include "prdc.h"

#include <math.h>
#include <stdlib.h>

#include "../core/xalloc.h"

static double squared_distance(const double *x, const double *y, size_t d) {
    double sum = 0;
    for (size_t t = 0; t < d; t++) {
        double diff = x[t] - y[t];
        sum += diff * diff;
    }
    return sum;
}

/* radius[i] = squared distance from row i of x (n × d) to its k-th nearest other row;
 * nearest (k) is scratch for the k smallest so far, ascending. */
static void kth_neighbour_radii(const double *x, size_t n, size_t d, size_t k, double *nearest, double *radius) {
    for (size_t i = 0; i < n; i++) {
        size_t have = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dist = squared_distance(x + i * d, x + j * d, d);
            if (have == k && dist >= nearest[k - 1]) continue;
            size_t at = have < k ? have++ : k - 1;
            while (at > 0 && nearest[at - 1] > dist) {
                nearest[at] = nearest[at - 1];
                at--;
            }
            nearest[at] = dist;
        }
        radius[i] = nearest[k - 1];
    }
}

static int check_finite(const double *x, size_t n, size_t d, const char *name, Err *err) {
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i])) return err_set(err, "prdc: %s set, row %zu, feature %zu is not finite", name, i / d, i % d);
    return 0;
}

int prdc(const double *real, size_t n_real, const double *fake, size_t n_fake, size_t d, size_t k, Prdc *out,
         Err *err) {
    if (!real || !fake || !out) return err_set(err, "prdc: NULL feature matrix or output");
    if (d == 0) return err_set(err, "prdc: feature dimension d is 0");
    if (k == 0) return err_set(err, "prdc: k is 0 (the radius is the distance to the k-th nearest neighbour)");
    if (n_real <= k || n_fake <= k)
        return err_set(err, "prdc: need more than k = %zu samples per set for a k-th nearest other sample, got %zu real "
                       "and %zu fake", k, n_real, n_fake);
    if (check_finite(real, n_real, d, "real", err) || check_finite(fake, n_fake, d, "fake", err)) return -1;

    double *radius_real = xmalloc((n_real + n_fake + k) * sizeof *radius_real);
    double *radius_fake = radius_real + n_real, *nearest = radius_fake + n_fake;
    kth_neighbour_radii(real, n_real, d, k, nearest, radius_real);
    kth_neighbour_radii(fake, n_fake, d, k, nearest, radius_fake);

    /* recalled[i]: real i lies in some fake ball; covered[i]: real i's ball holds some fake. */
    unsigned char *flags = xcalloc(2 * n_real, 1), *recalled = flags, *covered = flags + n_real;
    size_t precision_count = 0;
    uint64_t density_count = 0;
    for (size_t j = 0; j < n_fake; j++) {
        int inside_any = 0;
        for (size_t i = 0; i < n_real; i++) {
            double dist = squared_distance(real + i * d, fake + j * d, d);
            if (dist <= radius_real[i]) {
                inside_any = 1;
                density_count++;
                covered[i] = 1;
            }
            if (dist <= radius_fake[j]) recalled[i] = 1;
        }
        precision_count += (size_t)inside_any;
    }
    size_t recall_count = 0, coverage_count = 0;
    for (size_t i = 0; i < n_real; i++) {
        recall_count += recalled[i];
        coverage_count += covered[i];
    }
    out->precision_count = precision_count;
    out->recall_count = recall_count;
    out->density_count = density_count;
    out->coverage_count = coverage_count;
    out->precision = (double)precision_count / (double)n_fake;
    out->recall = (double)recall_count / (double)n_real;
    out->density = (double)density_count / ((double)k * (double)n_fake);
    out->coverage = (double)coverage_count / (double)n_real;
    free(flags);
    free(radius_real);
    return 0;
}
