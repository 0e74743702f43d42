/* test_eval_metrics: eval/frechet (Fréchet distance), eval/kid (KID) and eval/prdc
 * (precision, recall, density, coverage) on feature matrices.
 *
 * Against tests/ref/ref_eval_metrics.py (TESSERA_REF/eval_metrics.tsr), numpy from the
 * definitions on seeded Gaussian sets with d = 16 and 64, n = 2…500:
 *   - FD to 1e-6 relative (both sides double; numpy's value agrees with the independent
 *     eigvals(Σa Σb) form to 1e-8), identical sets to |FD| ≤ 1e-8·(tr Σa + tr Σb), and the
 *     singular flag on n ≤ d sets;
 *   - KID: the subset indices exactly (numpy reimplements xoshiro256** and the Fisher–Yates
 *     draw), each subset's MMD² and the mean and std to 1e-6 relative;
 *   - PRDC counts exactly, including sets with duplicated rows (ties at radius 0).
 * Also checked here from the definitions: a 1-D closed form for FD, symmetry, the flag on
 * collinear features, a hand-computed MMD², kid() against kid_mmd2_unbiased over
 * kid_subsets(), hand-computed PRDC counts in 1-D, and every error path. */
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
#include "../../eval/frechet.h"
#include "../../eval/kid.h"
#include "../../eval/prdc.h"
#include "assert_near.h"
#include "tensorfile.h"

#define TOL_REL 1e-6



static TensorFile *load_fixture(void) { return tf_load_ref("eval_metrics.tsr"); }


static const double *tensor_named(const TensorFile *tf, const char *fmt, size_t i, const char *suffix, size_t count) {
    char name[64];
    snprintf(name, sizeof name, fmt, i, suffix);
    return tf_f64(tf, name, count);
}

static double *gaussian(size_t n, size_t d, double shift, double scale, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    double *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n * d; i++) x[i] = shift + scale * rng_normal(&rng);
    return x;
}

static double trace_cov(const double *x, size_t n, size_t d) {
    double t = 0;
    for (size_t j = 0; j < d; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < n; i++) mean += x[i * d + j] / (double)n;
        for (size_t i = 0; i < n; i++) ss += (x[i * d + j] - mean) * (x[i * d + j] - mean);
        t += ss / (double)(n - 1);
    }
    return t;
}

/* ------------------------------------------------------------------ Fréchet distance */

static void test_frechet_matches_numpy(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "fd_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 5);
    const int32_t *dm = dims->data;
    const double *want = tf_f64(tf, "fd", cases);
    const int32_t *want_singular = tf_i32(tf, "fd_singular", cases);
    double worst = 0;
    int saw_singular = 0, saw_identical = 0;
    for (size_t i = 0; i < cases; i++) {
        size_t na = (size_t)dm[3 * i], nb = (size_t)dm[3 * i + 1], d = (size_t)dm[3 * i + 2];
        const double *a = tensor_named(tf, "fd%zu_%s", i, "a", na * d);
        const double *b = tensor_named(tf, "fd%zu_%s", i, "b", nb * d);
        double fd = -1, scale = trace_cov(a, na, d) + trace_cov(b, nb, d);
        int singular = -1;
        Err err = {{0}};
        if (frechet_distance(a, na, b, nb, d, &fd, &singular, &err) != 0) fail_msg("case %zu: %s", i, err.msg);
        assert_true(isfinite(fd) && fd >= 0);
        assert_int_equal(singular, want_singular[i]);
        saw_singular |= singular;
        if (want[i] <= 1e-10 * scale) { /* identical sets: 0 up to rounding, on both sides */
            saw_identical = 1;
            printf("  fd case %zu  %zux%zu vs %zux%zu  FD %.3e (numpy %.3e), scale %.3g\n", i, na, d, nb, d, fd, want[i],
                   scale);
            if (!(fd <= 1e-8 * scale)) fail_msg("case %zu: identical sets give FD %.3e", i, fd);
            continue;
        }
        double e = fabs(fd - want[i]) / want[i];
        printf("  fd case %zu  %zux%zu vs %zux%zu  FD %.10g  numpy %.10g  rel err %.1e  singular %d\n", i, na, d, nb, d,
               fd, want[i], e, singular);
        if (!(e <= TOL_REL)) fail_msg("case %zu: FD %.12g, numpy %.12g", i, fd, want[i]);
        worst = fmax(worst, e);
    }
    assert_true(saw_singular && saw_identical);
    printf("  FD: %zu cases, worst relative error %.1e\n", cases, worst);
    tf_free(tf);
}

/* d = 1: FD = (μa − μb)² + (σa − σb)², the Gaussians' closed form, with unbiased variances. */
static void test_frechet_one_dimension_closed_form(void **state) {
    const double a[] = {1, 2, 4, 7, 11}, b[] = {-3, 0, 0.5, 2};
    double ma = 5, va = (16 + 9 + 1 + 4 + 36) / 4.0, mb = -0.125;
    double vb = ((-2.875) * (-2.875) + 0.125 * 0.125 + 0.625 * 0.625 + 2.125 * 2.125) / 3.0;
    double want = (ma - mb) * (ma - mb) + (sqrt(va) - sqrt(vb)) * (sqrt(va) - sqrt(vb));
    double fd = -1;
    int singular = -1;
    Err err = {{0}};
    assert_int_equal(frechet_distance(a, 5, b, 4, 1, &fd, &singular, &err), 0);
    assert_near(fd, want, 1e-12 * want);
    assert_int_equal(singular, 0);
}

/* FD(a, a) = 0, FD(a, b) = FD(b, a), and a shift v of one set adds exactly |v|² (the
 * covariances are unchanged). */
static void test_frechet_identity_symmetry_shift(void **state) {
    enum { N = 300, D = 32 };
    double *a = gaussian(N, D, 0, 1, 1), *b = gaussian(N + 20, D, 0.3, 2, 2), *shifted = malloc(N * D * sizeof *a);
    assert_non_null(shifted);
    for (size_t i = 0; i < N * D; i++) b[i] += 0.5 * a[i % (N * D)]; /* correlated features */
    double fd_aa = -1, fd_ab, fd_ba, fd_shift, v2 = 0;
    Err err = {{0}};
    assert_int_equal(frechet_distance(a, N, a, N, D, &fd_aa, NULL, &err), 0);
    assert_true(fd_aa >= 0 && fd_aa <= 1e-8 * 2 * trace_cov(a, N, D));
    assert_int_equal(frechet_distance(a, N, b, N + 20, D, &fd_ab, NULL, &err), 0);
    assert_int_equal(frechet_distance(b, N + 20, a, N, D, &fd_ba, NULL, &err), 0);
    assert_near(fd_ab, fd_ba, 1e-9 * fd_ab);
    for (size_t j = 0; j < D; j++) v2 += (0.1 * (double)j) * (0.1 * (double)j);
    for (size_t i = 0; i < N * D; i++) shifted[i] = a[i] + 0.1 * (double)(i % D);
    assert_int_equal(frechet_distance(a, N, shifted, N, D, &fd_shift, NULL, &err), 0);
    assert_near(fd_shift, v2, 1e-9 * v2);
    free(a);
    free(b);
    free(shifted);
}

/* The flag: n ≤ d in either set, or collinear features (a column repeated) with n > d. */
static void test_frechet_singular_flag(void **state) {
    enum { D = 16 };
    double *a = gaussian(200, D, 0, 1, 3), *b = gaussian(200, D, 1, 1, 4), fd;
    int singular = -1;
    Err err = {{0}};
    assert_int_equal(frechet_distance(a, 200, b, 200, D, &fd, &singular, &err), 0);
    assert_int_equal(singular, 0);
    assert_int_equal(frechet_distance(a, D, b, 200, D, &fd, &singular, &err), 0); /* n = d: rank d − 1 */
    assert_int_equal(singular, 1);
    assert_true(isfinite(fd) && fd > 0);
    assert_int_equal(frechet_distance(a, 200, b, 5, D, &fd, &singular, &err), 0);
    assert_int_equal(singular, 1);
    assert_true(isfinite(fd) && fd > 0);
    assert_int_equal(frechet_distance(a, D + 1, b, D + 1, D, &fd, &singular, &err), 0);
    assert_int_equal(singular, 0);
    for (size_t i = 0; i < 200; i++) a[i * D + 7] = a[i * D + 3];
    assert_int_equal(frechet_distance(a, 200, b, 200, D, &fd, &singular, &err), 0);
    assert_int_equal(singular, 1);
    assert_true(isfinite(fd) && fd > 0);
    free(a);
    free(b);
}

static void test_frechet_errors(void **state) {
    double a[3 * 4] = {0}, b[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, out = 42;
    int singular = 7;
    Err err;
    assert_error(frechet_distance(a, 1, b, 3, 4, &out, &singular, &err), "at least 2 samples");
    assert_error(frechet_distance(a, 3, b, 1, 4, &out, &singular, &err), "at least 2 samples");
    assert_error(frechet_distance(a, 0, b, 3, 4, &out, &singular, &err), "at least 2 samples");
    assert_error(frechet_distance(a, 3, b, 3, 0, &out, &singular, &err), "dimension d is 0");
    assert_error(frechet_distance(NULL, 3, b, 3, 4, &out, &singular, &err), "NULL");
    assert_error(frechet_distance(a, 3, b, 3, 4, NULL, &singular, &err), "NULL");
    b[5] = NAN;
    assert_error(frechet_distance(a, 3, b, 3, 4, &out, &singular, &err), "set b, row 1, feature 1 is not finite");
    b[5] = INFINITY;
    assert_error(frechet_distance(b, 3, a, 3, 4, &out, &singular, &err), "set a, row 1, feature 1 is not finite");
    assert_true(out == 42 && singular == 7);
    /* A NULL Err is allowed: the call still fails. */
    assert_int_equal(frechet_distance(a, 1, b, 3, 4, &out, NULL, NULL), -1);
}

/* ------------------------------------------------------------------ KID */

static void test_kid_matches_numpy(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "kid_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 3);
    const int32_t *dm = dims->data;
    const int64_t *seeds = tf_get(tf, "kid_seed", TF_I64, cases)->data;
    const double *want_mean = tf_f64(tf, "kid_mean", cases), *want_std = tf_f64(tf, "kid_std", cases);
    double worst_mmd = 0, worst_mean = 0;
    for (size_t c = 0; c < cases; c++) {
        size_t na = (size_t)dm[5 * c], nb = (size_t)dm[5 * c + 1], d = (size_t)dm[5 * c + 2];
        size_t S = (size_t)dm[5 * c + 3], m = (size_t)dm[5 * c + 4];
        uint64_t seed = (uint64_t)seeds[c];
        const double *a = tensor_named(tf, "kid%zu_%s", c, "a", na * d);
        const double *b = tensor_named(tf, "kid%zu_%s", c, "b", nb * d);
        const double *want_mmd = tensor_named(tf, "kid%zu_%s", c, "mmd", S);
        char name[32];
        snprintf(name, sizeof name, "kid%zu_ia", c);
        const int32_t *want_ia = tf_i32(tf, name, S * m);
        snprintf(name, sizeof name, "kid%zu_ib", c);
        const int32_t *want_ib = tf_i32(tf, name, S * m);

        size_t *ia = malloc(S * m * sizeof *ia), *ib = malloc(S * m * sizeof *ib);
        double *x = malloc(m * d * sizeof *x), *y = malloc(m * d * sizeof *y);
        assert_true(ia && ib && x && y);
        kid_subsets(na, nb, m, S, seed, ia, ib);
        for (size_t i = 0; i < S * m; i++) {
            if (ia[i] != (size_t)want_ia[i] || ib[i] != (size_t)want_ib[i])
                fail_msg("case %zu: subset index %zu is (%zu, %zu), numpy (%d, %d)", c, i, ia[i], ib[i], want_ia[i],
                         want_ib[i]);
        }
        /* Each subset's MMD² on the fixture's index arrays. */
        for (size_t s = 0; s < S; s++) {
            for (size_t i = 0; i < m; i++) {
                memcpy(x + i * d, a + (size_t)want_ia[s * m + i] * d, d * sizeof *x);
                memcpy(y + i * d, b + (size_t)want_ib[s * m + i] * d, d * sizeof *y);
            }
            double got = kid_mmd2_unbiased(x, m, y, m, d);
            /* Floor 1e-3: one case is drawn from one distribution, so MMD² is near 0 and some
             * subsets' values are tiny differences of terms near 1–10. */
            double e = fabs(got - want_mmd[s]) / fmax(fabs(want_mmd[s]), 1e-3);
            if (!(e <= TOL_REL)) fail_msg("case %zu subset %zu: MMD² %.12g, numpy %.12g", c, s, got, want_mmd[s]);
            worst_mmd = fmax(worst_mmd, e);
        }
        double mean, std;
        Err err = {{0}};
        if (kid(a, na, b, nb, d, S, m, seed, &mean, &std, &err) != 0) fail_msg("case %zu: %s", c, err.msg);
        double em = fabs(mean - want_mean[c]) / fmax(fabs(want_mean[c]), 1e-3);
        double es = fabs(std - want_std[c]) / fmax(want_std[c], 1e-3);
        printf("  kid case %zu  %zu vs %zu, d %zu, %zu×%zu  KID %.8e ± %.4e  rel err mean %.1e std %.1e\n", c, na, nb, d,
               S, m, mean, std, em, es);
        if (!(em <= TOL_REL && es <= TOL_REL))
            fail_msg("case %zu: KID %.12g ± %.12g, numpy %.12g ± %.12g", c, mean, std, want_mean[c], want_std[c]);
        worst_mean = fmax(worst_mean, fmax(em, es));
        free(ia);
        free(ib);
        free(x);
        free(y);
    }
    printf("  KID: %zu cases, worst relative error per-subset MMD² %.1e, mean/std %.1e\n", cases, worst_mmd, worst_mean);
    tf_free(tf);
}

/* m = n = 2, d = 1, by hand: x = {1, 2}, y = {0, 3}. k(p, q) = (pq + 1)³.
 * Kxx off-diagonal 2·27, Kyy off-diagonal 2·1, Kxy = k(1,0) + k(1,3) + k(2,0) + k(2,3)
 * = 1 + 64 + 1 + 343. MMD² = 54/2 + 2/2 − 2·409/4 = −176.5. */
static void test_kid_mmd2_by_hand(void **state) {
    const double x[] = {1, 2}, y[] = {0, 3};
    assert_near(kid_mmd2_unbiased(x, 2, y, 2, 1), 27 + 1 - 204.5, 1e-12);
    /* Unequal sizes use m(m−1) and n(n−1) separately: x = {1, 2}, y = {0, 3, −1}. */
    const double y3[] = {0, 3, -1};
    double kyy = 2 * (1 + 1 - 8);               /* k(0,3) = 1, k(0,−1) = 1, k(3,−1) = (−2)³ = −8 */
    double kxy = 1 + 64 + 0 + 1 + 343 + (-1.0); /* k(1,−1) = 0, k(2,−1) = (−1)³ */
    assert_near(kid_mmd2_unbiased(x, 2, y3, 3, 1), 54.0 / 2 + kyy / 6 - 2 * kxy / 6, 1e-12);
    assert_true(isnan(kid_mmd2_unbiased(x, 1, y, 2, 1)));
    assert_true(isnan(kid_mmd2_unbiased(x, 2, y, 1, 1)));
    assert_true(isnan(kid_mmd2_unbiased(x, 2, y, 2, 0)));
}

/* kid() is the mean and population std of kid_mmd2_unbiased over kid_subsets(); the subsets
 * are in range, without repeats, reproducible from the seed and different across seeds. */
static void test_kid_is_mean_over_subsets(void **state) {
    enum { NA = 150, NB = 120, D = 8, S = 12, M = 50 };
    double *a = gaussian(NA, D, 0, 1, 5), *b = gaussian(NB, D, 0.2, 1.1, 6);
    size_t ia[S * M], ib[S * M], ia2[S * M], ib2[S * M];
    kid_subsets(NA, NB, M, S, 99, ia, ib);
    kid_subsets(NA, NB, M, S, 99, ia2, ib2);
    assert_memory_equal(ia, ia2, sizeof ia);
    assert_memory_equal(ib, ib2, sizeof ib);
    kid_subsets(NA, NB, M, S, 100, ia2, ib2);
    assert_true(memcmp(ia, ia2, sizeof ia) != 0);
    double values[S], sum = 0, x[M * D], y[M * D];
    for (size_t s = 0; s < S; s++) {
        unsigned char seen_a[NA] = {0}, seen_b[NB] = {0};
        for (size_t i = 0; i < M; i++) {
            assert_true(ia[s * M + i] < NA && ib[s * M + i] < NB);
            assert_false(seen_a[ia[s * M + i]]++);
            assert_false(seen_b[ib[s * M + i]]++);
            memcpy(x + i * D, a + ia[s * M + i] * D, sizeof x[0] * D);
            memcpy(y + i * D, b + ib[s * M + i] * D, sizeof y[0] * D);
        }
        values[s] = kid_mmd2_unbiased(x, M, y, M, D);
        sum += values[s];
    }
    double mean = sum / S, var = 0;
    for (size_t s = 0; s < S; s++) var += (values[s] - mean) * (values[s] - mean) / S;
    double got_mean, got_std;
    Err err = {{0}};
    assert_int_equal(kid(a, NA, b, NB, D, S, M, 99, &got_mean, &got_std, &err), 0);
    assert_near(got_mean, mean, 1e-12 * fabs(mean));
    assert_near(got_std, sqrt(var), 1e-12 * sqrt(var));
    /* Subsets of the whole sets (m = na = nb) are permutations: every subset gives one value. */
    assert_int_equal(kid(a, NB, b, NB, D, 4, NB, 3, &got_mean, &got_std, &err), 0);
    assert_near(got_mean, kid_mmd2_unbiased(a, NB, b, NB, D), 1e-12 * fabs(got_mean));
    assert_true(got_std <= 1e-12 * fabs(got_mean));
    free(a);
    free(b);
}

static void test_kid_errors(void **state) {
    double a[10 * 2] = {0}, b[8 * 2] = {0}, mean = 42, std = 42;
    Err err;
    assert_error(kid(a, 10, b, 8, 2, 5, 9, 1, &mean, &std, &err), "exceeds a set");
    assert_error(kid(a, 10, b, 8, 2, 5, 11, 1, &mean, &std, &err), "exceeds a set");
    assert_error(kid(a, 10, b, 8, 2, 5, 1, 1, &mean, &std, &err), "below 2");
    assert_error(kid(a, 10, b, 8, 2, 0, 4, 1, &mean, &std, &err), "n_subsets is 0");
    assert_error(kid(a, 10, b, 8, 0, 5, 4, 1, &mean, &std, &err), "dimension d is 0");
    assert_error(kid(a, 10, NULL, 8, 2, 5, 4, 1, &mean, &std, &err), "NULL");
    assert_error(kid(a, 10, b, 8, 2, 5, 4, 1, &mean, NULL, &err), "NULL");
    a[13] = NAN;
    assert_error(kid(a, 10, b, 8, 2, 5, 4, 1, &mean, &std, &err), "set a, row 6, feature 1 is not finite");
    assert_true(mean == 42 && std == 42);
}

/* ------------------------------------------------------------------ precision, recall, density, coverage */

static void test_prdc_matches_numpy(void **state) {
    TensorFile *tf = load_fixture();
    const TfTensor *dims = tf_get(tf, "prdc_dims", TF_I32, 0);
    size_t cases = dims->dims[0];
    assert_true(cases >= 4);
    const int32_t *dm = dims->data;
    const int64_t *want = tf_get(tf, "prdc_counts", TF_I64, cases * 4)->data;
    for (size_t c = 0; c < cases; c++) {
        size_t nr = (size_t)dm[4 * c], nf = (size_t)dm[4 * c + 1], d = (size_t)dm[4 * c + 2], k = (size_t)dm[4 * c + 3];
        const double *real = tensor_named(tf, "prdc%zu_%s", c, "real", nr * d);
        const double *fake = tensor_named(tf, "prdc%zu_%s", c, "fake", nf * d);
        Prdc p;
        Err err = {{0}};
        if (prdc(real, nr, fake, nf, d, k, &p, &err) != 0) fail_msg("case %zu: %s", c, err.msg);
        const int64_t *w = want + 4 * c;
        printf("  prdc case %zu  %zu real, %zu fake, d %zu, k %zu  counts P/R/D/C %zu %zu %llu %zu  numpy %lld %lld "
               "%lld %lld\n", c, nr, nf, d, k, p.precision_count, p.recall_count, (unsigned long long)p.density_count,
               p.coverage_count, (long long)w[0], (long long)w[1], (long long)w[2], (long long)w[3]);
        assert_int_equal(p.precision_count, w[0]);
        assert_int_equal(p.recall_count, w[1]);
        assert_int_equal(p.density_count, w[2]);
        assert_int_equal(p.coverage_count, w[3]);
        assert_true(p.precision == (double)w[0] / (double)nf);
        assert_true(p.recall == (double)w[1] / (double)nr);
        assert_true(p.density == (double)w[2] / ((double)k * (double)nf));
        assert_true(p.coverage == (double)w[3] / (double)nr);
    }
    tf_free(tf);
}

/* 1-D, k = 1, by hand. real = {0, 1, 3, 10}: radii (nearest other) 1, 1, 2, 7.
 * fake = {0.5, 3, 20, 21}: radii 2.5, 2.5, 1, 1.
 * Precision: 0.5 (in real 0's and 1's balls), 3 (in 1's: |3−1| = 2 > 1 no; 3's own: 0 ≤ 2 yes;
 *   10's: 7 ≤ 7 yes, a tie counts), 20 and 21 (10's ball reaches 17: no) → 2.
 * Density pairs: 0.5 ∈ {0, 1}, 3 ∈ {3, 10}, 0.5 ∈ 3's ball? |0.5−3| = 2.5 > 2 no → 4.
 * Coverage: reals 0, 1, 3, 10 all have a fake in their ball → 4.
 * Recall: 0 (|0−0.5| ≤ 2.5), 1 (0.5 ≤ 2.5), 3 (|3−3| = 0), 10 (|10−3| = 7 > 2.5; 20's radius 1)
 *   → 3. */
static void test_prdc_by_hand(void **state) {
    const double real[] = {0, 1, 3, 10}, fake[] = {0.5, 3, 20, 21};
    Prdc p;
    Err err = {{0}};
    assert_int_equal(prdc(real, 4, fake, 4, 1, 1, &p, &err), 0);
    assert_int_equal(p.precision_count, 2);
    assert_int_equal(p.recall_count, 3);
    assert_int_equal(p.density_count, 4);
    assert_int_equal(p.coverage_count, 4);
    assert_near(p.precision, 0.5, 0);
    assert_near(p.recall, 0.75, 0);
    assert_near(p.density, 1.0, 0);
    assert_near(p.coverage, 1.0, 0);
}

/* A set against itself: every sample is in its own ball (distance 0), so precision, recall and
 * coverage are 1 and density ≥ 1/k; duplicates make radius-0 balls that still hold copies. */
static void test_prdc_identical_and_duplicates(void **state) {
    enum { N = 60, D = 5, K = 3 };
    double *x = gaussian(N, D, 0, 1, 8);
    Prdc p;
    Err err = {{0}};
    assert_int_equal(prdc(x, N, x, N, D, K, &p, &err), 0);
    assert_int_equal(p.precision_count, N);
    assert_int_equal(p.recall_count, N);
    assert_int_equal(p.coverage_count, N);
    /* Each real ball holds its own copy and its k nearest others (no ties in Gaussian data). */
    assert_int_equal(p.density_count, (uint64_t)N * (K + 1));
    /* Four copies of row 0: its ball (k-th nearest other = another copy) has radius 0. A fake
     * set holding only that point is then inside exactly those four real balls (and any other
     * ball reaching it), and its precision is 1. */
    for (size_t r = 1; r < 4; r++) memcpy(x + r * D, x, D * sizeof *x);
    double fake[5 * D];
    for (size_t r = 0; r < 5; r++) memcpy(fake + r * D, x, D * sizeof *x);
    assert_int_equal(prdc(x, N, fake, 5, D, K, &p, &err), 0);
    assert_int_equal(p.precision_count, 5);
    assert_true(p.density_count >= 5 * 4);
    assert_true(p.coverage_count >= 4);
    /* The fake balls all have radius 0, so only exact copies of the point are recalled. */
    assert_int_equal(p.recall_count, 4);
    free(x);
}

static void test_prdc_errors(void **state) {
    double real[4 * 2] = {0}, fake[5 * 2] = {0};
    Prdc p = {.precision_count = 42};
    Err err;
    assert_error(prdc(real, 3, fake, 5, 2, 3, &p, &err), "more than k = 3 samples");
    assert_error(prdc(real, 4, fake, 3, 2, 3, &p, &err), "more than k = 3 samples");
    assert_error(prdc(real, 4, fake, 5, 2, 0, &p, &err), "k is 0");
    assert_error(prdc(real, 4, fake, 5, 0, 3, &p, &err), "dimension d is 0");
    assert_error(prdc(NULL, 4, fake, 5, 2, 3, &p, &err), "NULL");
    assert_error(prdc(real, 4, fake, 5, 2, 3, NULL, &err), "NULL");
    fake[9] = -INFINITY;
    assert_error(prdc(real, 4, fake, 5, 2, 3, &p, &err), "fake set, row 4, feature 1 is not finite");
    assert_int_equal(p.precision_count, 42);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frechet_matches_numpy),
        cmocka_unit_test(test_frechet_one_dimension_closed_form),
        cmocka_unit_test(test_frechet_identity_symmetry_shift),
        cmocka_unit_test(test_frechet_singular_flag),
        cmocka_unit_test(test_frechet_errors),
        cmocka_unit_test(test_kid_matches_numpy),
        cmocka_unit_test(test_kid_mmd2_by_hand),
        cmocka_unit_test(test_kid_is_mean_over_subsets),
        cmocka_unit_test(test_kid_errors),
        cmocka_unit_test(test_prdc_matches_numpy),
        cmocka_unit_test(test_prdc_by_hand),
        cmocka_unit_test(test_prdc_identical_and_duplicates),
        cmocka_unit_test(test_prdc_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
