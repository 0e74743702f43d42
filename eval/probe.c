/* probe: multinomial logistic regression by L-BFGS and the linear-probe protocol around it
 * (definitions in probe.h).
 *
 * The parameters are one vector θ = [W (k × d, row-major) | b (k)] for the minimizer. One
 * evaluation is two dgemms: the logits X·Wᵀ, and the weight gradient (P − Y)ᵀ·X / n from the
 * logits overwritten in place by (softmax − one-hot) / n. */
#include "probe.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"

static const double default_lambdas[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0};

void probe_default_options(ProbeOptions *o) {
    *o = (ProbeOptions){.val_fraction = 0.1, .seed = 0, .n_lambdas = 0, .lambdas = NULL, .max_iter = 1000, .tol = 1e-8};
}

/* ------------------------------------------------------------------ one fit */

typedef struct {
    const double *x; /* n × d */
    const int32_t *y;
    size_t n, d, k;
    double lambda;
    double *logits; /* n × k scratch */
} SoftmaxProblem;

static double softmax_objective(const double *theta, double *grad, void *ctx) {
    const SoftmaxProblem *pb = ctx;
    size_t n = pb->n, d = pb->d, k = pb->k;
    const double *w = theta, *b = theta + k * d;
    double *z = pb->logits, *grad_w = grad, *grad_b = grad + k * d, loss = 0, inv_n = 1.0 / (double)n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0, pb->x, (int)d, w, (int)d, 0.0, z,
                (int)k);
    memset(grad_b, 0, k * sizeof *grad_b);
    for (size_t i = 0; i < n; i++) {
        double *zi = z + i * k, top = -INFINITY, sum = 0;
        for (size_t c = 0; c < k; c++) {
            zi[c] += b[c];
            top = fmax(top, zi[c]);
        }
        double true_logit = zi[pb->y[i]];
        for (size_t c = 0; c < k; c++) {
            zi[c] = exp(zi[c] - top);
            sum += zi[c];
        }
        loss += top + log(sum) - true_logit;
        for (size_t c = 0; c < k; c++) {
            zi[c] = (zi[c] / sum - (c == (size_t)pb->y[i])) * inv_n;
            grad_b[c] += zi[c];
        }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)d, (int)n, 1.0, z, (int)k, pb->x, (int)d, 0.0,
                grad_w, (int)d);
    double norm2 = 0;
    for (size_t j = 0; j < k * d; j++) {
        norm2 += w[j] * w[j];
        grad_w[j] += pb->lambda * w[j];
    }
    return loss * inv_n + 0.5 * pb->lambda * norm2;
}

/* The fit on checked arguments; theta (k·d + k) receives [W | b] with Σ b = 0. */
static void fit_checked(const double *x, const int32_t *y, size_t n, size_t d, size_t k, double lambda, int max_iter,
                        double tol, double *theta, LbfgsReport *report) {
    SoftmaxProblem pb = {x, y, n, d, k, lambda, xmalloc(n * k * sizeof(double))};
    memset(theta, 0, (k * d + k) * sizeof *theta);
    lbfgs_minimize(theta, k * d + k, softmax_objective, &pb, max_iter, tol, report);
    double *b = theta + k * d, mean = 0;
    for (size_t c = 0; c < k; c++) mean += b[c] / (double)k;
    for (size_t c = 0; c < k; c++) b[c] -= mean;
    free(pb.logits);
}

/* Share of the n rows whose largest logit (the first on a tie) is at their label. */
static double accuracy(const double *x, const int32_t *y, size_t n, size_t d, size_t k, const double *theta) {
    double *z = xmalloc(n * k * sizeof *z);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0, x, (int)d, theta, (int)d, 0.0, z,
                (int)k);
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (z[i * k + c] + theta[k * d + c] > z[i * k + best] + theta[k * d + best]) best = c;
        correct += best == (size_t)y[i];
    }
    free(z);
    return (double)correct / (double)n;
}

/* Labels in range and features finite; `what` names the caller and the set in messages. */
static int check_rows(const double *x, const int32_t *y, size_t n, size_t d, int k, const char *what, Err *err) {
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k) return err_set(err, "%s row %zu has label %d, outside [0, %d)", what, i, y[i], k);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i])) return err_set(err, "%s row %zu, feature %zu is not finite", what, i / d, i % d);
    return 0;
}

/* The first class in [0, k) without a row among y[rows[0 … n−1]] (all n rows when rows is
 * NULL), or -1. */
static int missing_class(const int32_t *y, const size_t *rows, size_t n, int k) {
    unsigned char *seen = xcalloc((size_t)k, 1);
    for (size_t i = 0; i < n; i++) seen[y[rows ? rows[i] : i]] = 1;
    int missing = -1;
    for (int c = 0; c < k && missing < 0; c++)
        if (!seen[c]) missing = c;
    free(seen);
    return missing;
}

int logreg_fit(const double *x, const int32_t *y, size_t n, size_t d, int n_classes, double lambda, int max_iter,
               double tol, double *weights, double *bias, LbfgsReport *report, Err *err) {
    if (!x || !y || !weights || !bias) return err_set(err, "logreg_fit: NULL features, labels or output");
    if (n_classes < 2) return err_set(err, "logreg_fit: n_classes is %d, needs at least 2", n_classes);
    if (n == 0) return err_set(err, "logreg_fit: no rows");
    if (d == 0) return err_set(err, "logreg_fit: feature dimension d is 0");
    if (!(lambda >= 0) || !isfinite(lambda)) return err_set(err, "logreg_fit: lambda %g is not a finite λ ≥ 0", lambda);
    if (max_iter < 0 || !(tol >= 0) || !isfinite(tol))
        return err_set(err, "logreg_fit: max_iter %d or tol %g is negative or not finite", max_iter, tol);
    if (n > INT_MAX || d > INT_MAX)
        return err_set(err, "logreg_fit: sizes too large for BLAS int (n %zu, d %zu)", n, d);
    if (check_rows(x, y, n, d, n_classes, "logreg_fit:", err) != 0) return -1;
    int missing = missing_class(y, NULL, n, n_classes);
    if (missing >= 0)
        return err_set(err, "logreg_fit: class %d has no row (its unpenalized bias would fall without bound)", missing);
    size_t k = (size_t)n_classes;
    double *theta = xmalloc((k * d + k) * sizeof *theta);
    fit_checked(x, y, n, d, k, lambda, max_iter, tol, theta, report);
    memcpy(weights, theta, k * d * sizeof *weights);
    memcpy(bias, theta + k * d, k * sizeof *bias);
    free(theta);
    return 0;
}

/* ------------------------------------------------------------------ the protocol */

void probe_holdout_split(size_t n, size_t n_val, uint64_t seed, size_t *val_rows, size_t *fit_rows) {
    Rng rng;
    rng_seed(&rng, seed);
    size_t *perm = xmalloc(n * sizeof *perm);
    unsigned char *held = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < n_val; i++) {
        size_t j = i + (size_t)rng_below(&rng, (uint64_t)(n - i));
        size_t swap = perm[i];
        perm[i] = perm[j];
        perm[j] = swap;
        val_rows[i] = perm[i];
        held[perm[i]] = 1;
    }
    for (size_t i = 0, f = 0; i < n; i++)
        if (!held[i]) fit_rows[f++] = i;
    free(held);
    free(perm);
}

static void gather_rows(const double *x, const int32_t *y, const size_t *rows, size_t n, size_t d, double *x_out,
                        int32_t *y_out) {
    for (size_t i = 0; i < n; i++) {
        memcpy(x_out + i * d, x + rows[i] * d, d * sizeof *x_out);
        y_out[i] = y[rows[i]];
    }
}

/* Per feature over n rows: mean and population std; a constant feature gets its value and 1. */
static void feature_scales(const double *x, size_t n, size_t d, double *mean, double *std) {
    for (size_t j = 0; j < d; j++) {
        double sum = 0, ss = 0;
        int constant = 1;
        for (size_t i = 0; i < n; i++) {
            sum += x[i * d + j];
            constant &= x[i * d + j] == x[j];
        }
        double mu = constant ? x[j] : sum / (double)n;
        for (size_t i = 0; i < n; i++) ss += (x[i * d + j] - mu) * (x[i * d + j] - mu);
        mean[j] = mu;
        std[j] = ss > 0 ? sqrt(ss / (double)n) : 1;
    }
}

static void standardize(double *x, size_t n, size_t d, const double *mean, const double *std) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] = (x[i * d + j] - mean[j]) / std[j];
}

static int check_options(const ProbeOptions *o, size_t n_train, size_t *n_val, Err *err) {
    if (!(o->val_fraction > 0 && o->val_fraction < 1))
        return err_set(err, "linear_probe: val_fraction %g is outside (0, 1)", o->val_fraction);
    *n_val = (size_t)round(o->val_fraction * (double)n_train);
    if (*n_val == 0 || *n_val >= n_train)
        return err_set(err,
                       "linear_probe: val_fraction %g holds out %zu of %zu training rows; the held-out and the fit "
                       "rows each need at least one",
                       o->val_fraction, *n_val, n_train);
    if (!o->lambdas != (o->n_lambdas == 0))
        return err_set(err, "linear_probe: lambdas must be NULL exactly when n_lambdas is 0 (got %zu)", o->n_lambdas);
    if (o->n_lambdas > PROBE_MAX_LAMBDAS)
        return err_set(err, "linear_probe: %zu lambdas, at most %d", o->n_lambdas, PROBE_MAX_LAMBDAS);
    for (size_t t = 0; t < o->n_lambdas; t++)
        if (!(o->lambdas[t] > 0) || !isfinite(o->lambdas[t]))
            return err_set(err, "linear_probe: lambda %zu is %g, not a finite λ > 0", t, o->lambdas[t]);
    if (o->max_iter < 1) return err_set(err, "linear_probe: max_iter %d is below 1", o->max_iter);
    if (!(o->tol >= 0) || !isfinite(o->tol))
        return err_set(err, "linear_probe: tol %g is not a finite value ≥ 0", o->tol);
    return 0;
}

static int check_probe_args(const double *train_x, const int32_t *train_y, size_t n_train, const double *test_x,
                            const int32_t *test_y, size_t n_test, size_t d, int n_classes, Err *err) {
    if (n_classes < 2) return err_set(err, "linear_probe: n_classes is %d, needs at least 2", n_classes);
    if (d == 0) return err_set(err, "linear_probe: feature dimension d is 0");
    if (n_test == 0) return err_set(err, "linear_probe: no test rows");
    if (n_train > INT_MAX || n_test > INT_MAX || d > INT_MAX)
        return err_set(err, "linear_probe: sizes too large for BLAS int (n_train %zu, n_test %zu, d %zu)", n_train,
                       n_test, d);
    if (check_rows(train_x, train_y, n_train, d, n_classes, "linear_probe: training", err) != 0) return -1;
    if (check_rows(test_x, test_y, n_test, d, n_classes, "linear_probe: test", err) != 0) return -1;
    int missing = missing_class(train_y, NULL, n_train, n_classes);
    if (missing >= 0) return err_set(err, "linear_probe: class %d has no training row", missing);
    return 0;
}

int linear_probe(const double *train_x, const int32_t *train_y, size_t n_train, const double *test_x,
                 const int32_t *test_y, size_t n_test, size_t d, int n_classes, const ProbeOptions *opt,
                 ProbeResult *out, Err *err) {
    ProbeOptions o;
    probe_default_options(&o);
    if (opt) o = *opt;
    if (!train_x || !train_y || !test_x || !test_y || !out)
        return err_set(err, "linear_probe: NULL features, labels or output");
    size_t n_val = 0;
    if (check_options(&o, n_train, &n_val, err) != 0) return -1;
    if (check_probe_args(train_x, train_y, n_train, test_x, test_y, n_test, d, n_classes, err) != 0) return -1;
    const double *lambdas = o.lambdas ? o.lambdas : default_lambdas;
    size_t n_lambdas = o.lambdas ? o.n_lambdas : sizeof default_lambdas / sizeof *default_lambdas;
    size_t k = (size_t)n_classes, n_fit = n_train - n_val, n_eval = n_val > n_test ? n_val : n_test;

    size_t *rows = xmalloc(n_train * sizeof *rows), *val_rows = rows, *fit_rows = rows + n_val;
    probe_holdout_split(n_train, n_val, o.seed, val_rows, fit_rows);
    int missing = missing_class(train_y, fit_rows, n_fit, n_classes);
    if (missing >= 0) {
        free(rows);
        return err_set(err,
                       "linear_probe: class %d has no row among the %zu rows left to fit after holding out %zu "
                       "(seed %llu); use another seed or a smaller val_fraction",
                       missing, n_fit, n_val, (unsigned long long)o.seed);
    }
    double *mem = xmalloc(((n_train + n_eval) * d + 2 * d + k * d + k) * sizeof *mem);
    double *fit_x = mem, *eval_x = fit_x + n_train * d, *mean = eval_x + n_eval * d, *std = mean + d;
    double *theta = std + d;
    int32_t *labels = xmalloc((n_train + n_eval) * sizeof *labels), *fit_y = labels, *eval_y = labels + n_train;

    /* λ search: fit on the fit rows, score on the held-out rows, both scaled by the fit rows. */
    gather_rows(train_x, train_y, fit_rows, n_fit, d, fit_x, fit_y);
    gather_rows(train_x, train_y, val_rows, n_val, d, eval_x, eval_y);
    feature_scales(fit_x, n_fit, d, mean, std);
    standardize(fit_x, n_fit, d, mean, std);
    standardize(eval_x, n_val, d, mean, std);
    *out = (ProbeResult){.n_trials = n_lambdas, .n_train = n_train, .n_val = n_val, .n_test = n_test};
    size_t best = 0;
    for (size_t t = 0; t < n_lambdas; t++) {
        ProbeTrial *trial = &out->trials[t];
        trial->lambda = lambdas[t];
        fit_checked(fit_x, fit_y, n_fit, d, k, lambdas[t], o.max_iter, o.tol, theta, &trial->fit);
        trial->val_accuracy = accuracy(eval_x, eval_y, n_val, d, k, theta);
        const ProbeTrial *b = &out->trials[best];
        if (trial->val_accuracy > b->val_accuracy ||
            (trial->val_accuracy == b->val_accuracy && trial->lambda > b->lambda))
            best = t;
    }
    out->lambda = lambdas[best];

    /* The refit on every training row, scaled by them; the test rows scaled the same way. */
    memcpy(fit_x, train_x, n_train * d * sizeof *fit_x);
    memcpy(eval_x, test_x, n_test * d * sizeof *eval_x);
    feature_scales(fit_x, n_train, d, mean, std);
    standardize(fit_x, n_train, d, mean, std);
    standardize(eval_x, n_test, d, mean, std);
    fit_checked(fit_x, train_y, n_train, d, k, out->lambda, o.max_iter, o.tol, theta, &out->fit);
    out->train_accuracy = accuracy(fit_x, train_y, n_train, d, k, theta);
    out->test_accuracy = accuracy(eval_x, test_y, n_test, d, k, theta);
    free(labels);
    free(mem);
    free(rows);
    return 0;
}
