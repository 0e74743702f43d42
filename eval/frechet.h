/* frechet: the Fréchet distance between two sets of feature vectors (FID's formula, on any
 * feature space: FD_clf in docs/ is this function on our classifier's features).
 *
 * Each set is modelled as a Gaussian with its sample mean and UNBIASED covariance (divide by
 * n − 1, numpy's cov(rowvar=False), as pytorch-fid, clean-fid, ADM and torch-fidelity do):
 *     FD = |μa − μb|² + tr Σa + tr Σb − 2 tr (Σa^½ Σb Σa^½)^½.
 * The trace term equals tr sqrt(Σa Σb) (the two matrices are similar) but is computed from a
 * symmetric eigenproblem, never from a general matrix square root: Σa^½ from the
 * eigendecomposition of Σa with negative eigenvalues clamped to 0, then the eigenvalues of the
 * symmetrized M = Σa^½ Σb Σa^½, negatives clamped to 0, square roots summed. LAPACK dsyevd
 * and BLAS dgemm (OpenBLAS), all in double. Checked against numpy (np.cov, eigh, and the
 * independent sum of sqrt(eigvals(Σa Σb))) by tests/unit/test_eval_metrics.c. */
#ifndef TESSERA_FRECHET_H
#define TESSERA_FRECHET_H

#include <stddef.h>

#include "../core/err.h"

/* a: na × d, b: nb × d, row-major doubles (one feature vector per row). On success stores the
 * distance in *out and returns 0. The result is never negative: identical sets give 0 up to
 * rounding, and a rounding-negative total is clamped to 0.
 *
 * *singular (if not NULL) is set to 1 when a covariance is singular, else 0: when na ≤ d or
 * nb ≤ d (an unbiased covariance of n samples has rank at most n − 1), or when Σa has an
 * eigenvalue ≤ d·DBL_EPSILON·λmax (collinear features in a). The distance is still finite and
 * computed the same way, as reference tools do, but it is then a poor estimate: report it with
 * the warning. (A rank-deficient Σb beyond the sample-count rule is not detected: it needs a
 * second eigendecomposition and does not change the computation.)
 *
 * Returns -1 with a message in err when na < 2 or nb < 2, d = 0, d > INT_MAX (LAPACK's int),
 * a pointer is NULL, a value is not finite, or LAPACK reports a failure. Allocates about
 * max(na, nb)·d + 5·d² doubles for the call. */
int frechet_distance(const double *a, size_t na, const double *b, size_t nb, size_t d, double *out, int *singular,
                     Err *err);

#endif
