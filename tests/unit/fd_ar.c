/* fd_ar: the gradients of the AR model's GPT (train/gpt.c) fed RAR's permuted sequences
 * (train/ar.c's ar_sequence) against central finite differences of its own loss, in
 * double precision: above all the two position tables, wpe (the row of each token's own
 * grid position) and wta (the target-aware row of the position each slot predicts),
 * whose gradients are scattered by per-sample row ids, and with them every other
 * parameter.
 *
 * The Makefile builds nn/ and train/gpt.c in double for the fd_* tests; ar_sequence and
 * ar_gpt_config handle no scalars, so the float build's serve.
 *
 * A batch of three samples over a 2×3 grid: one in raster order (order NULL), two in
 * random orders, one with the null class. The function differenced is the model's loss
 * (mean cross-entropy over all slots); every element of every parameter tensor is moved
 * by ±h, h = 1e-5, and the error |analytic − fd| / max(|analytic|, |fd|, FLOOR·max|analytic|
 * over the tensor), FLOOR = 1e-2, is bounded by TOL. The loss is a sum over the whole batch,
 * so the rounding of every slot enters each difference: ~1e-16·|L|/h ~ 1e-11, against
 * gradients of 1e-3 and more; truncation is h²·L'''/6 ~ 1e-11. Gradient buffers start
 * non-zero: backward must add into them. Rows no slot reads (wta's last row, wpe rows of
 * codes only ever predicted) must get exactly 0, and every row a slot reads a non-zero
 * gradient. Cases: target-aware, with QK-norm, with tanh GELU, and without wta. */
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
#include "../../nn/attention.h"
#include "../../train/gpt.h"
#include "../../train/gpt_layout.h"
#include "../../train/ar.h"

_Static_assert(sizeof(scalar) == sizeof(double), "fd_ar needs the double build (-DNN_DOUBLE)");

#define H_STEP 1e-5
#define FLOOR 1e-2
#define TOL 1e-6

static double worst_overall;
static size_t checked_overall;

typedef struct {
    const char *label;
    ArShape s;
    int gelu_tanh;
    uint64_t seed;
} Case;

static void run(const Case *k) {
    const ArShape *s = &k->s;
    enum { B = 3 };
    size_t N = ar_seq(s), C = s->width;
    GptConfig gc = ar_gpt_config(s, k->gelu_tanh);
    Gpt g;
    gpt_create(&g, &gc);
    Rng r;
    rng_seed(&r, k->seed);
    /* Weights of order 0.3 (GPT-2's 0.02 would leave the loss nearly flat), gains near 1. */
    for (size_t i = 0; i < g.table.n; i++) {
        const char *name = g.specs[i].name, *dot = strchr(name, '.');
        const char *base = dot ? dot + 1 : name;
        int gain = !strcmp(base, "ln1w") || !strcmp(base, "ln2w") || !strcmp(base, "lnfw");
        double *p = g.params + g.table.offsets[i];
        for (size_t j = 0; j < g.specs[i].count; j++) p[j] = gain ? 1 + 0.1 * rng_normal(&r) : 0.3 * rng_normal(&r);
    }

    int32_t *codes = malloc(N * sizeof *codes), *order = malloc(N * sizeof *order);
    int32_t *inputs = malloc(B * N * sizeof *inputs), *positions = malloc(B * N * sizeof *positions);
    int32_t *target_positions = malloc(B * N * sizeof *target_positions), *targets = malloc(B * N * sizeof *targets);
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < N; t++) codes[t] = (int32_t)rng_below(&r, s->K), order[t] = (int32_t)t;
        for (size_t t = N - 1; t > 0; t--) {
            size_t j = (size_t)rng_below(&r, t + 1);
            int32_t tmp = order[t];
            order[t] = order[j], order[j] = tmp;
        }
        int32_t cls = b == 2 ? ar_null_id(s) : ar_class_id(s, b);
        size_t o = b * N;
        ar_sequence(N, codes, cls, b == 0 ? NULL : order, inputs + o, positions + o, target_positions + o, targets + o);
    }
    uint8_t *mask = malloc(N * N);
    attention_causal_mask(mask, N);
    GptBatch batch = {.inputs = inputs, .positions = positions, .target_positions = target_positions,
                      .targets = targets, .mask = mask, .B = B, .T = N};

    size_t total = g.table.total;
    double *start = malloc(total * sizeof *start);
    for (size_t i = 0; i < total; i++) start[i] = g.grads[i] = rng_normal(&r);
    gpt_forward_batch(&g, &batch);
    gpt_backward(&g);
    double *analytic = malloc(total * sizeof *analytic);
    for (size_t i = 0; i < total; i++) analytic[i] = g.grads[i] - start[i];

    double worst_rest = 0;
    size_t rest = 0;
    for (size_t ti = 0; ti < g.table.n; ti++) {
        size_t off = g.table.offsets[ti], n = g.specs[ti].count;
        double top = 0, worst = 0;
        for (size_t i = 0; i < n; i++) top = fmax(top, fabs(analytic[off + i]));
        for (size_t i = 0; i < n; i++) {
            double *p = g.params + off + i, v = *p, f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                *p = sgn ? v - H_STEP : v + H_STEP;
                f[sgn] = gpt_forward_batch(&g, &batch);
            }
            *p = v;
            double fd = (f[0] - f[1]) / (2 * H_STEP), an = analytic[off + i];
            double e = fabs(an - fd) / fmax(fmax(fabs(an), fabs(fd)), FLOOR * top);
            if (an == 0 && fd == 0) e = 0; /* an unread element: both exactly 0 */
            if (!(e <= TOL))
                fail_msg("%s: d%s[%zu]: analytic %.12g, finite difference %.12g (rel error %.3g)", k->label,
                         g.specs[ti].name, i, an, fd, e);
            worst = fmax(worst, e);
        }
        checked_overall += n;
        worst_overall = fmax(worst_overall, worst);
        if (ti == P_WTE || ti == P_WPE || (gc.target_aware && ti == P_WTA))
            printf("  %-28s d%-5s %5zu elements  max rel error %.2e\n", k->label, g.specs[ti].name, n, worst);
        else
            worst_rest = fmax(worst_rest, worst), rest += n;
    }
    printf("  %-28s the other %zu tensors, %zu elements  max rel error %.2e\n", k->label,
           g.table.n - head_params(&gc), rest, worst_rest);

    /* Which table rows the batch reads: wpe at positions, wta at target positions. Exactly
     * those rows have a gradient; the finite differences above agreed with it elementwise. */
    size_t rows = position_rows(&gc);
    assert_int_equal(rows, N + 1);
    for (int table = P_WPE; table <= (gc.target_aware ? P_WTA : P_WPE); table++) {
        const int32_t *ids = table == P_WPE ? positions : target_positions;
        const double *grad = analytic + g.table.offsets[table];
        size_t unread = 0;
        for (size_t row = 0; row < rows; row++) {
            int read = 0;
            for (size_t i = 0; i < B * N; i++) read |= (size_t)ids[i] == row;
            double norm = 0;
            for (size_t c = 0; c < C; c++) norm += fabs(grad[row * C + c]);
            if (read && norm == 0) fail_msg("%s: %s row %zu is read but has no gradient", k->label, g.specs[table].name, row);
            if (!read && norm != 0) fail_msg("%s: %s row %zu is read by no slot but has a gradient", k->label, g.specs[table].name, row);
            unread += !read;
        }
        /* wta's row N is never a target; a wpe row is unread when every sample predicts
         * that position last (and there is always one such row per sample's order). */
        if (table == P_WTA) assert_true(unread >= 1);
    }
    free(analytic);
    free(start);
    free(mask);
    free(codes);
    free(order);
    free(inputs);
    free(positions);
    free(target_positions);
    free(targets);
    gpt_free(&g);
}

#define SHAPE(qk, ta) {.K = 7, .classes = 2, .grid_h = 2, .grid_w = 3, .layers = 2, .heads = 2, .width = 8, \
                       .qk_norm = (qk), .target_aware = (ta)}

static void test_target_aware(void **state) { run(&(Case){"target-aware", SHAPE(0, 1), 0, 1}); }
static void test_target_aware_qknorm(void **state) { run(&(Case){"target-aware, QK-norm", SHAPE(1, 1), 0, 2}); }
static void test_target_aware_tanh(void **state) { run(&(Case){"target-aware, tanh GELU", SHAPE(0, 1), 1, 3}); }
static void test_plain(void **state) { run(&(Case){"no wta", SHAPE(0, 0), 0, 4}); }

static void test_summary(void **state) {
    printf("  %zu gradient elements checked, worst relative error %.2e (limit %.0e, h %.0e, floor %.0e)\n",
           checked_overall, worst_overall, TOL, H_STEP, FLOOR);
    assert_true(checked_overall > 0 && worst_overall <= TOL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_aware),
        cmocka_unit_test(test_target_aware_qknorm),
        cmocka_unit_test(test_target_aware_tanh),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
