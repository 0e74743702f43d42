/* fd_quantizer: quantizer_backward against central finite differences, in double
 * precision (this file and nn/ are built with -DNN_DOUBLE).
 *
 * The codes are an argmin, held fixed: every perturbation must leave them unchanged
 * (asserted). The straight-through estimator is a definition, not a derivative of zq's
 * value (which does not move with z), so the functions differenced are the ones whose true
 * gradients backward must return, with mse = mean((zn - en)²) from quantizer_forward run
 * with beta 1 and no codebook term, and s the loss scale:
 *
 *   dz        = d/dz  [ sum(zn · R) + s · beta · mse ]   (R: dzq; zn as a function of z,
 *                                                        l2-normalized when "normalize")
 *   dcodebook = d/de  [ s · codebook_loss · mse ]        (sg(zn) - en: only this term
 *                                                        reaches the codebook)
 *
 * sum(zn · R) is the test's own few lines of normalization. s is drawn around N·D so that
 * the loss's share of dz is O(1) like R's, not hidden under the floor. Every element of z
 * and the codebook is moved by ±h (h = 1e-6), and only the rows it reaches are evaluated
 * (z's own row, or the rows assigned to the code, each by quantizer_forward on that row), so
 * the others cancel exactly rather than add the rounding of an N·D-term sum to every
 * difference (that rounding alone reached 1e-6 relative). The error is |analytic - fd| /
 * max(|analytic|, |fd|, FLOOR), FLOOR = 1e-2, bounded by 1e-6. Gradient buffers start
 * non-zero, so backward must add into them; with codebook_loss 0 dcodebook is NULL or must
 * come back untouched. Shapes: the layer's usual ones, K = 1, D = 1 (normalized, every
 * vector is ±1 and its gradient 0), 260 rows (two distance chunks) and random odd ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/rng.h"
#include "../../nn/quantizer.h"

_Static_assert(sizeof(scalar) == sizeof(double), "fd_quantizer needs the double build (-DNN_DOUBLE)");

#define H_STEP 1e-6
#define FLOOR 1e-2
#define TOL 1e-6

static double worst_overall, worst_abs_overall;
static size_t checked_overall;

typedef struct {
    QuantizerConfig q;
    size_t N;
    double loss_scale;
    double *z, *codebook, *R, *zq, *scratch;
    int32_t *codes, *codes_moved;
} Case;

static double *alloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void fill_normal(Rng *r, double *p, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(r);
}

static int pick(Rng *r, int lo, int hi) { return lo + (int)rng_below(r, (uint64_t)(hi - lo + 1)); }

static QuantizerConfig mse_only(const QuantizerConfig *q) {
    QuantizerConfig m = *q;
    m.beta = 1, m.codebook_loss = 0;
    return m;
}

/* Row i's share of mse, ||zn_i - en_{codes[i]}||² / (N·D), by quantizer_forward on that row
 * alone; the row's code must be the one backward used. */
static double row_mse(Case *c, size_t i, const char *label, const char *what, size_t at) {
    QuantizerConfig plain = mse_only(&c->q);
    size_t D = (size_t)c->q.D;
    int32_t code;
    double m = quantizer_forward(c->zq, &code, c->scratch, c->z + i * D, c->codebook, 1, &plain);
    if (code != c->codes[i])
        fail_msg("%s: moving %s[%zu] by %g changed code %zu: pick another seed", label, what, at, H_STEP, i);
    return m / (double)c->N;
}

/* sum(zn_i · R_i) for row i, normalized here independently of nn/quantizer.c. */
static double st_row(const Case *c, size_t i) {
    size_t D = (size_t)c->q.D;
    const double *zi = c->z + i * D, *Ri = c->R + i * D;
    double norm = 0, dot = 0;
    for (size_t d = 0; d < D; d++) norm += zi[d] * zi[d], dot += zi[d] * Ri[d];
    return c->q.normalize ? dot / fmax(sqrt(norm), 1e-12) : dot;
}

/* The part of the differenced function that element `at` of z (is_z) or of the codebook
 * reaches: z's row, or the rows assigned to the code. Leaving the other rows out makes them
 * cancel exactly, as fd_conv's Σ (out+ - out-)·R does, instead of adding the rounding of
 * a sum over all N·D terms to every difference. Moving a code may not steal any row either:
 * all codes are recomputed and compared. */
static double reached(Case *c, int is_z, size_t at, const char *label, const char *name) {
    size_t D = (size_t)c->q.D;
    if (is_z) {
        size_t i = at / D;
        return st_row(c, i) + c->loss_scale * c->q.beta * row_mse(c, i, label, name, at);
    }
    QuantizerConfig plain = mse_only(&c->q);
    quantizer_encode(c->codes_moved, c->scratch, c->z, c->codebook, c->N, &plain);
    if (memcmp(c->codes_moved, c->codes, c->N * sizeof *c->codes) != 0)
        fail_msg("%s: moving %s[%zu] by %g changed a code: pick another seed", label, name, at, H_STEP);
    double m = 0;
    for (size_t i = 0; i < c->N; i++)
        if ((size_t)c->codes[i] == at / D) m += row_mse(c, i, label, name, at);
    return c->loss_scale * (c->q.codebook_loss ? 1 : 0) * m;
}

static double worst_of(const char *label, const char *name, double *val, size_t n, const double *grad,
                       const double *start, Case *c, int is_z) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double v = val[i], f[2];
        for (int s = 0; s < 2; s++) {
            val[i] = s ? v - H_STEP : v + H_STEP;
            f[s] = reached(c, is_z, i, label, name);
        }
        val[i] = v;
        double fd = (f[0] - f[1]) / (2 * H_STEP), an = grad[i] - start[i];
        double e = fabs(an - fd) / fmax(fmax(fabs(an), fabs(fd)), FLOOR);
        if (e > worst) worst = e;
        if (fabs(an - fd) > worst_abs_overall) worst_abs_overall = fabs(an - fd);
        if (!(e <= TOL))
            fail_msg("%s: d%s[%zu]: analytic %.12g, finite difference %.12g (rel error %.3g)", label, name, i, an, fd,
                     e);
    }
    printf("  %-52s d%-8s %5zu elements  max rel error %.2e\n", label, name, n, worst);
    checked_overall += n;
    return worst;
}

/* with_dcodebook 0 passes dcodebook = NULL (allowed without codebook_loss only). */
static void run(Rng *r, size_t N, int K, int D, int normalize, int codebook_loss, int with_dcodebook) {
    Case c = {.q = {.K = K, .D = D, .normalize = normalize, .codebook_loss = codebook_loss}, .N = N};
    c.q.beta = 0.1 + 0.9 * rng_float(r);
    size_t nz = N * (size_t)D, ne = (size_t)K * D;
    c.loss_scale = (double)nz * (0.5 + 1.5 * rng_float(r));
    c.z = alloc(nz), c.codebook = alloc(ne), c.R = alloc(nz), c.zq = alloc(nz);
    c.scratch = alloc(quantizer_scratch_size(N, &c.q));
    c.codes = calloc(N, sizeof *c.codes), c.codes_moved = calloc(N, sizeof *c.codes);
    assert_non_null(c.codes), assert_non_null(c.codes_moved);
    fill_normal(r, c.z, nz, 1.0);
    fill_normal(r, c.codebook, ne, 1.0);
    fill_normal(r, c.R, nz, 1.0);
    double *dz = alloc(nz), *de = alloc(ne), *dz0 = alloc(nz), *de0 = alloc(ne);
    fill_normal(r, dz0, nz, 1.0);
    fill_normal(r, de0, ne, 1.0);
    memcpy(dz, dz0, nz * sizeof *dz), memcpy(de, de0, ne * sizeof *de);

    double loss = quantizer_forward(c.zq, c.codes, c.scratch, c.z, c.codebook, N, &c.q);
    quantizer_backward(dz, with_dcodebook ? de : NULL, c.R, c.z, c.codebook, c.codes, N, c.loss_scale, &c.q);
    char label[160];
    snprintf(label, sizeof label, "N%zu K%d D%d%s%s%s beta %.2f", N, K, D, normalize ? " normalized" : "",
             codebook_loss ? " codebook-loss" : " ema", codebook_loss || with_dcodebook ? "" : " (NULL dcb)",
             c.q.beta);
    /* The loss forward returns is (beta + codebook_loss) · mse, and mse the sum of the rows' shares. */
    double m = 0;
    for (size_t i = 0; i < N; i++) m += row_mse(&c, i, label, "nothing", 0);
    assert_true(fabs(loss - (c.q.beta + codebook_loss) * m) <= 1e-13 * fmax(fabs(loss), 1));

    double worst = worst_of(label, "z", c.z, nz, dz, dz0, &c, 1);
    if (with_dcodebook) {
        double w = worst_of(label, "codebook", c.codebook, ne, de, de0, &c, 0);
        if (w > worst) worst = w;
        if (!codebook_loss) assert_memory_equal(de, de0, ne * sizeof *de);
    }
    if (worst > worst_overall) worst_overall = worst;
    free(c.z), free(c.codebook), free(c.R), free(c.zq), free(c.scratch), free(c.codes), free(c.codes_moved);
    free(dz), free(de), free(dz0), free(de0);
}

static void test_fixed_shapes(void **state) {
    Rng r;
    rng_seed(&r, 1);
    for (int normalize = 0; normalize <= 1; normalize++) {
        run(&r, 24, 16, 8, normalize, 1, 1);
        run(&r, 24, 16, 8, normalize, 0, 1);
        run(&r, 24, 16, 8, normalize, 0, 0);
        run(&r, 37, 11, 5, normalize, 1, 1);
        run(&r, 1, 1, 1, normalize, 1, 1); /* one vector, one code, one dimension */
        run(&r, 5, 3, 1, normalize, 1, 1); /* D = 1: normalized, every vector is ±1 */
        run(&r, 260, 3, 2, normalize, 1, 1); /* more rows than one distance chunk */
    }
}

static void test_random_shapes(void **state) {
    Rng r;
    rng_seed(&r, 2);
    for (int i = 0; i < 16; i++) {
        int codebook_loss = pick(&r, 0, 1);
        run(&r, (size_t)pick(&r, 1, 20), pick(&r, 1, 9), pick(&r, 1, 7), i % 2, codebook_loss,
            codebook_loss || pick(&r, 0, 1));
    }
}

static void test_report(void **state) {
    printf("  %zu gradient elements checked, worst relative error %.2e (limit %.0e, h %.0e, floor %.0e), "
           "worst absolute error %.2e\n", checked_overall, worst_overall, TOL, H_STEP, FLOOR, worst_abs_overall);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_shapes),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
