/* test_gpt: the whole transformer stack (train/gpt.c) against PyTorch
 * (tests/ref/ref_gpt.py): logits and loss ≤ 1e-5, every parameter gradient ≤ 1e-4
 * relative error, with a causal and a per-sample mask; then 10 AdamW steps whose losses
 * agree to ≤ 1e-5 and whose final parameters agree to ≤ 1e-4.
 *
 * A tensor's relative error is max|got - ref| / max|ref| (the ∞-norm relative error);
 * the stricter per-element error, against max(|ref_i|, 1e-2·max|ref|), is printed too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../nn/adamw.h"
#include "../../train/gpt.h"
#include "tensorfile.h"

static TensorFile *load(const char *name) { return tf_load_ref("%s", name); }

static void build(Gpt *g, const TensorFile *tf, int qk_norm) {
    const int32_t *c = tf_i32(tf, "config", 6);
    GptConfig cfg = {.vocab_in = (size_t)c[0], .vocab_out = (size_t)c[1], .max_seq = (size_t)c[2],
                     .layers = (size_t)c[3], .heads = (size_t)c[4], .width = (size_t)c[5], .gelu = GELU_ERF,
                     .qk_norm = qk_norm};
    gpt_create(g, &cfg);
    memcpy(g->params, tf_f32(tf, "params", g->table.total), g->table.total * sizeof(float));
}

static void check_case(const char *file, int per_sample, int qk_norm) {
    TensorFile *tf = load(file);
    Gpt g;
    build(&g, tf, qk_norm);
    size_t B = 3, T = 7;
    const int32_t *inputs = tf_i32(tf, "inputs", B * T), *targets = tf_i32(tf, "targets", B * T);
    const int32_t *mask32 = tf_i32(tf, "mask", per_sample ? B * T * T : T * T);
    size_t mask_n = per_sample ? B * T * T : T * T;
    uint8_t *mask = malloc(mask_n);
    for (size_t i = 0; i < mask_n; i++) mask[i] = (uint8_t)mask32[i];

    float loss = gpt_forward(&g, inputs, targets, mask, per_sample, B, T);
    size_t n_logits = B * T * g.cfg.vocab_out;
    const float *ref_logits = tf_f32(tf, "logits", n_logits);
    double logit_err = norm_error(gpt_logits(&g), ref_logits, n_logits);
    double loss_ref = tf_f32(tf, "loss", 1)[0];
    printf("%s: logits %.2e (per element %.2e), loss %.2e", file, logit_err,
           element_error(gpt_logits(&g), ref_logits, n_logits), fabs(loss - loss_ref) / loss_ref);
    assert_true(logit_err <= 1e-5);
    assert_true(fabs(loss - loss_ref) / loss_ref <= 1e-5);

    gpt_zero_grad(&g);
    gpt_backward(&g);
    const float *ref = tf_f32(tf, "grads", g.table.total);
    double worst = 0, worst_element = 0;
    for (size_t i = 0; i < g.table.n; i++) {
        size_t off = g.table.offsets[i], n = g.specs[i].count;
        double e = norm_error(g.grads + off, ref + off, n);
        if (e > 1e-4) print_error("gradient of %s: relative error %.2e\n", g.specs[i].name, e);
        worst = fmax(worst, e);
        worst_element = fmax(worst_element, element_error(g.grads + off, ref + off, n));
    }
    printf(", worst gradient %.2e (per element %.2e) over %zu tensors\n", worst, worst_element, g.table.n);
    assert_true(worst <= 1e-4);
    free(mask);
    gpt_free(&g);
    tf_free(tf);
}

static void test_causal_matches_pytorch(void **state) { check_case("gpt_causal.tsr", 0, 0); }
static void test_per_sample_mask_matches_pytorch(void **state) { check_case("gpt_per_sample.tsr", 1, 0); }
static void test_qk_norm_matches_pytorch(void **state) { check_case("gpt_qknorm.tsr", 0, 1); }

static void test_ten_adamw_steps_match_pytorch(void **state) {
    TensorFile *ref = load("gpt_adamw.tsr"), *data = load("gpt_causal.tsr");
    Gpt g;
    build(&g, data, 0);
    memcpy(g.params, tf_f32(ref, "start", g.table.total), g.table.total * sizeof(float));
    size_t B = 3, T = 7;
    uint8_t mask[49];
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) mask[i * T + j] = j <= i;
    scalar *m = param_table_alloc(&g.table), *v = param_table_alloc(&g.table);
    AdamWConfig ac = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    const float *losses = tf_f32(ref, "losses", 10);
    double worst = 0;
    for (int step = 0; step < 10; step++) {
        float loss = gpt_forward(&g, tf_i32(data, "inputs", B * T), tf_i32(data, "targets", B * T), mask, 0, B, T);
        worst = fmax(worst, fabs(loss - losses[step]) / fabs(losses[step]));
        gpt_zero_grad(&g);
        gpt_backward(&g);
        adamw_step(g.params, m, v, g.grads, &g.table, &ac, 1e-2, step + 1);
    }
    /* The key part of each qkv bias has a gradient that is zero in exact arithmetic (a
     * constant added to every score of a row leaves its softmax unchanged), so both
     * implementations feed float noise to Adam, which scales noise up to ±lr per step:
     * those C elements per layer are left out of the comparison, nothing else. */
    const float *final = tf_f32(ref, "final", g.table.total);
    double params_err = 0;
    size_t C = g.cfg.width;
    for (size_t i = 0; i < g.table.n; i++) {
        size_t off = g.table.offsets[i], n = g.specs[i].count;
        const char *dot = strchr(g.specs[i].name, '.');
        double e;
        if (dot && !strcmp(dot + 1, "qkvb")) { /* q part [0,C) and v part [2C,3C) only */
            e = fmax(norm_error(g.params + off, final + off, C), norm_error(g.params + off + 2 * C, final + off + 2 * C, C));
        } else {
            e = norm_error(g.params + off, final + off, n);
        }
        if (e > 1e-4) print_error("%s after 10 steps: relative error %.2e\n", g.specs[i].name, e);
        params_err = fmax(params_err, e);
    }
    printf("10 AdamW steps: worst loss error %.2e, final params %.2e\n", worst, params_err);
    assert_true(worst <= 1e-5);
    assert_true(params_err <= 1e-4);
    free(m);
    free(v);
    gpt_free(&g);
    tf_free(ref);
    tf_free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_matches_pytorch),
        cmocka_unit_test(test_per_sample_mask_matches_pytorch),
        cmocka_unit_test(test_qk_norm_matches_pytorch),
        cmocka_unit_test(test_ten_adamw_steps_match_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
