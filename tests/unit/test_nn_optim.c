/* test_nn_optim: nn/adamw, nn/clip, nn/schedule and nn/ema against PyTorch.
 *
 * The fixture (tests/ref/ref_optim.py, TESSERA_REF/optim.tsr) holds 10 steps of
 * torch.optim.AdamW with a no-decay parameter group, clip_grad_norm_ at max_norm 1.0 and
 * a warmup + cosine learning rate, on fixed per-step gradients, plus an EMA of the
 * weights. Here the same steps run on ONE flat buffer laid out by a ParamTable: per step
 * clip (norm vs torch's, clipped gradients), lr = schedule_lr(step) (steps from 0),
 * adamw_step(t_step = step + 1), ema_update; parameters and EMA are compared after every
 * step.
 *
 * Tolerances (float32): parameters, EMA, clipped gradients and norms ≤ 1e-5 in relative
 * error |got - want| / max(|want|, 1e-2 · max|want|); learning rates (double) ≤ 1e-12. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../nn/adamw.h"
#include "../../nn/clip.h"
#include "../../nn/ema.h"
#include "../../nn/params.h"
#include "../../nn/schedule.h"
#include "tensorfile.h"

_Static_assert(sizeof(scalar) == sizeof(float), "test_nn_optim compares float buffers; build without NN_DOUBLE");

#define TOL 1e-5
#define TOL_LR 1e-12
#define FLOOR_FRACTION 1e-2
enum { STEPS = 10 };

/* The model of ref_optim.py's SPECS, in the same order. */
static const ParamSpec specs[] = {
    {"w1", 8 * 5, 0}, {"b1", 8, PARAM_NO_DECAY}, {"norm.weight", 8, PARAM_NO_DECAY}, {"w2", 3 * 8, 0},
    {"b2", 3, PARAM_NO_DECAY},
};
static const Schedule cosine = {SCHEDULE_COSINE, 1e-2, 3, 10, 0.1};
static const AdamWConfig adamw = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};

static TensorFile *load_fixture(void) { return tf_load_ref("optim.tsr"); }


static double worst;

static void check(int step, const char *what, const float *got, const float *want, size_t n) {
    double top = 0;
    for (size_t i = 0; i < n; i++) top = fmax(top, fabs((double)want[i]));
    double e = max_rel_error(got, want, n, FLOOR_FRACTION * top + 1e-30);
    if (e > worst) worst = e;
    if (!(e <= TOL)) fail_msg("step %d: %s: max relative error %.3g > %.0g", step, what, e, TOL);
}

static void test_ten_steps_match_torch(void **state) {
    TensorFile *tf = load_fixture();
    ParamTable t;
    param_table_init(&t, specs, sizeof specs / sizeof *specs);
    size_t n = t.total;
    scalar *params = param_table_alloc(&t), *grads = param_table_alloc(&t), *m = param_table_alloc(&t),
           *v = param_table_alloc(&t), *ema = param_table_alloc(&t);
    memcpy(params, tf_f32(tf, "params0", n), n * sizeof *params);
    memcpy(ema, params, n * sizeof *ema);
    const float *all_grads = tf_f32(tf, "grads", STEPS * n), *clipped = tf_f32(tf, "clipped", STEPS * n);
    const float *norms = tf_f32(tf, "norms", STEPS), *want = tf_f32(tf, "params", STEPS * n);
    const float *want_ema = tf_f32(tf, "ema", STEPS * n);
    const double *lrs = tf_f64(tf, "lrs", STEPS);
    int n_clipped = 0;
    for (int step = 0; step < STEPS; step++) {
        memcpy(grads, all_grads + step * n, n * sizeof *grads);
        float norm = (float)clip_grad_norm(grads, n, 1.0);
        n_clipped += norm > 1.0f;
        check(step, "grad norm", &norm, &norms[step], 1);
        check(step, "clipped grads", grads, clipped + step * n, n);
        double lr = schedule_lr(&cosine, step);
        if (!(fabs(lr - lrs[step]) <= TOL_LR * lrs[step]))
            fail_msg("step %d: lr %.17g, torch %.17g", step, lr, lrs[step]);
        adamw_step(params, m, v, grads, &t, &adamw, lr, step + 1);
        ema_update(ema, params, n, 0.8);
        check(step, "params", params, want + step * n, n);
        check(step, "ema", ema, want_ema + step * n, n);
    }
    /* The fixture must exercise both branches of the clip. */
    assert_true(n_clipped > 0 && n_clipped < STEPS);
    printf("  10 steps: params, EMA, clipped grads, norms: worst rel error %.2e (limit %.0e); %d/%d steps clipped\n",
           worst, TOL, n_clipped, STEPS);
    free(params), free(grads), free(m), free(v), free(ema);
    param_table_free(&t);
    tf_free(tf);
}

/* No-decay tensors really get none: with zero gradients Adam's step is 0, so only the
 * decay moves the parameters. */
static void test_no_decay_tensors_are_not_decayed(void **state) {
    ParamTable t;
    param_table_init(&t, specs, sizeof specs / sizeof *specs);
    scalar *params = param_table_alloc(&t), *grads = param_table_alloc(&t), *m = param_table_alloc(&t),
           *v = param_table_alloc(&t);
    for (size_t i = 0; i < t.total; i++) params[i] = 1;
    adamw_step(params, m, v, grads, &t, &adamw, 0.5, 1);
    for (size_t k = 0; k < t.n; k++) {
        float expect = specs[k].flags & PARAM_NO_DECAY ? 1.0f : 1.0f - 0.5f * 0.1f;
        for (size_t i = 0; i < specs[k].count; i++) assert_float_equal(params[t.offsets[k] + i], expect, 1e-7);
    }
    free(params), free(grads), free(m), free(v);
    param_table_free(&t);
}

static void test_schedules(void **state) {
    TensorFile *tf = load_fixture();
    const double *want_cos = tf_f64(tf, "sched_cosine", 16), *want_const = tf_f64(tf, "sched_constant", 16);
    Schedule constant = cosine;
    constant.kind = SCHEDULE_CONSTANT;
    for (long s = 0; s < 16; s++) {
        assert_true(fabs(schedule_lr(&cosine, s) - want_cos[s]) <= TOL_LR * want_cos[s]);
        assert_true(fabs(schedule_lr(&constant, s) - want_const[s]) <= TOL_LR * want_const[s]);
    }
    /* Pinned by hand: step 0 is the first warmup step, the peak right after warmup, the
     * floor from total_steps on. */
    assert_true(fabs(schedule_lr(&cosine, 0) - 1e-2 / 3) < 1e-15);
    assert_true(fabs(schedule_lr(&cosine, 3) - 1e-2) < 1e-15);
    assert_true(fabs(schedule_lr(&cosine, 10) - 1e-3) < 1e-15);
    assert_true(fabs(schedule_lr(&cosine, 1000) - 1e-3) < 1e-15);
    Schedule no_warmup = {SCHEDULE_COSINE, 1.0, 0, 4, 0.0};
    assert_true(fabs(schedule_lr(&no_warmup, 0) - 1.0) < 1e-15);
    assert_true(fabs(schedule_lr(&no_warmup, 2) - 0.5) < 1e-15);
    assert_true(fabs(schedule_lr(&no_warmup, 4)) < 1e-15);
    tf_free(tf);
}

static void test_clip_edges(void **state) {
    scalar g[4] = {0, 0, 0, 0};
    assert_float_equal(clip_grad_norm(g, 4, 1.0), 0.0, 0); /* zero gradients stay zero, no NaN */
    for (int i = 0; i < 4; i++) assert_float_equal(g[i], 0.0f, 0);
    scalar h[2] = {3, 4}; /* norm 5 → scaled by 1 / (5 + 1e-6) */
    assert_float_equal(clip_grad_norm(h, 2, 1.0), 5.0, 1e-12);
    assert_float_equal(h[0], 3.0 / (5 + 1e-6), 1e-7);
    assert_float_equal(h[1], 4.0 / (5 + 1e-6), 1e-7);
    scalar k[2] = {0.3f, 0.4f}; /* under max_norm: untouched */
    assert_float_equal(clip_grad_norm(k, 2, 1.0), 0.5, 1e-7);
    assert_true(k[0] == 0.3f && k[1] == 0.4f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_steps_match_torch),
        cmocka_unit_test(test_no_decay_tensors_are_not_decayed),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clip_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
