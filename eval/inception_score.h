/* inception_score: the Inception Score (Salimans et al., NeurIPS 2016) of class
 * probabilities p(c|x) that a classifier assigns to generated samples: high when each sample
 * is confidently one class (low entropy of p(c|x)) and the samples spread over the classes
 * (high entropy of the marginal p(c)). With the splits of the original code and
 * torch-fidelity, so the numbers are comparable with theirs for the same classifier.
 * Checked against numpy and scipy.stats.entropy by tests/unit/test_eval_probe.c. */
#ifndef TESSERA_INCEPTION_SCORE_H
#define TESSERA_INCEPTION_SCORE_H

#include <stddef.h>

#include "../core/err.h"

/* probs: n × n_classes row-major, each row a distribution. The rows are cut in order into
 * `splits` parts: split s holds rows [s·n / splits, (s+1)·n / splits) with integer division
 * (so when splits does not divide n the parts differ in size by one row, the larger ones
 * last). Per split, with p_y = the mean of its rows,
 *     score_s = exp( mean over its rows x of Σ_c p(c|x) · (log p(c|x) − log p_y(c)) )
 * (the KL divergence of each row from p_y, with 0·log 0 = 0). Stores the mean of the scores
 * in *mean and their population standard deviation (dividing by splits, as np.std) in *std.
 * The score lies in [1, n_classes]; the usual settings are 10 splits of 50 000 samples.
 *
 * Returns -1 with a message in err when n_classes < 2, splits = 0, splits > n (a split
 * would be empty), a value is negative or not finite, a row's sum is off 1 by more than 1e-6,
 * or a pointer is NULL. */
int inception_score(const double *probs, size_t n, int n_classes, size_t splits, double *mean, double *std, Err *err);

#endif
