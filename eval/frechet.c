/* frechet: the Fréchet distance between two feature sets (definition in frechet.h).
 *
 * Σa^½ is formed as Wᵀ W with W = diag(λ^¼) Qᵀ from Σa = Q diag(λ) Qᵀ, so it is symmetric by
 * construction; M = Σa^½ Σb Σa^½ is symmetrized before its eigenvalues are taken, because dgemm
 * rounding leaves it asymmetric in the last bits and dsyevd reads only one triangle. */
#include "frechet.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

/* LAPACK (Fortran): symmetric eigenvalues, and eigenvectors when jobz = 'V', by divide and
 * conquer. The trailing lengths are the hidden Fortran string-length arguments. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

/* Eigenvalues (ascending) of the symmetric d × d matrix s into w; with vectors, s is replaced
 * by the eigenvectors, row k of s (row-major) being the eigenvector of w[k] (LAPACK's columns,
 * read row-major). */
static int symmetric_eigen(double *s, size_t d, double *w, int vectors, Err *err) {
    const char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int n = (int)d, lwork = -1, liwork = -1, info = 0, iwork_query = 0;
    double work_query = 0;
    dsyevd_(&jobz, &uplo, &n, s, &n, w, &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
    if (info != 0) return err_set(err, "frechet: LAPACK dsyevd workspace query failed (info %d)", info);
    lwork = (int)work_query;
    liwork = iwork_query;
    double *work = xmalloc((size_t)lwork * sizeof *work);
    int *iwork = xmalloc((size_t)(liwork > 0 ? liwork : 1) * sizeof *iwork);
    dsyevd_(&jobz, &uplo, &n, s, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0) return err_set(err, "frechet: LAPACK dsyevd failed to converge (info %d, d = %zu)", info, d);
    return 0;
}

static void symmetrize(double *s, size_t d) {
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++) s[i * d + j] = s[j * d + i] = 0.5 * (s[i * d + j] + s[j * d + i]);
}

/* Mean (d) and unbiased covariance (d × d) of x (n × d); centered (n × d) is scratch. */
static int mean_and_covariance(const double *x, size_t n, size_t d, double *mean, double *cov, double *centered,
                               const char *name, Err *err) {
    memset(mean, 0, d * sizeof *mean);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double v = x[i * d + j];
            if (!isfinite(v)) return err_set(err, "frechet: set %s, row %zu, feature %zu is not finite", name, i, j);
            mean[j] += v;
        }
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) centered[i * d + j] = x[i * d + j] - mean[j];
    int id = (int)d;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, id, (int)n, 1.0 / (double)(n - 1), centered, id, centered,
                id, 0.0, cov, id);
    symmetrize(cov, d);
    return 0;
}

int frechet_distance(const double *a, size_t na, const double *b, size_t nb, size_t d, double *out, int *singular,
                     Err *err) {
    if (!a || !b || !out) return err_set(err, "frechet: NULL feature matrix or output");
    if (d == 0) return err_set(err, "frechet: feature dimension d is 0");
    if (na < 2 || nb < 2)
        return err_set(err, "frechet: need at least 2 samples per set for a covariance, got %zu and %zu", na, nb);
    if (d > INT_MAX || na > INT_MAX || nb > INT_MAX || d > SIZE_MAX / d / 8)
        return err_set(err, "frechet: sizes too large for LAPACK/BLAS int (na %zu, nb %zu, d %zu)", na, nb, d);

    size_t dd = d * d, nmax = na > nb ? na : nb;
    double *mem = xmalloc((nmax * d + 5 * dd + 3 * d) * sizeof *mem);
    double *centered = mem, *cov_a = centered + nmax * d, *cov_b = cov_a + dd, *root = cov_b + dd;
    double *tmp = root + dd, *m = tmp + dd, *mean_a = m + dd, *mean_b = mean_a + d, *w = mean_b + d;
    int rc = -1;
    if (mean_and_covariance(a, na, d, mean_a, cov_a, centered, "a", err) != 0) goto done;
    if (mean_and_covariance(b, nb, d, mean_b, cov_b, centered, "b", err) != 0) goto done;

    double mean_term = 0, trace_a = 0, trace_b = 0;
    for (size_t j = 0; j < d; j++) {
        double diff = mean_a[j] - mean_b[j];
        mean_term += diff * diff;
        trace_a += cov_a[j * d + j];
        trace_b += cov_b[j * d + j];
    }

    /* Σa = Q diag(λ) Qᵀ; rows of tmp are the eigenvectors. Σa^½ = Wᵀ W, W = diag(λ^¼) Qᵀ. */
    memcpy(tmp, cov_a, dd * sizeof *tmp);
    if (symmetric_eigen(tmp, d, w, 1, err) != 0) goto done;
    double lambda_max = w[d - 1] > 0 ? w[d - 1] : 0;
    int is_singular = na <= d || nb <= d || w[0] <= (double)d * DBL_EPSILON * lambda_max;
    for (size_t k = 0; k < d; k++) {
        double s = w[k] > 0 ? sqrt(sqrt(w[k])) : 0;
        for (size_t j = 0; j < d; j++) tmp[k * d + j] *= s;
    }
    int id = (int)d;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, id, id, 1.0, tmp, id, tmp, id, 0.0, root, id);

    /* M = Σa^½ Σb Σa^½, symmetrized; only its eigenvalues are needed. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, id, id, id, 1.0, root, id, cov_b, id, 0.0, tmp, id);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, id, id, id, 1.0, tmp, id, root, id, 0.0, m, id);
    symmetrize(m, d);
    if (symmetric_eigen(m, d, w, 0, err) != 0) goto done;
    double trace_sqrt = 0;
    for (size_t k = 0; k < d; k++) trace_sqrt += w[k] > 0 ? sqrt(w[k]) : 0;

    double fd = mean_term + trace_a + trace_b - 2 * trace_sqrt;
    *out = fd > 0 ? fd : 0;
    if (singular) *singular = is_singular;
    rc = 0;
done:
    free(mem);
    return rc;
}
