/* probe: the linear probe, how well frozen features separate the classes: multinomial
 * logistic regression fitted on standardized training features, with its L2 strength λ chosen
 * on held-out training rows, scored by accuracy on a test set.
 *
 * One fit minimizes, over W (n_classes × d) and b (n_classes),
 *     (1/n) Σ_i CE(softmax(W x_i + b), y_i) + (λ/2)·‖W‖²      (the bias is not penalized)
 * by L-BFGS (eval/lbfgs.h) from W = b = 0, in double, logits by dgemm, softmax after
 * subtracting the row maximum. It is sklearn's LogisticRegression(penalty='l2',
 * C = 1/(λ·n), multi_class='multinomial', solver='lbfgs', fit_intercept=True) objective
 * divided by n, so both have the same minimizer (though sklearn 1.2's fit stops up to ~5e-4
 * short of it, on scipy's default ftol). For λ > 0 the objective is strictly convex in W but
 * unchanged when one constant is added to every bias; L-BFGS from b = 0 keeps Σ b = 0 (every
 * bias gradient sums to 0 over classes), and the returned b is re-centred to Σ b = 0, the
 * solution sklearn returns too. A class is predicted by the largest logit, ties to the lower
 * class index.
 *
 * The protocol of linear_probe:
 *   1. Held-out rows: n_val = round(val_fraction · n_train) (C's round, halves away from 0),
 *      drawn by probe_holdout_split below from opt->seed.
 *   2. For each λ of the grid: standardize with the mean and std of the n_train − n_val fit
 *      rows, fit on them, and record the accuracy on the held-out rows (standardized with the
 *      same mean and std).
 *   3. Choose the λ with the best held-out accuracy; on a tie the larger λ (the simpler model).
 *   4. Refit with that λ on all n_train rows, standardized with their own mean and std; report
 *      its accuracy on the training rows and on the test rows (standardized with the same).
 * Standardization: mean and population std (dividing by the row count, as sklearn's
 * StandardScaler) per feature. A feature whose rows are all equal gets mean = that value and
 * std = 1, so it becomes exactly 0 (a mean summed in floating point may miss the value by an
 * ulp, and dividing that residue by a std of ~1e-17 would turn a constant into noise).
 *
 * Checked against sklearn by tests/unit/test_eval_probe.c. */
#ifndef TESSERA_PROBE_H
#define TESSERA_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "lbfgs.h"

enum { PROBE_MAX_LAMBDAS = 16 };

typedef struct {
    double val_fraction;   /* part of the training rows held out to choose λ, in (0, 1): 0.1 */
    uint64_t seed;         /* which rows are held out (probe_holdout_split): 0 */
    size_t n_lambdas;      /* 0 with lambdas NULL: the default grid 1e-6, 1e-5, …, 1e0 */
    const double *lambdas; /* each > 0 and finite, any order, at most PROBE_MAX_LAMBDAS */
    int max_iter;          /* L-BFGS iterations per fit: 1000 */
    double tol;            /* a fit stops when max |∂objective/∂θ| ≤ tol over all of W and b: 1e-8 */
} ProbeOptions;

void probe_default_options(ProbeOptions *o);

typedef struct {
    double lambda, val_accuracy;
    LbfgsReport fit; /* iterations, final max |gradient| and whether tol was reached */
} ProbeTrial;

typedef struct {
    size_t n_trials;
    ProbeTrial trials[PROBE_MAX_LAMBDAS]; /* in the order of the grid */
    double lambda;                        /* chosen */
    double train_accuracy, test_accuracy; /* of the refit on all training rows */
    LbfgsReport fit;                      /* of that refit */
    size_t n_train, n_val, n_test;
} ProbeResult;

/* The held-out rows: one Rng (core/rng.h) seeded with rng_seed(seed); p = 0, 1, …, n−1 is
 * shuffled partially from the front, for i = 0 … n_val−1: j = i + rng_below(n − i), swap
 * p[i] and p[j]. val_rows = p[0 … n_val−1] in that order; fit_rows = the other n − n_val
 * rows in ascending order. Requires n_val ≤ n (unchecked here; linear_probe checks). */
void probe_holdout_split(size_t n, size_t n_val, uint64_t seed, size_t *val_rows, size_t *fit_rows);

/* One fit of the objective above on x (n × d, row-major, used as given: no standardization)
 * with labels y in [0, n_classes); weights: n_classes × d, bias: n_classes. Not reaching tol
 * within max_iter is no error: report (may be NULL) says how the minimizer stopped.
 * Returns -1 with a message in err when n_classes < 2, n = 0, d = 0, λ is negative or not
 * finite, max_iter < 0, tol is negative or not finite, a label is out of range, a class has
 * no row (its unpenalized bias would have no minimum: it falls forever), a feature is not
 * finite, a size exceeds BLAS's int or a pointer is NULL. */
int logreg_fit(const double *x, const int32_t *y, size_t n, size_t d, int n_classes, double lambda, int max_iter,
               double tol, double *weights, double *bias, LbfgsReport *report, Err *err);

/* The protocol above; train_x: n_train × d, test_x: n_test × d, row-major; opt NULL for the
 * defaults. Returns -1 with a message in err when an argument is invalid as for logreg_fit
 * (checked on both sets), there is no test row, n_val would be 0 or leave no fit row,
 * val_fraction is outside (0, 1), the grid is empty, too long or holds a λ ≤ 0, max_iter < 1,
 * tol < 0, or a class has no row among the rows of a fit. */
int linear_probe(const double *train_x, const int32_t *train_y, size_t n_train, const double *test_x,
                 const int32_t *test_y, size_t n_test, size_t d, int n_classes, const ProbeOptions *opt,
                 ProbeResult *out, Err *err);

#endif
