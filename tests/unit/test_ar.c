/* test_ar: the autoregressive token model (train/ar.c, train/ar_sample.c, the position
 * tables of train/gpt.c and the cached decoder train/gpt_decode.c).
 *
 * - Against PyTorch (tests/ref/ref_ar.py, which builds RAR's sequences its own way:
 *   gather by the order, the PE following its token, the target-aware row of the
 *   predicted position): ar_sequence gives the reference's inputs, positions, target
 *   positions and targets exactly; logits and loss agree to ≤ 1e-5 and every gradient,
 *   wpe and wta included, to ≤ 1e-4 relative error (‖got − ref‖∞ / ‖ref‖∞, as test_gpt).
 *   Three models: target-aware, target-aware with QK-norm, and without wta.
 * - Raster order: ar_sequence with order NULL and with the identity give the same arrays,
 *   positions and target positions 0..N−1.
 * - The RAR anneal schedule at and between its ends, and its degenerate forms.
 * - The KV cache: gpt_decode_step's logits equal a full forward pass over the prefix
 *   (≤ 1e-5 relative, per slot), with and without QK-norm and the target-aware table and
 *   at target positions other than the slot; ar_sample_codes draws the same codes with
 *   and without the cache, and image i's codes do not depend on the batch around it.
 * - Guidance: the CFG combination and both scale schedules against their formulas.
 * - ar_draw: top-1 is the argmax, top-k never leaves the k largest (ties kept), the
 *   draws over evenly spaced u follow softmax(l/T), and u just below 1 gives a kept code.
 * - The checkpoint dims of an AR model round-trip, and bad ones are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../core/err.h"
#include "../../core/rng.h"
#include "../../nn/attention.h"
#include "../../train/ar.h"
#include "../../train/checkpoint.h"
#include "../../train/ar_sample.h"
#include "../../train/gpt.h"
#include "assert_near.h"
#include "tensorfile.h"

/* ------------------------------------------------------------------ helpers */

static void assert_ints_equal(const int32_t *got, const int32_t *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("%s[%zu] = %d, expected %d", what, i, got[i], want[i]);
}

/* GPT-2's initial weights scaled by `scale`, so that the logits are far from flat (at
 * 0.02 every code is nearly equally likely and a sampling test would compare near-uniform
 * draws); biases (0 there) get small random values and LayerNorm gains 1 ± 0.1, so that
 * no term of the decoder's arithmetic is an exact 0 or 1 that would hide a mistake. */
static void make_model(Gpt *g, const ArShape *s, uint64_t seed, float scale) {
    GptConfig gc = ar_gpt_config(s, 0);
    gpt_create(g, &gc);
    gpt_init_weights(g, seed);
    Rng r;
    rng_seed(&r, seed + 77);
    for (size_t i = 0; i < g->table.n; i++) {
        const char *name = g->specs[i].name, *dot = strchr(name, '.');
        const char *base = dot ? dot + 1 : name;
        float *p = g->params + g->table.offsets[i];
        int gain = !strcmp(base, "ln1w") || !strcmp(base, "ln2w") || !strcmp(base, "lnfw");
        for (size_t k = 0; k < g->specs[i].count; k++)
            p[k] = gain ? 1 + 0.1f * (float)rng_normal(&r) : scale * p[k] + (p[k] == 0 ? 0.05f * (float)rng_normal(&r) : 0);
    }
}

/* ------------------------------------------------------------------ against PyTorch */

static void check_fixture(const char *file) {
    TensorFile *tf = tf_load_ref("%s", file);
    const int32_t *c = tf_i32(tf, "config", 7), *flags = tf_i32(tf, "flags", 2);
    ArShape s = {.K = (size_t)c[0], .classes = (size_t)c[1], .grid_h = (size_t)c[2], .grid_w = (size_t)c[3],
                 .layers = (size_t)c[4], .heads = (size_t)c[5], .width = (size_t)c[6], .target_aware = flags[0],
                 .qk_norm = flags[1]};
    size_t N = ar_seq(&s), B = tf_get(tf, "classes", TF_I32, 0)->count, V = s.K;
    GptConfig gc = ar_gpt_config(&s, 0);
    Gpt g;
    gpt_create(&g, &gc);
    /* The reference's parameter order: wte, wpe, wta (target-aware), blocks, head. */
    assert_string_equal(g.specs[0].name, "wte");
    assert_string_equal(g.specs[1].name, "wpe");
    assert_int_equal(g.specs[1].count, (N + 1) * s.width);
    if (s.target_aware) {
        assert_string_equal(g.specs[2].name, "wta");
        assert_int_equal(g.specs[2].count, (N + 1) * s.width);
    }
    assert_string_equal(g.specs[g.table.n - 1].name, "lmw");
    memcpy(g.params, tf_f32(tf, "params", g.table.total), g.table.total * sizeof(float));

    const int32_t *codes = tf_i32(tf, "codes", B * N), *classes = tf_i32(tf, "classes", B);
    const int32_t *orders = tf_i32(tf, "orders", B * N);
    int32_t *inputs = malloc(B * N * sizeof *inputs), *positions = malloc(B * N * sizeof *positions);
    int32_t *target_positions = malloc(B * N * sizeof *target_positions), *targets = malloc(B * N * sizeof *targets);
    for (size_t i = 0; i < B; i++) {
        int32_t cls = classes[i] >= 0 ? ar_class_id(&s, (size_t)classes[i]) : ar_null_id(&s);
        size_t o = i * N;
        ar_sequence(N, codes + o, cls, orders + o, inputs + o, positions + o, target_positions + o, targets + o);
    }
    assert_ints_equal(inputs, tf_i32(tf, "inputs", B * N), B * N, "inputs");
    assert_ints_equal(positions, tf_i32(tf, "positions", B * N), B * N, "positions");
    assert_ints_equal(target_positions, tf_i32(tf, "target_positions", B * N), B * N, "target_positions");
    assert_ints_equal(targets, tf_i32(tf, "targets", B * N), B * N, "targets");

    uint8_t *mask = malloc(N * N);
    attention_causal_mask(mask, N);
    GptBatch b = {.inputs = inputs, .positions = positions, .target_positions = target_positions,
                  .targets = targets, .mask = mask, .B = B, .T = N};
    float loss = gpt_forward_batch(&g, &b);
    const float *ref_logits = tf_f32(tf, "logits", B * N * V);
    double logit_err = norm_error(gpt_logits(&g), ref_logits, B * N * V);
    double loss_ref = tf_f32(tf, "loss", 1)[0], loss_err = fabs(loss - loss_ref) / loss_ref;
    printf("%s: logits %.2e (per element %.2e), loss %.2e", file, logit_err,
           element_error(gpt_logits(&g), ref_logits, B * N * V), loss_err);
    assert_true(logit_err <= 1e-5);
    assert_true(loss_err <= 1e-5);

    gpt_zero_grad(&g);
    gpt_backward(&g);
    const float *ref = tf_f32(tf, "grads", g.table.total);
    double worst = 0, worst_element = 0, tables = 0;
    for (size_t i = 0; i < g.table.n; i++) {
        size_t off = g.table.offsets[i], n = g.specs[i].count;
        double e = norm_error(g.grads + off, ref + off, n);
        if (e > 1e-4) print_error("gradient of %s: relative error %.2e\n", g.specs[i].name, e);
        if (i == 1 || (s.target_aware && i == 2)) tables = fmax(tables, e);
        worst = fmax(worst, e);
        worst_element = fmax(worst_element, element_error(g.grads + off, ref + off, n));
    }
    printf(", worst gradient %.2e (per element %.2e; wpe%s %.2e) over %zu tensors\n", worst, worst_element,
           s.target_aware ? ", wta" : "", tables, g.table.n);
    assert_true(worst <= 1e-4);
    /* wta's last row is read by no slot (targets are grid positions 0..N−1): its gradient
     * is exactly 0 (fd_ar checks every table row, read or not). */
    if (s.target_aware) {
        const float *last = g.grads + g.table.offsets[2] + N * s.width;
        for (size_t k = 0; k < s.width; k++) assert_true(last[k] == 0);
    }
    free(mask);
    free(inputs);
    free(positions);
    free(target_positions);
    free(targets);
    gpt_free(&g);
    tf_free(tf);
}

static void test_target_aware_matches_pytorch(void **state) { check_fixture("ar_target_aware.tsr"); }
static void test_target_aware_qknorm_matches_pytorch(void **state) { check_fixture("ar_target_aware_qknorm.tsr"); }
static void test_plain_matches_pytorch(void **state) { check_fixture("ar_plain.tsr"); }

static void test_raster_order_is_identity(void **state) {
    enum { N = 12 };
    int32_t codes[N], identity[N];
    for (int t = 0; t < N; t++) codes[t] = (t * 7 + 3) % 10, identity[t] = t;
    int32_t a[4][N], b[4][N];
    ar_sequence(N, codes, 42, NULL, a[0], a[1], a[2], a[3]);
    ar_sequence(N, codes, 42, identity, b[0], b[1], b[2], b[3]);
    assert_memory_equal(a, b, sizeof a);
    /* What raster AR expects: [class, c0 … c(N−2)] predicting [c0 … c(N−1)], slot t at
     * position t predicting grid position t. */
    assert_int_equal(a[0][0], 42);
    for (int t = 0; t < N; t++) {
        if (t) assert_int_equal(a[0][t], codes[t - 1]);
        assert_int_equal(a[1][t], t);
        assert_int_equal(a[2][t], t);
        assert_int_equal(a[3][t], codes[t]);
    }
}

/* ------------------------------------------------------------------ anneal schedule */

static void test_random_order_ratio(void **state) {
    /* Anneal from step 100 to step 300. */
    assert_true(ar_random_order_ratio(0, 100, 300) == 1);
    assert_true(ar_random_order_ratio(99.5, 100, 300) == 1);
    assert_true(ar_random_order_ratio(100, 100, 300) == 1);
    assert_true(ar_random_order_ratio(150, 100, 300) == 0.75);
    assert_true(ar_random_order_ratio(200, 100, 300) == 0.5);
    assert_true(ar_random_order_ratio(250, 100, 300) == 0.25);
    assert_near(ar_random_order_ratio(123, 100, 300), 1 - 23.0 / 200, 1e-15);
    assert_true(ar_random_order_ratio(300, 100, 300) == 0);
    assert_true(ar_random_order_ratio(301, 100, 300) == 0);
    assert_true(ar_random_order_ratio(1e9, 100, 300) == 0);
    /* Linear: equal steps, equal falls. */
    for (int p = 100; p < 300; p += 10)
        assert_near(ar_random_order_ratio(p, 100, 300) - ar_random_order_ratio(p + 10, 100, 300), 0.05, 1e-12);
    /* start = end = 0: raster AR from the first step on. */
    assert_true(ar_random_order_ratio(0, 0, 0) == 0);
    assert_true(ar_random_order_ratio(1, 0, 0) == 0);
    assert_true(ar_random_order_ratio(1000, 0, 0) == 0);
    /* start = end = 5: random orders before 5, raster from 5 on. */
    assert_true(ar_random_order_ratio(0, 5, 5) == 1);
    assert_true(ar_random_order_ratio(4.999, 5, 5) == 1);
    assert_true(ar_random_order_ratio(5, 5, 5) == 0);
    assert_true(ar_random_order_ratio(6, 5, 5) == 0);
    /* Fractional progress (epochs). */
    assert_true(ar_random_order_ratio(1.5, 1, 2) == 0.5);
}

/* ------------------------------------------------------------------ KV cache */

/* Per slot, ‖decode − forward‖∞ / ‖forward‖∞ over the B rows of logits. */
static double slot_error(const float *decoded, const float *full, size_t B, size_t T, size_t t, size_t V) {
    double top = 0, diff = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t v = 0; v < V; v++) {
            double f = full[(b * T + t) * V + v], d = decoded[b * V + v];
            top = fmax(top, fabs(f));
            diff = fmax(diff, fabs(d - f));
        }
    return diff / fmax(top, 1e-12);
}

static void check_decode(int qk_norm, int target_aware) {
    ArShape s = {.K = 11, .classes = 3, .grid_h = 3, .grid_w = 4, .layers = 2, .heads = 4, .width = 16,
                 .qk_norm = qk_norm, .target_aware = target_aware};
    size_t N = ar_seq(&s), V = s.K, B = 3;
    Gpt g;
    make_model(&g, &s, 11 + (uint64_t)(2 * qk_norm + target_aware), 10);
    Rng r;
    rng_seed(&r, 5);
    int32_t *seq = malloc(B * N * sizeof *seq), *prefix = malloc(B * N * sizeof *prefix);
    for (size_t b = 0; b < B; b++) {
        seq[b * N] = b == 2 ? ar_null_id(&s) : ar_class_id(&s, b);
        for (size_t t = 1; t < N; t++) seq[b * N + t] = (int32_t)rng_below(&r, V);
    }
    uint8_t *mask = malloc(N * N);
    GptCache kc;
    gpt_cache_init(&kc, &g, B, N);
    int32_t step_in[3];
    double worst = 0, spread = 0;
    for (size_t t = 0; t < N; t++) {
        for (size_t b = 0; b < B; b++) step_in[b] = seq[b * N + t];
        const float *decoded = gpt_decode_step(&g, &kc, step_in, t, t);
        size_t T = t + 1;
        for (size_t b = 0; b < B; b++) memcpy(prefix + b * T, seq + b * N, T * sizeof *prefix);
        attention_causal_mask(mask, T);
        gpt_forward(&g, prefix, NULL, mask, 0, B, T);
        double e = slot_error(decoded, gpt_logits(&g), B, T, t, V);
        if (e > 1e-5) print_error("qk_norm %d target_aware %d slot %zu: relative error %.2e\n", qk_norm, target_aware, t, e);
        worst = fmax(worst, e);
        for (size_t b = 0; b < B; b++) { /* how far from flat the logits are */
            float lo = decoded[b * V], hi = lo;
            for (size_t v = 1; v < V; v++) lo = fminf(lo, decoded[b * V + v]), hi = fmaxf(hi, decoded[b * V + v]);
            spread = fmax(spread, hi - lo);
        }
    }
    assert_int_equal(kc.len, N);
    printf("decode vs forward, qk_norm %d target_aware %d: worst slot %.2e over %zu slots (logit spread %.1f)\n", qk_norm,
           target_aware, worst, N, spread);
    assert_true(spread > 1);
    assert_true(worst <= 1e-5);
    gpt_cache_free(&kc);
    free(mask);
    free(seq);
    free(prefix);
    gpt_free(&g);
}

static void test_decode_matches_forward(void **state) { check_decode(0, 0); }
static void test_decode_matches_forward_target_aware(void **state) { check_decode(0, 1); }
static void test_decode_matches_forward_qk_norm(void **state) { check_decode(1, 0); }
static void test_decode_matches_forward_qk_norm_target_aware(void **state) { check_decode(1, 1); }

/* Positions the decoder is handed, not the slot index: wpe row p(t) and wta row q(t),
 * q ≠ p, against gpt_forward_batch given the same rows. */
static void test_decode_explicit_positions(void **state) {
    ArShape s = {.K = 9, .classes = 2, .grid_h = 2, .grid_w = 4, .layers = 2, .heads = 2, .width = 16,
                 .target_aware = 1};
    size_t N = ar_seq(&s), V = s.K, B = 2;
    Gpt g;
    make_model(&g, &s, 3, 10);
    int32_t seq[2 * 8], pos[2 * 8], tpos[2 * 8], step_in[2];
    int32_t order[8] = {5, 2, 7, 0, 3, 6, 1, 4}; /* a permutation, as RAR's */
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < N; t++) {
            seq[b * N + t] = t ? (int32_t)((3 * t + b) % V) : ar_class_id(&s, b);
            pos[b * N + t] = t ? 1 + order[t - 1] : 0;
            tpos[b * N + t] = order[t];
        }
    uint8_t mask[64];
    attention_causal_mask(mask, N);
    GptBatch batch = {.inputs = seq, .positions = pos, .target_positions = tpos, .mask = mask, .B = B, .T = N};
    gpt_forward_batch(&g, &batch);
    float *full = malloc(B * N * V * sizeof *full);
    memcpy(full, gpt_logits(&g), B * N * V * sizeof *full);
    GptCache kc;
    gpt_cache_init(&kc, &g, B, N);
    double worst = 0;
    for (size_t t = 0; t < N; t++) {
        for (size_t b = 0; b < B; b++) step_in[b] = seq[b * N + t];
        const float *decoded = gpt_decode_step(&g, &kc, step_in, (size_t)pos[t], (size_t)tpos[t]);
        worst = fmax(worst, slot_error(decoded, full, B, N, t, V));
    }
    printf("decode at permuted positions vs forward: worst slot %.2e\n", worst);
    assert_true(worst <= 1e-5);
    /* The same tokens at raster positions give other logits: the rows were used. */
    gpt_forward(&g, seq, NULL, mask, 0, B, N);
    assert_true(slot_error(gpt_logits(&g), full, B, N, N - 1, V) > 1e-3);
    gpt_cache_free(&kc);
    free(full);
    gpt_free(&g);
}

/* ------------------------------------------------------------------ sampling */

static const ArShape SAMPLE_SHAPE = {.K = 13, .classes = 3, .grid_h = 3, .grid_w = 3, .layers = 2, .heads = 4,
                                     .width = 16, .qk_norm = 1, .target_aware = 1};

static ArSampleOptions guided_options(void) {
    ArSampleOptions o = ar_sample_defaults();
    o.cfg = 3;
    o.schedule = GUIDANCE_POWCOS;
    o.cfg_power = 2;
    o.temperature = 0.9;
    o.top_k = 5;
    o.seed = 1234;
    return o;
}

static void assert_codes_in_range(const int32_t *codes, size_t n, size_t K) {
    for (size_t i = 0; i < n; i++)
        if (codes[i] < 0 || (size_t)codes[i] >= K) fail_msg("code [%zu] = %d is not in [0, %zu)", i, codes[i], K);
}

static void first_mismatch(const int32_t *a, const int32_t *b, size_t n, size_t N, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) fail_msg("%s: image %zu, slot %zu: %d vs %d", what, i / N, i % N, a[i], b[i]);
}

static void test_sample_cache_equals_no_cache(void **state) {
    const ArShape *s = &SAMPLE_SHAPE;
    size_t N = ar_seq(s), n = 6;
    Gpt g;
    make_model(&g, s, 21, 10);
    int32_t classes[6] = {0, 1, 2, -1, 0, 2};
    int32_t *cached = malloc(n * N * sizeof *cached), *uncached = malloc(n * N * sizeof *uncached);
    int32_t *plain = malloc(n * N * sizeof *plain);
    ArSampleOptions o = guided_options();
    ar_sample_codes(&g, s, classes, n, 0, &o, cached);
    o.no_cache = 1;
    ar_sample_codes(&g, s, classes, n, 0, &o, uncached);
    assert_codes_in_range(cached, n * N, s->K);
    first_mismatch(cached, uncached, n * N, N, "guided, cache vs no cache");

    ArSampleOptions u = ar_sample_defaults();
    u.seed = 1234;
    ar_sample_codes(&g, s, classes, n, 0, &u, plain);
    u.no_cache = 1;
    ar_sample_codes(&g, s, classes, n, 0, &u, uncached);
    assert_codes_in_range(plain, n * N, s->K);
    first_mismatch(plain, uncached, n * N, N, "unguided, cache vs no cache");

    /* Guidance, temperature and top-k act: the same streams give other codes. */
    size_t differ = 0;
    for (size_t i = 0; i < n * N; i++) differ += plain[i] != cached[i];
    printf("cache = no cache for %zu guided and %zu unguided codes; guidance changed %zu of them\n", n * N, n * N,
           differ);
    assert_true(differ > 0);
    free(cached);
    free(uncached);
    free(plain);
    gpt_free(&g);
}

static void check_batch_independence(const ArSampleOptions *o, const char *what) {
    const ArShape *s = &SAMPLE_SHAPE;
    size_t N = ar_seq(s), n = 5;
    Gpt g;
    make_model(&g, s, 22, 10);
    int32_t classes[5] = {2, -1, 0, 1, 2};
    int32_t *together = malloc(n * N * sizeof *together), *split = malloc(n * N * sizeof *split);
    ar_sample_codes(&g, s, classes, n, 0, o, together);
    ar_sample_codes(&g, s, classes, 2, 0, o, split);
    ar_sample_codes(&g, s, classes + 2, 1, 2, o, split + 2 * N);
    ar_sample_codes(&g, s, classes + 3, 2, 3, o, split + 3 * N);
    first_mismatch(together, split, n * N, N, what);
    /* Images 0 and 4 share a class but not a stream: they differ. */
    assert_memory_not_equal(together, together + 4 * N, N * sizeof *together);
    printf("%s: %zu images drawn at once = drawn as 2 + 1 + 2\n", what, n);
    free(together);
    free(split);
    gpt_free(&g);
}

static void test_sample_independent_of_batch(void **state) {
    ArSampleOptions o = guided_options();
    check_batch_independence(&o, "guided");
    o = ar_sample_defaults();
    o.seed = 99;
    check_batch_independence(&o, "unguided");
    o = guided_options();
    o.no_cache = 1;
    check_batch_independence(&o, "guided, no cache");
}

/* ------------------------------------------------------------------ guidance */

static void test_guide_logits(void **state) {
    enum { V = 7 };
    float cond[V] = {1.5f, -2.0f, 0.25f, 3.0f, -0.5f, 0.0f, 7.0f};
    float uncond[V] = {0.5f, 1.0f, 0.25f, -3.0f, 2.5f, -1.0f, 6.0f};
    float out[V];
    const double scales[] = {3.0, 1.75, -0.5, 10.0};
    for (size_t i = 0; i < sizeof scales / sizeof *scales; i++) {
        ar_guide_logits(out, cond, uncond, V, scales[i]);
        for (int v = 0; v < V; v++) assert_near(out[v], uncond[v] + scales[i] * (cond[v] - uncond[v]), 1e-5);
    }
    ar_guide_logits(out, cond, uncond, V, 3.0);
    assert_true(out[0] == 3.5f && out[1] == -8.0f && out[2] == 0.25f && out[3] == 15.0f);
    ar_guide_logits(out, cond, uncond, V, 1.0);
    assert_memory_equal(out, cond, sizeof out);
    ar_guide_logits(out, cond, uncond, V, 0.0);
    assert_memory_equal(out, uncond, sizeof out);
}

static void test_guidance_scale(void **state) {
    ArSampleOptions o = ar_sample_defaults();
    o.cfg = 4;
    o.schedule = GUIDANCE_CONST;
    for (size_t t = 0; t < 16; t++) assert_true(ar_guidance_scale(&o, t, 16) == 4);
    o.schedule = GUIDANCE_POWCOS;
    const double powers[] = {0.5, 1, 2, 3.5};
    for (size_t i = 0; i < sizeof powers / sizeof *powers; i++) {
        double p = powers[i];
        o.cfg_power = p;
        assert_near(ar_guidance_scale(&o, 0, 16), 1, 1e-15);
        const size_t ts[] = {1, 4, 8, 11, 15, 16};
        for (size_t j = 0; j < sizeof ts / sizeof *ts; j++) {
            double want = 1 + (o.cfg - 1) * 0.5 * (1 - cos(M_PI * pow(ts[j] / 16.0, p)));
            assert_near(ar_guidance_scale(&o, ts[j], 16), want, 1e-12);
        }
        assert_near(ar_guidance_scale(&o, 16, 16), o.cfg, 1e-12); /* t = N: g */
    }
    /* Hand values at p = 1, N = 4, g = 4: 1 + 1.5·(1 − cos(πt/4)). */
    o.cfg_power = 1;
    assert_near(ar_guidance_scale(&o, 2, 4), 2.5, 1e-12);
    assert_near(ar_guidance_scale(&o, 1, 4), 1 + 1.5 * (1 - sqrt(0.5)), 1e-12);
    /* Increasing in t for p > 0, g > 1. */
    o.cfg_power = 2;
    for (size_t t = 1; t < 16; t++) assert_true(ar_guidance_scale(&o, t, 16) > ar_guidance_scale(&o, t - 1, 16));
    /* p = 0: g everywhere, t = 0 included. */
    o.cfg_power = 0;
    for (size_t t = 0; t < 16; t++) assert_near(ar_guidance_scale(&o, t, 16), 4, 1e-12);
}

/* ------------------------------------------------------------------ drawing a code */

static void test_draw_top1_is_argmax(void **state) {
    enum { V = 9, M = 1000 };
    float logits[V] = {0.3f, 1.2f, -0.4f, 2.9f, 2.8f, 0.0f, -5.0f, 2.95f, 1.0f}; /* argmax 7 */
    double work[V];
    for (int i = 0; i < M; i++) {
        double u = (i + 0.5) / M;
        assert_int_equal(ar_draw(logits, V, 1.0, 1, u, work), 7);
        assert_int_equal(ar_draw(logits, V, 5.0, 1, u, work), 7);
    }
    assert_int_equal(ar_draw(logits, V, 1.0, 1, 0.0, work), 7);
    assert_int_equal(ar_draw(logits, V, 1.0, 1, nextafter(1.0, 0.0), work), 7);
}

/* The number of draws of each code over u = (i + 0.5)/M, i < M. */
static void histogram(const float *logits, size_t V, double temperature, size_t top_k, size_t M, size_t *count) {
    double *work = malloc(V * sizeof *work);
    memset(count, 0, V * sizeof *count);
    for (size_t i = 0; i < M; i++) {
        int32_t c = ar_draw(logits, V, temperature, top_k, (i + 0.5) / (double)M, work);
        assert_true(c >= 0 && (size_t)c < V);
        count[c]++;
    }
    free(work);
}

/* softmax(l / T) over the codes with keep[v] set. */
static void reference_probs(const float *logits, size_t V, double temperature, const int *keep, double *p) {
    double top = -INFINITY, total = 0;
    for (size_t v = 0; v < V; v++)
        if (keep[v]) top = fmax(top, logits[v]);
    for (size_t v = 0; v < V; v++) total += p[v] = keep[v] ? exp((logits[v] - top) / temperature) : 0;
    for (size_t v = 0; v < V; v++) p[v] /= total;
}

static void test_draw_top_k(void **state) {
    enum { V = 10, M = 20000 };
    float logits[V] = {0.1f, 2.0f, -1.0f, 1.5f, 3.0f, 0.5f, 2.5f, -2.0f, 1.9f, 0.0f};
    int keep[V];
    size_t count[V];
    double p[V];
    /* k = 3: codes 4, 6, 1 (3.0, 2.5, 2.0), drawn in proportion to their softmax. */
    histogram(logits, V, 1.0, 3, M, count);
    for (int v = 0; v < V; v++) keep[v] = v == 4 || v == 6 || v == 1;
    reference_probs(logits, V, 1.0, keep, p);
    for (int v = 0; v < V; v++) {
        if (!keep[v] && count[v]) fail_msg("top-3 drew code %d (logit %g) %zu times", v, logits[v], count[v]);
        assert_near((double)count[v] / M, p[v], 2.0 / M);
    }
    /* Every k: only codes among the k largest. */
    for (size_t k = 1; k <= V; k++) {
        histogram(logits, V, 0.7, k, 997, count);
        for (int v = 0; v < V; v++) {
            size_t above = 0;
            for (int w = 0; w < V; w++) above += logits[w] > logits[v];
            if (count[v] && above >= k) fail_msg("top-%zu drew code %d, below %zu others", k, v, above);
        }
    }
    /* Ties at the k-th value are all kept: top-2 of {1, 3, 3, 2, 3} keeps the three 3s. */
    float tied[5] = {1, 3, 3, 2, 3};
    size_t tcount[5];
    histogram(tied, 5, 1.0, 2, 3000, tcount);
    assert_int_equal(tcount[0], 0);
    assert_int_equal(tcount[3], 0);
    for (int v = 1; v < 5; v++)
        if (v != 3) assert_near(tcount[v] / 3000.0, 1.0 / 3, 2.0 / 3000);
}

static void test_draw_follows_softmax(void **state) {
    enum { V = 8, M = 50000 };
    float logits[V] = {0.3f, -1.1f, 2.2f, 0.9f, 1.7f, -0.2f, 0.0f, 1.1f};
    int keep[V];
    for (int v = 0; v < V; v++) keep[v] = 1;
    size_t count[V];
    double p[V];
    const double temps[] = {1.0, 0.5, 2.0, 0.9};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++) {
        histogram(logits, V, temps[i], 0, M, count);
        reference_probs(logits, V, temps[i], keep, p);
        double worst = 0;
        for (int v = 0; v < V; v++) {
            worst = fmax(worst, fabs((double)count[v] / M - p[v]));
            assert_near((double)count[v] / M, p[v], 2.0 / M);
        }
        printf("temperature %.1f: worst |frequency − softmax(l/T)| %.1e over %d draws\n", temps[i], worst, M);
    }
    /* top_k = V and top_k > V are "all codes". */
    size_t all[V];
    histogram(logits, V, 1.0, 0, 5000, count);
    histogram(logits, V, 1.0, V, 5000, all);
    assert_memory_equal(count, all, sizeof count);
    histogram(logits, V, 1.0, V + 5, 5000, all);
    assert_memory_equal(count, all, sizeof count);
}

static void test_draw_u_near_one(void **state) {
    enum { V = 1000 };
    float logits[V];
    double work[V];
    Rng r;
    rng_seed(&r, 8);
    for (int v = 0; v < V; v++) logits[v] = (float)rng_normal(&r);
    logits[V - 1] = -10; /* the last code is outside any top-k below */
    const double us[] = {nextafter(1.0, 0.0), 1 - 1e-12, 1 - 1e-9, 0.9999999};
    const size_t ks[] = {0, 1, 7, 500, V};
    for (size_t i = 0; i < sizeof us / sizeof *us; i++)
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
            int32_t c = ar_draw(logits, V, 1.3, ks[j], us[i], work);
            assert_true(c >= 0 && c < V);
            if (ks[j] && ks[j] < V) {
                size_t above = 0;
                for (int w = 0; w < V; w++) above += logits[w] > logits[c];
                if (above >= ks[j]) fail_msg("u = %.17g, top-%zu: code %d is not among the largest", us[i], ks[j], c);
            }
        }
    /* u = 0 gives the first code with any mass. */
    assert_int_equal(ar_draw(logits, V, 1.0, 0, 0.0, work), 0);
}

/* ------------------------------------------------------------------ checkpoint dims */

/* Field by field: the structs' padding is not part of the shape. */
static void assert_same_shape(const ArShape *a, const ArShape *b) {
    assert_int_equal(a->K, b->K);
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->grid_h, b->grid_h);
    assert_int_equal(a->grid_w, b->grid_w);
    assert_int_equal(a->layers, b->layers);
    assert_int_equal(a->heads, b->heads);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->qk_norm, b->qk_norm);
    assert_int_equal(a->target_aware, b->target_aware);
    assert_int_equal(a->tokenizer_checksum, b->tokenizer_checksum);
}

static void test_shape_round_trip(void **state) {
    ArShape s = {.K = 1024, .classes = 10, .grid_h = 7, .grid_w = 5, .layers = 6, .heads = 8, .width = 256,
                 .qk_norm = 1, .target_aware = 0, .tokenizer_checksum = 0xdeadbeefu}, back;
    uint64_t dims[AR_N_DIMS];
    ar_shape_dims(&s, dims);
    const uint64_t want[AR_N_DIMS] = {1024, 10, 7, 5, 6, 8, 256, 1, 0, 0xdeadbeefu};
    assert_memory_equal(dims, want, sizeof want);
    Err err = {{0}};
    assert_int_equal(ar_shape_from_dims(&back, dims, AR_N_DIMS, &err), 0);
    assert_same_shape(&back, &s);
    s.qk_norm = 0, s.target_aware = 1, s.classes = 0, s.tokenizer_checksum = 0;
    ar_shape_dims(&s, dims);
    assert_int_equal(ar_shape_from_dims(&back, dims, AR_N_DIMS, &err), 0);
    assert_same_shape(&back, &s);
}

static void test_shape_refusals(void **state) {
    ArShape s = {.K = 16, .classes = 3, .grid_h = 4, .grid_w = 4, .layers = 2, .heads = 4, .width = 32,
                 .target_aware = 1}, back;
    uint64_t good[AR_N_DIMS], d[AR_N_DIMS + 1];
    ar_shape_dims(&s, good);
    Err err;
    memcpy(d, good, sizeof good);
    assert_error(ar_shape_from_dims(&back, d, AR_N_DIMS - 1, &err), "has 9 dimensions, an AR model has 10");
    d[AR_N_DIMS] = 0;
    assert_error(ar_shape_from_dims(&back, d, AR_N_DIMS + 1, &err), "has 11 dimensions, an AR model has 10");
    assert_error(ar_shape_from_dims(&back, d, 0, &err), "has 0 dimensions");
    /* A zero in any size: K, grid_h, grid_w, layers, heads, width. */
    const int zero_at[] = {0, 2, 3, 4, 5, 6};
    for (size_t i = 0; i < sizeof zero_at / sizeof *zero_at; i++) {
        memcpy(d, good, sizeof good);
        d[zero_at[i]] = 0;
        assert_error(ar_shape_from_dims(&back, d, AR_N_DIMS, &err), "has dimensions no AR config gives");
    }
    /* Beyond the bounds, and a width that is not a multiple of heads. */
    const struct { int at; uint64_t value; } bad[] = {{0, 65537}, {1, 65537}, {2, 65537}, {4, 49}, {6, 8192}, {6, 30},
                                                     {5, 64}, {2, 20000}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(d, good, sizeof good);
        d[bad[i].at] = bad[i].value;
        assert_error(ar_shape_from_dims(&back, d, AR_N_DIMS, &err), "has dimensions no AR config gives");
    }
    /* Classes = 0 (an unlabelled store) is a valid model. */
    memcpy(d, good, sizeof good);
    d[1] = 0;
    assert_int_equal(ar_shape_from_dims(&back, d, AR_N_DIMS, &err), 0);
}

/* grid_h·grid_w is bounded by 65536, but the product of two dims read from a file can
 * wrap around 2^64 into the bound: 2^32 × 2^32 is 0, (2^63 + 3) × 2 is 6. */
static void test_shape_refuses_overflowing_grid(void **state) {
    ArShape s = {.K = 16, .classes = 3, .grid_h = 4, .grid_w = 4, .layers = 2, .heads = 4, .width = 32}, back;
    uint64_t d[AR_N_DIMS];
    Err err;
    const uint64_t grids[][2] = {{1ull << 32, 1ull << 32}, {(1ull << 63) + 3, 2}, {1ull << 40, 1ull << 24}};
    for (size_t i = 0; i < sizeof grids / sizeof *grids; i++) {
        ar_shape_dims(&s, d);
        d[2] = grids[i][0];
        d[3] = grids[i][1];
        err.msg[0] = 0;
        int rc = ar_shape_from_dims(&back, d, AR_N_DIMS, &err);
        if (rc != -1)
            fail_msg("a %llu × %llu grid was accepted (ar_seq %zu)", (unsigned long long)grids[i][0],
                     (unsigned long long)grids[i][1], ar_seq(&back));
        assert_non_null(strstr(err.msg, "has dimensions no AR config gives"));
    }
}

/* An AR checkpoint whose config names no tokenizer (a run always resolves one, so only a
 * hand-made or foreign file has none) is refused by ar_model_open, naming the file; with
 * a tokenizer named, the same weights load. */
static void write_ar_checkpoint(const char *path, const char *tokenizer) {
    ArShape s = {.K = 11, .classes = 3, .grid_h = 3, .grid_w = 3, .layers = 1, .heads = 2, .width = 8,
                 .target_aware = 1, .tokenizer_checksum = 0x1234abcd};
    GptConfig gc = ar_gpt_config(&s, 0);
    Gpt g;
    gpt_create(&g, &gc);
    gpt_init_weights(&g, 7);
    CheckpointInfo info = {.n_dims = AR_N_DIMS, .n_params = g.table.total};
    snprintf(info.model, sizeof info.model, "ar");
    ar_shape_dims(&s, info.dims);
    char config[256];
    snprintf(config, sizeof config, "model = ar\nstore = x.tokens\nrun_dir = runs/x\ntokenizer = %s\n", tokenizer);
    CheckpointData d = {.params = g.params};
    Err err;
    assert_int_equal(checkpoint_write(path, &info, config, &d, &err), 0);
    gpt_free(&g);
}

static void test_checkpoint_without_tokenizer_is_refused(void **state) {
    (void)state;
    char path[] = "/tmp/tessera_test_ar_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ArModel m;
    Err err;
    write_ar_checkpoint(path, "");
    assert_int_equal(ar_model_open(&m, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "names no tokenizer"));
    write_ar_checkpoint(path, "runs/vq/ckpt.bin");
    assert_int_equal(ar_model_open(&m, path, &err), 0);
    assert_string_equal(m.tokenizer_path, "runs/vq/ckpt.bin");
    assert_int_equal(m.shape.tokenizer_checksum, 0x1234abcd);
    ar_model_close(&m);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_aware_matches_pytorch),
        cmocka_unit_test(test_target_aware_qknorm_matches_pytorch),
        cmocka_unit_test(test_plain_matches_pytorch),
        cmocka_unit_test(test_raster_order_is_identity),
        cmocka_unit_test(test_random_order_ratio),
        cmocka_unit_test(test_decode_matches_forward),
        cmocka_unit_test(test_decode_matches_forward_target_aware),
        cmocka_unit_test(test_decode_matches_forward_qk_norm),
        cmocka_unit_test(test_decode_matches_forward_qk_norm_target_aware),
        cmocka_unit_test(test_decode_explicit_positions),
        cmocka_unit_test(test_sample_cache_equals_no_cache),
        cmocka_unit_test(test_sample_independent_of_batch),
        cmocka_unit_test(test_guide_logits),
        cmocka_unit_test(test_guidance_scale),
        cmocka_unit_test(test_draw_top1_is_argmax),
        cmocka_unit_test(test_draw_top_k),
        cmocka_unit_test(test_draw_follows_softmax),
        cmocka_unit_test(test_draw_u_near_one),
        cmocka_unit_test(test_shape_round_trip),
        cmocka_unit_test(test_shape_refusals),
        cmocka_unit_test(test_shape_refuses_overflowing_grid),
        cmocka_unit_test(test_checkpoint_without_tokenizer_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
