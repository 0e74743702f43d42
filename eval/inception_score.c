/* inception_score: exp of the mean KL divergence of p(c|x) from the split's marginal p_y
 * (definition in inception_score.h). */
#include "inception_score.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../core/xalloc.h"

static int check_rows(const double *probs, size_t n, size_t k, Err *err) {
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (size_t c = 0; c < k; c++) {
            double p = probs[i * k + c];
            if (!isfinite(p) || p < 0)
                return err_set(err, "inception_score: row %zu, class %zu is %g, not a probability", i, c, p);
            sum += p;
        }
        if (!(fabs(sum - 1) <= 1e-6))
            return err_set(err, "inception_score: row %zu sums to %.9g, not 1 (pass probabilities, not logits)", i,
                           sum);
    }
    return 0;
}

/* exp(mean KL(p(·|x) ‖ p_y)) over the rows [begin, end); log_p_y (k) is scratch. log p_y(c) is
 * taken as log(column sum) − log(rows), not log(sum / rows): a subnormal p(c|x) divided by
 * the row count could round to p_y(c) = 0 under a p(c|x) > 0 and make the score infinite. */
static double split_score(const double *probs, size_t begin, size_t end, size_t k, double *log_p_y) {
    double rows = (double)(end - begin), kl_sum = 0;
    for (size_t c = 0; c < k; c++) log_p_y[c] = 0;
    for (size_t i = begin; i < end; i++)
        for (size_t c = 0; c < k; c++) log_p_y[c] += probs[i * k + c];
    for (size_t c = 0; c < k; c++) log_p_y[c] = log(log_p_y[c]) - log(rows);
    for (size_t i = begin; i < end; i++)
        for (size_t c = 0; c < k; c++) {
            double p = probs[i * k + c];
            if (p > 0) kl_sum += p * (log(p) - log_p_y[c]); /* 0·log 0 = 0; p > 0 makes the column sum > 0 */
        }
    return exp(kl_sum / rows);
}

int inception_score(const double *probs, size_t n, int n_classes, size_t splits, double *mean, double *std, Err *err) {
    if (!probs || !mean || !std) return err_set(err, "inception_score: NULL probabilities or output");
    if (n_classes < 2) return err_set(err, "inception_score: n_classes is %d, needs at least 2", n_classes);
    if (splits == 0) return err_set(err, "inception_score: splits is 0");
    if (splits > n) return err_set(err, "inception_score: %zu splits of %zu rows would leave one empty", splits, n);
    if (n > SIZE_MAX / splits) return err_set(err, "inception_score: %zu rows × %zu splits overflow", n, splits);
    size_t k = (size_t)n_classes;
    if (check_rows(probs, n, k, err) != 0) return -1;

    double *scores = xmalloc((splits + k) * sizeof *scores), *log_p_y = scores + splits, sum = 0, var = 0;
    for (size_t s = 0; s < splits; s++) {
        scores[s] = split_score(probs, s * n / splits, (s + 1) * n / splits, k, log_p_y);
        sum += scores[s];
    }
    double mu = sum / (double)splits;
    for (size_t s = 0; s < splits; s++) var += (scores[s] - mu) * (scores[s] - mu);
    *mean = mu;
    *std = sqrt(var / (double)splits);
    free(scores);
    return 0;
}
