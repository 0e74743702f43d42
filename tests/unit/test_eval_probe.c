/* test_eval_probe: eval/lbfgs (the minimizer), eval/probe (logistic regression and the
 * linear-probe protocol) and eval/inception_score.
 *
 * Against tests/ref/ref_eval_probe.py (TESSERA_REF/eval_probe.tsr), seeded Gaussian mixtures
 * (d = 8 with a constant feature, 4 classes; d = 5 on scales 1e-3…1e3, 3 classes):
 *   - logistic regression weights and biases, |Δ| / max(|w|, 0.1), against the optimum
 *     (sklearn's LogisticRegression polished by Newton's method, as sklearn stops up to
 *     5e-4 short of it): ≤ 2e-5 at the default tol 1e-8, ≤ 1e-9 at tol 1e-13; and ≤ 5e-3 against
 *     LogisticRegression's own output, the distance sklearn leaves;
 *   - the protocol: held-out rows exactly (xoshiro256** and the partial Fisher–Yates
 *     reimplemented in Python), every λ's held-out accuracy, the chosen λ (ties occur and go
 *     to the larger λ), train and test accuracy exactly;
 *   - Inception Score mean and std to 1e-12 relative, including exact zeros in the
 *     probabilities and splits that do not divide n.
 * Also: L-BFGS on a badly scaled quadratic and on Rosenbrock's function and its stopping
 * rules; accuracy 1 on separable data; IS by hand; every error path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/err.h"
#include "../../core/rng.h"
#include "../../eval/inception_score.h"
#include "../../eval/lbfgs.h"
#include "../../eval/probe.h"
#include "assert_near.h"
#include "tensorfile.h"



static TensorFile *load_fixture(void) { return tf_load_ref("eval_probe.tsr"); }


static const double *f64_named(const TensorFile *tf, const char *prefix, size_t i, const char *suffix, size_t count) {
    char name[64];
    snprintf(name, sizeof name, "%s%zu_%s", prefix, i, suffix);
    return tf_f64(tf, name, count);
}

static const int32_t *i32_named(const TensorFile *tf, const char *prefix, size_t i, const char *suffix, size_t count) {
    char name[64];
    snprintf(name, sizeof name, "%s%zu_%s", prefix, i, suffix);
    return tf_i32(tf, name, count);
}

/* Largest |a − b| / max(|b|, floor): relative for entries above floor, absolute below. */
static double max_scaled_error(const double *a, const double *b, size_t n, double floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor));
    return worst;
}

/* ------------------------------------------------------------------ L-BFGS */

typedef struct {
    size_t n;
    const double *scale, *center;
} Quadratic;

/* ½ Σ a_i (x_i − c_i)², curvatures a_i from 1 to 1e4. */
static double quadratic(const double *x, double *grad, void *ctx) {
    const Quadratic *q = ctx;
    double f = 0;
    for (size_t i = 0; i < q->n; i++) {
        double r = x[i] - q->center[i];
        f += 0.5 * q->scale[i] * r * r;
        grad[i] = q->scale[i] * r;
    }
    return f;
}

static double rosenbrock(const double *x, double *grad, void *ctx) {
    (void)ctx;
    double a = 1 - x[0], b = x[1] - x[0] * x[0];
    grad[0] = -2 * a - 400 * x[0] * b;
    grad[1] = 200 * b;
    return a * a + 100 * b * b;
}

static void test_lbfgs_quadratic_and_rosenbrock(void **state) {
    enum { N = 50 };
    double scale[N], center[N], x[N] = {0};
    for (size_t i = 0; i < N; i++) {
        scale[i] = pow(10, 4.0 * (double)i / (N - 1));
        center[i] = sin((double)i);
    }
    Quadratic q = {N, scale, center};
    LbfgsReport r;
    assert_int_equal(lbfgs_minimize(x, N, quadratic, &q, 5000, 1e-10, &r), LBFGS_CONVERGED);
    printf("  quadratic, curvatures 1…1e4: %d iterations, %d evaluations, max |g| %.1e\n", r.iterations, r.evaluations,
           r.max_gradient);
    /* scipy's L-BFGS-B (maxcor 10, ftol 0) takes 1084 iterations on this function. */
    assert_true(r.max_gradient <= 1e-10 && r.iterations < 1500);
    for (size_t i = 0; i < N; i++) assert_near(x[i], center[i], 1e-10 / scale[i]);

    double xr[2] = {-1.2, 1};
    assert_int_equal(lbfgs_minimize(xr, 2, rosenbrock, NULL, 1000, 1e-10, &r), LBFGS_CONVERGED);
    printf("  Rosenbrock from (-1.2, 1): %d iterations, %d evaluations, f %.1e\n", r.iterations, r.evaluations, r.f);
    assert_near(xr[0], 1, 1e-8);
    assert_near(xr[1], 1, 1e-8);
}

static double not_finite(const double *x, double *grad, void *ctx) {
    (void)ctx;
    grad[0] = 1;
    return x[0] > 0 ? NAN : 0;
}

static void test_lbfgs_stopping_rules(void **state) {
    double x[2] = {-1.2, 1};
    LbfgsReport r;
    assert_int_equal(lbfgs_minimize(x, 2, rosenbrock, NULL, 5, 1e-10, &r), LBFGS_MAX_ITERATIONS);
    assert_int_equal(r.iterations, 5);
    assert_true(r.max_gradient > 1e-10);
    double at_min[2] = {1, 1};
    assert_int_equal(lbfgs_minimize(at_min, 2, rosenbrock, NULL, 5, 0, &r), LBFGS_CONVERGED);
    assert_int_equal(r.iterations, 0);
    assert_int_equal(r.evaluations, 1);
    assert_true(at_min[0] == 1 && at_min[1] == 1);
    /* tol 0 away from the minimum: runs into the rounding floor and says so. */
    double y[2] = {-1.2, 1};
    LbfgsStatus s = lbfgs_minimize(y, 2, rosenbrock, NULL, 100000, 0, &r);
    assert_true(s == LBFGS_STALLED || s == LBFGS_CONVERGED);
    assert_near(y[0], 1, 1e-10);
    double z[1] = {1};
    assert_int_equal(lbfgs_minimize(z, 1, not_finite, NULL, 10, 0, &r), LBFGS_NOT_FINITE);
    assert_true(z[0] == 1 && isnan(r.max_gradient));
    assert_string_equal(lbfgs_status_name(LBFGS_STALLED), "stalled");
}

/* ------------------------------------------------------------------ logistic regression */

/* Errors are |Δ| / max(|w|, 0.1). At a tolerance on the gradient the distance to the optimum
 * is about tol / (the Hessian's smallest relevant eigenvalue): measured 7.5e-6 at the default
 * 1e-8 for λ = 1e-5 (bounded by 2e-5, as the last steps depend on BLAS rounding), 1e-8 at
 * λ = 1; at tol 1e-13, well above the rounding floor, at most 3.5e-10. LogisticRegression
 * itself stops ~1e-3 away (sklearn leaves scipy's ftol = 2.2e-9 in place). */
static void test_logreg_matches_sklearn(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "logreg_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 3);
    const int32_t *dm = dims->data;
    const double *lambdas = tf_f64(tf, "logreg_lambda", cases);
    double worst_default = 0, worst_tight = 0, worst_sklearn = 0;
    for (size_t c = 0; c < cases; c++) {
        size_t n = (size_t)dm[3 * c], d = (size_t)dm[3 * c + 1], k = (size_t)dm[3 * c + 2];
        const double *x = f64_named(tf, "logreg", c, "x", n * d);
        const int32_t *y = i32_named(tf, "logreg", c, "y", n);
        const double *want_w = f64_named(tf, "logreg", c, "w", k * d), *want_b = f64_named(tf, "logreg", c, "b", k);
        const double *sk_w = f64_named(tf, "logreg", c, "w_sklearn", k * d);
        const double *sk_b = f64_named(tf, "logreg", c, "b_sklearn", k);
        double w[64], b[8];
        assert_true(k * d <= 64 && k <= 8);
        const double tols[2] = {1e-8, 1e-13};
        for (int t = 0; t < 2; t++) {
            LbfgsReport rep;
            Err err = {{0}};
            if (logreg_fit(x, y, n, d, (int)k, lambdas[c], 10000, tols[t], w, b, &rep, &err) != 0)
                fail_msg("case %zu: %s", c, err.msg);
            assert_int_equal(rep.status, LBFGS_CONVERGED);
            double e = fmax(max_scaled_error(w, want_w, k * d, 0.1), max_scaled_error(b, want_b, k, 0.1));
            printf("  logreg case %zu  %zux%zu k %zu λ %g  tol %g: %d iterations, max |g| %.1e, error vs optimum %.1e",
                   c, n, d, k, lambdas[c], tols[t], rep.iterations, rep.max_gradient, e);
            if (t == 0) {
                double es = fmax(max_scaled_error(w, sk_w, k * d, 0.1), max_scaled_error(b, sk_b, k, 0.1));
                printf(", vs LogisticRegression %.1e\n", es);
                if (!(e <= 2e-5 && es <= 5e-3)) fail_msg("case %zu: error %.1e vs optimum, %.1e vs sklearn", c, e, es);
                worst_default = fmax(worst_default, e);
                worst_sklearn = fmax(worst_sklearn, es);
            } else {
                printf("\n");
                if (!(e <= 1e-9)) fail_msg("case %zu at tol 1e-13: error %.1e vs optimum", c, e);
                worst_tight = fmax(worst_tight, e);
            }
            double sum_b = 0;
            for (size_t j = 0; j < k; j++) sum_b += b[j];
            assert_true(fabs(sum_b) <= 1e-12);
        }
    }
    printf("  logreg: %zu cases, worst error vs optimum %.1e (tol 1e-8), %.1e (tol 1e-13); vs LogisticRegression "
           "%.1e\n",
           cases, worst_default, worst_tight, worst_sklearn);
    tf_free(tf);
}

static void test_logreg_errors(void **state) {
    double x[4 * 2] = {0, 1, 2, 3, 4, 5, 6, 7}, w[3 * 2] = {42}, b[3] = {42};
    int32_t y[4] = {0, 1, 2, 1};
    Err err;
    assert_error(logreg_fit(x, y, 4, 2, 1, 0.1, 100, 1e-8, w, b, NULL, &err), "n_classes is 1");
    assert_error(logreg_fit(x, y, 4, 2, 2, 0.1, 100, 1e-8, w, b, NULL, &err), "row 2 has label 2, outside [0, 2)");
    assert_error(logreg_fit(x, y, 4, 2, 4, 0.1, 100, 1e-8, w, b, NULL, &err), "class 3 has no row");
    assert_error(logreg_fit(x, y, 0, 2, 3, 0.1, 100, 1e-8, w, b, NULL, &err), "no rows");
    assert_error(logreg_fit(x, y, 4, 0, 3, 0.1, 100, 1e-8, w, b, NULL, &err), "dimension d is 0");
    assert_error(logreg_fit(x, y, 4, 2, 3, -1, 100, 1e-8, w, b, NULL, &err), "lambda -1");
    assert_error(logreg_fit(x, y, 4, 2, 3, NAN, 100, 1e-8, w, b, NULL, &err), "lambda nan");
    assert_error(logreg_fit(x, y, 4, 2, 3, 0.1, -1, 1e-8, w, b, NULL, &err), "max_iter -1");
    assert_error(logreg_fit(x, y, 4, 2, 3, 0.1, 100, NAN, w, b, NULL, &err), "tol nan");
    assert_error(logreg_fit(NULL, y, 4, 2, 3, 0.1, 100, 1e-8, w, b, NULL, &err), "NULL");
    assert_error(logreg_fit(x, y, 4, 2, 3, 0.1, 100, 1e-8, w, NULL, NULL, &err), "NULL");
    x[5] = INFINITY;
    assert_error(logreg_fit(x, y, 4, 2, 3, 0.1, 100, 1e-8, w, b, NULL, &err), "row 2, feature 1 is not finite");
    y[1] = -1;
    assert_error(logreg_fit(x, y, 4, 2, 3, 0.1, 100, 1e-8, w, b, NULL, &err), "row 1 has label -1");
    assert_true(w[0] == 42 && b[0] == 42);
    assert_int_equal(logreg_fit(x, y, 4, 2, 1, 0.1, 100, 1e-8, w, b, NULL, NULL), -1); /* a NULL Err is allowed */
}

/* ------------------------------------------------------------------ the protocol */

static void test_probe_matches_sklearn(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "probe_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 2);
    const int32_t *dm = dims->data;
    const int64_t *seeds = tf_get(tf, "probe_seed", TF_I64, cases)->data;
    const double *fractions = tf_f64(tf, "probe_val_fraction", cases);
    for (size_t c = 0; c < cases; c++) {
        size_t n_train = (size_t)dm[6 * c], n_test = (size_t)dm[6 * c + 1], d = (size_t)dm[6 * c + 2];
        int k = dm[6 * c + 3];
        size_t n_val = (size_t)dm[6 * c + 4], n_lambdas = (size_t)dm[6 * c + 5];
        const double *train_x = f64_named(tf, "probe", c, "train_x", n_train * d);
        const double *test_x = f64_named(tf, "probe", c, "test_x", n_test * d);
        const int32_t *train_y = i32_named(tf, "probe", c, "train_y", n_train);
        const int32_t *test_y = i32_named(tf, "probe", c, "test_y", n_test);
        const double *lambdas = f64_named(tf, "probe", c, "lambdas", n_lambdas);
        const int32_t *want_val_rows = i32_named(tf, "probe", c, "val_rows", n_val);
        const double *want_val_acc = f64_named(tf, "probe", c, "val_accuracy", n_lambdas);
        const double *want = f64_named(tf, "probe", c, "result", 3);

        size_t *rows = malloc(n_train * sizeof *rows);
        assert_non_null(rows);
        probe_holdout_split(n_train, n_val, (uint64_t)seeds[c], rows, rows + n_val);
        for (size_t i = 0; i < n_val; i++)
            if (rows[i] != (size_t)want_val_rows[i])
                fail_msg("case %zu: held-out row %zu is %zu, Python %d", c, i, rows[i], want_val_rows[i]);
        for (size_t i = n_val + 1; i < n_train; i++) assert_true(rows[i - 1] < rows[i]); /* fit rows ascending */
        free(rows);

        ProbeOptions opt;
        probe_default_options(&opt);
        opt.val_fraction = fractions[c];
        opt.seed = (uint64_t)seeds[c];
        int default_grid = n_lambdas == 7 && lambdas[0] == 1e-6 && lambdas[6] == 1;
        if (!default_grid) {
            opt.lambdas = lambdas;
            opt.n_lambdas = n_lambdas;
        }
        ProbeResult res;
        Err err = {{0}};
        if (linear_probe(train_x, train_y, n_train, test_x, test_y, n_test, d, k, &opt, &res, &err) != 0)
            fail_msg("case %zu: %s", c, err.msg);
        assert_int_equal(res.n_trials, n_lambdas);
        assert_int_equal(res.n_val, n_val);
        assert_int_equal(res.n_train, n_train);
        assert_int_equal(res.n_test, n_test);
        printf("  probe case %zu  %zu train (%zu held out), %zu test, d %zu, k %d\n", c, n_train, n_val, n_test, d, k);
        for (size_t t = 0; t < n_lambdas; t++) {
            const ProbeTrial *tr = &res.trials[t];
            printf("    λ %-6g held-out accuracy %.4f (sklearn %.4f)  %d iterations, %s\n", tr->lambda,
                   tr->val_accuracy, want_val_acc[t], tr->fit.iterations, lbfgs_status_name(tr->fit.status));
            assert_true(tr->lambda == lambdas[t]);
            assert_true(tr->val_accuracy == want_val_acc[t]);
            assert_int_equal(tr->fit.status, LBFGS_CONVERGED);
        }
        printf("    chosen λ %g (sklearn %g), train accuracy %.4f (%.4f), test accuracy %.4f (%.4f)\n", res.lambda,
               want[0], res.train_accuracy, want[1], res.test_accuracy, want[2]);
        assert_true(res.lambda == want[0]);
        assert_true(res.train_accuracy == want[1]);
        assert_true(res.test_accuracy == want[2]);
        assert_int_equal(res.fit.status, LBFGS_CONVERGED);
    }
    tf_free(tf);
}

/* Three well-separated clusters in 2-D with a wide, shifted third feature: with small λ a
 * linear model classifies every row. */
static void test_probe_separable_is_exact(void **state) {
    enum { N = 240, NT = 60, D = 3, K = 3 };
    const double centers[K][2] = {{0, 0}, {6, 0}, {0, 6}};
    double x[(N + NT) * D];
    int32_t y[N + NT];
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t i = 0; i < N + NT; i++) {
        y[i] = (int32_t)(i % K);
        x[i * D] = centers[y[i]][0] + rng_normal(&rng);
        x[i * D + 1] = centers[y[i]][1] + rng_normal(&rng);
        x[i * D + 2] = 1000 + 50 * rng_normal(&rng);
    }
    const double lambdas[] = {1e-6, 1e-4};
    ProbeOptions opt;
    probe_default_options(&opt);
    opt.lambdas = lambdas;
    opt.n_lambdas = 2;
    ProbeResult res;
    Err err = {{0}};
    if (linear_probe(x, y, N, x + N * D, y + N, NT, D, K, &opt, &res, &err) != 0) fail_msg("%s", err.msg);
    assert_true(res.train_accuracy == 1 && res.test_accuracy == 1);
    assert_true(res.trials[0].val_accuracy == 1 && res.trials[1].val_accuracy == 1);
    assert_true(res.lambda == 1e-4); /* a tie: the larger λ */
    assert_int_equal(res.n_val, 24);
}

static void test_probe_errors(void **state) {
    enum { N = 20, D = 2 };
    double x[N * D];
    int32_t y[N];
    for (size_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 2);
        x[i * D] = (double)i;
        x[i * D + 1] = y[i];
    }
    ProbeOptions opt;
    probe_default_options(&opt);
    ProbeResult res = {.lambda = 42};
    Err err;
    assert_error(linear_probe(x, y, N, x, y, N, D, 1, &opt, &res, &err), "n_classes is 1");
    assert_error(linear_probe(x, y, N, x, y, N, D, 3, &opt, &res, &err), "class 2 has no training row");
    assert_error(linear_probe(x, y, N, x, y, N, 0, 2, &opt, &res, &err), "dimension d is 0");
    assert_error(linear_probe(x, y, N, x, y, 0, D, 2, &opt, &res, &err), "no test rows");
    assert_error(linear_probe(NULL, y, N, x, y, N, D, 2, &opt, &res, &err), "NULL");
    assert_error(linear_probe(x, y, N, x, NULL, N, D, 2, &opt, &res, &err), "NULL");
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, NULL, &err), "NULL");
    assert_error(linear_probe(x, y, 4, x, y, N, D, 2, &opt, &res, &err), "holds out 0 of 4"); /* 0.4 rounds to 0 */
    opt.val_fraction = 0.99;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "holds out 20 of 20");
    opt.val_fraction = 0;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "outside (0, 1)");
    opt.val_fraction = NAN;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "outside (0, 1)");
    probe_default_options(&opt);
    double lambdas[PROBE_MAX_LAMBDAS + 1] = {1e-3, 0, 1};
    opt.lambdas = lambdas;
    opt.n_lambdas = 3;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "lambda 1 is 0");
    lambdas[1] = INFINITY;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "lambda 1 is inf");
    lambdas[1] = 1e-2;
    opt.n_lambdas = PROBE_MAX_LAMBDAS + 1;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "at most 16");
    opt.n_lambdas = 0;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "NULL exactly when n_lambdas is 0");
    probe_default_options(&opt);
    opt.max_iter = 0;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "max_iter 0");
    probe_default_options(&opt);
    opt.tol = -1;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "tol -1");
    probe_default_options(&opt);
    y[7] = 2;
    assert_error(linear_probe(x, y, N, x, y, N, D, 2, &opt, &res, &err), "training row 7 has label 2");
    y[7] = 1;
    x[2 * D + 1] = NAN;
    assert_error(linear_probe(x + D, y, N - 1, x, y, N, D, 2, &opt, &res, &err), "training row 1, feature 1");
    assert_error(linear_probe(x + 4 * D, y, N - 4, x, y, N, D, 2, &opt, &res, &err), "test row 2, feature 1");
    x[2 * D + 1] = 0;
    assert_true(res.lambda == 42); /* untouched by every refusal */
    /* Class 1 has a single row; holding it out leaves a fit without it. Find a seed that does. */
    int32_t rare[N] = {0};
    rare[5] = 1;
    opt.val_fraction = 0.5;
    int refused = 0;
    for (uint64_t seed = 0; seed < 10 && !refused; seed++) {
        opt.seed = seed;
        err.msg[0] = 0;
        if (linear_probe(x, rare, N, x, rare, N, D, 2, &opt, &res, &err) != 0) {
            refused = 1;
            assert_non_null(strstr(err.msg, "class 1 has no row among the 10 rows left to fit"));
        }
    }
    assert_true(refused);
}

/* ------------------------------------------------------------------ Inception Score */

static void test_inception_score_matches_numpy(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "is_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 4);
    const int32_t *dm = dims->data;
    const double *want_mean = tf_f64(tf, "is_mean", cases), *want_std = tf_f64(tf, "is_std", cases);
    double worst = 0;
    for (size_t c = 0; c < cases; c++) {
        size_t n = (size_t)dm[3 * c], splits = (size_t)dm[3 * c + 2];
        int k = dm[3 * c + 1];
        const double *p = f64_named(tf, "is", c, "probs", n * (size_t)k);
        double mean, std;
        Err err = {{0}};
        if (inception_score(p, n, k, splits, &mean, &std, &err) != 0) fail_msg("case %zu: %s", c, err.msg);
        /* A std of 0 (one split, or equal scores) is compared against 1e-3 of the mean instead. */
        double em = fabs(mean - want_mean[c]) / want_mean[c];
        double es = fabs(std - want_std[c]) / fmax(want_std[c], 1e-3 * want_mean[c]);
        printf("  IS case %zu  %zu × %d, %zu splits  IS %.12g ± %.6g  rel err mean %.1e std %.1e\n", c, n, k, splits,
               mean, std, em, es);
        if (!(em <= 1e-12 && es <= 1e-12))
            fail_msg("case %zu: IS %.15g ± %.15g, numpy %.15g ± %.15g", c, mean, std, want_mean[c], want_std[c]);
        worst = fmax(worst, fmax(em, es));
    }
    printf("  IS: %zu cases, worst relative error %.1e\n", cases, worst);
    tf_free(tf);
}

/* Two one-hot rows of different classes in one split: p_y = (½, ½), each KL = log 2 → IS 2.
 * Identical rows: KL 0 → IS 1. Splits {a, b} of those: scores 1 and 2 → 1.5 ± 0.5. */
static void test_inception_score_by_hand(void **state) {
    const double two_classes[] = {1, 0, 0, 1}, same[] = {0.3, 0.7, 0.3, 0.7};
    const double mixed[] = {0.3, 0.7, 0.3, 0.7, 1, 0, 0, 1}; /* splits of 4 rows: {0, 1}, {2, 3} */
    double mean, std;
    Err err = {{0}};
    assert_int_equal(inception_score(two_classes, 2, 2, 1, &mean, &std, &err), 0);
    assert_near(mean, 2, 1e-15);
    assert_near(std, 0, 0);
    assert_int_equal(inception_score(same, 2, 2, 1, &mean, &std, &err), 0);
    assert_near(mean, 1, 1e-15);
    assert_int_equal(inception_score(mixed, 4, 2, 2, &mean, &std, &err), 0);
    assert_near(mean, 1.5, 1e-15);
    assert_near(std, 0.5, 1e-15);
    /* 5 rows in 2 splits: rows [0, 2) and [2, 5). */
    const double five[] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 1};
    assert_int_equal(inception_score(five, 5, 2, 2, &mean, &std, &err), 0);
    double third = exp(-(1.0 / 3) * log(1.0 / 3) - (2.0 / 3) * log(2.0 / 3)); /* {1, 0}, {0, 1}, {0, 1} */
    assert_near(mean, (1 + third) / 2, 1e-15);
    assert_near(std, (third - 1) / 2, 1e-15);
    /* The smallest subnormal over 3 rows: its mean rounds to 0, the score must stay finite (1). */
    const double tiny[] = {4.9e-324, 1, 0, 1, 0, 1};
    assert_int_equal(inception_score(tiny, 3, 2, 1, &mean, &std, &err), 0);
    assert_near(mean, 1, 1e-15);
}

static void test_inception_score_errors(void **state) {
    double p[3 * 2] = {0.5, 0.5, 1, 0, 0.25, 0.75}, mean = 42, std = 42;
    Err err;
    assert_error(inception_score(p, 3, 2, 0, &mean, &std, &err), "splits is 0");
    assert_error(inception_score(p, 3, 2, 4, &mean, &std, &err), "4 splits of 3 rows");
    assert_error(inception_score(p, 3, 1, 1, &mean, &std, &err), "n_classes is 1");
    assert_error(inception_score(NULL, 3, 2, 1, &mean, &std, &err), "NULL");
    assert_error(inception_score(p, 3, 2, 1, NULL, &std, &err), "NULL");
    p[4] = 0.25 + 2e-6;
    assert_error(inception_score(p, 3, 2, 1, &mean, &std, &err), "row 2 sums to");
    p[4] = 0.25 + 5e-7; /* within 1e-6: accepted */
    assert_int_equal(inception_score(p, 3, 2, 1, &mean, &std, &err), 0);
    mean = std = 42;
    p[2] = -0.0;
    p[3] = 1; /* −0 is not negative */
    assert_int_equal(inception_score(p, 3, 2, 1, &mean, &std, &err), 0);
    mean = std = 42;
    p[2] = 1.5;
    p[3] = -0.5;
    assert_error(inception_score(p, 3, 2, 1, &mean, &std, &err), "row 1, class 1 is -0.5");
    p[2] = NAN;
    assert_error(inception_score(p, 3, 2, 1, &mean, &std, &err), "row 1, class 0 is nan");
    assert_true(mean == 42 && std == 42);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lbfgs_quadratic_and_rosenbrock),
        cmocka_unit_test(test_lbfgs_stopping_rules),
        cmocka_unit_test(test_logreg_matches_sklearn),
        cmocka_unit_test(test_logreg_errors),
        cmocka_unit_test(test_probe_matches_sklearn),
        cmocka_unit_test(test_probe_separable_is_exact),
        cmocka_unit_test(test_probe_errors),
        cmocka_unit_test(test_inception_score_matches_numpy),
        cmocka_unit_test(test_inception_score_by_hand),
        cmocka_unit_test(test_inception_score_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
