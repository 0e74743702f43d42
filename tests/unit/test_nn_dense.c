/* test_nn_dense: the dense layers of nn/ against PyTorch (tests/ref/ref_dense.py).
 *
 * Each fixture holds a layer's float32 inputs, a random R, and the output and gradients
 * of sum(out * R) computed in float64 and rounded to float32 (the exact answer for those
 * inputs). The layers run forward, then backward from dout = R, in float. The error of an
 * element is |got - want| / max(|want|, 0.1 · max|want over the tensor|); outputs must
 * agree to 1e-5 and gradients to 1e-4. The floor means an element that cancels to near 0
 * may be off by 1e-6 (outputs) or 1e-5 (gradients) of its tensor's largest element, i.e.
 * by some 8 or 80 float ulps there; every larger element is held to the relative bound.
 * With a floor of 0.01 instead, the attention gradient exceeded 1e-4 on 1 of 100 random
 * fixtures: where a softmax is nearly one-hot its backward subtracts nearly equal numbers,
 * and torch's own float32 misses by the same amount there. The errors are printed.
 *
 * Beyond the fixtures: every backward accumulates (a second call doubles the gradient)
 * and skips gradients passed as NULL; dropout's mask is the documented hash of (seed,
 * index) and does not depend on how a tensor is split; cross-entropy over only ignored
 * targets is 0 (torch: NaN); a query that may attend to no key has output 0 and gradient
 * 0; attention scores far beyond exp's range give a finite softmax. The attention
 * fixtures at T = 70 and 33 span several of attention.c's 32-row blocks, whose keys it
 * computes only as far as the mask needs; its outputs and scratch start as NaN, so an
 * entry a skipped key leaves unwritten fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../nn/attention.h"
#include "../../nn/headgemm.h"
#include "../../nn/crossentropy.h"
#include "../../nn/dropout.h"
#include "../../nn/embedding.h"
#include "../../nn/gelu.h"
#include "../../nn/layernorm.h"
#include "../../nn/linear.h"
#include "../../nn/qknorm.h"
#include "../../nn/residual.h"
#include "../../nn/silu.h"
#include "tensorfile.h"

#define TOL_OUT 1e-5
#define TOL_GRAD 1e-4
#define REL_FLOOR 0.1    /* of the largest |value| in the tensor (header comment) */
#define TOL_DOUBLED 1e-5 /* an overwrite instead of += is off by 0.5 */

/* A loaded fixture and every buffer a test takes from it, freed together. Tensors are
 * copied out of the file because tensorfile.h points into it unaligned (names have any
 * length), and reading a float through such a pointer is undefined behaviour. */
typedef struct {
    TensorFile *tf;
    void *bufs[64];
    size_t n_bufs;
} Fixture;

static Fixture *fx_load(const char *name) {
    Fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->tf = tf_load_ref("%s", name);
    return fx;
}

static void *fx_keep(Fixture *fx, void *p) {
    assert_non_null(p);
    assert_true(fx->n_bufs < sizeof fx->bufs / sizeof fx->bufs[0]);
    return fx->bufs[fx->n_bufs++] = p;
}

static float *fx_zeros(Fixture *fx, size_t n) {
    return fx_keep(fx, calloc(n ? n : 1, sizeof(float)));
}

static float *fx_copy(Fixture *fx, const float *src, size_t n) {
    return memcpy(fx_zeros(fx, n), src, n * sizeof(float));
}

/* An aligned copy of a tensor, checked for dtype and element count. */
static float *fx_f32(Fixture *fx, const char *name, size_t n) {
    return memcpy(fx_zeros(fx, n), tf_get(fx->tf, name, TF_F32, n)->data, n * sizeof(float));
}

static int32_t *fx_i32(Fixture *fx, const char *name, size_t n) {
    return memcpy(fx_keep(fx, calloc(n ? n : 1, sizeof(int32_t))), tf_get(fx->tf, name, TF_I32, n)->data,
                  n * sizeof(int32_t));
}

static int64_t fx_i64_scalar(Fixture *fx, const char *name) {
    int64_t v;
    memcpy(&v, tf_get(fx->tf, name, TF_I64, 1)->data, sizeof v);
    return v;
}

static void fx_free(Fixture *fx) {
    for (size_t i = 0; i < fx->n_bufs; i++) free(fx->bufs[i]);
    tf_free(fx->tf);
    free(fx);
}

/* The relative error of the header comment. */
static double rel_error(const float *got, const float *want, size_t n) {
    double max = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > max) max = fabs(want[i]);
    return max_rel_error(got, want, n, max > 0 ? REL_FLOOR * max : 1e-30);
}

/* Compares with the reference tensor `name`; prints the error and fails above tol. */
static void check(Fixture *fx, const char *layer, const float *got, const char *name, size_t n, double tol) {
    const float *want = fx_f32(fx, name, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(got[i])) fail_msg("%s %s: [%zu] is %g", layer, name, i, got[i]);
    double err = rel_error(got, want, n);
    printf("  %-22s %-18s max rel error %.2e (tol %.0e)\n", layer, name, err, tol);
    if (err > tol) fail_msg("%s %s: max relative error %g > %g", layer, name, err, tol);
}

/* After a second backward call from the same state every gradient has doubled: backward
 * adds into its gradients rather than overwriting them. Not bit for bit, since a gradient
 * that sums several terms adds them one by one onto what is there. */
static void check_doubled(Fixture *fx, const char *what, const float *twice, const float *once, size_t n) {
    float *want = fx_zeros(fx, n);
    for (size_t i = 0; i < n; i++) want[i] = 2 * once[i];
    double err = rel_error(twice, want, n);
    if (err > TOL_DOUBLED) fail_msg("%s does not accumulate: relative error %g from twice the first call", what, err);
}

static void test_linear(void **state) {
    Fixture *fx = fx_load("dense_linear.tsr");
    const size_t N = 7, C = 13, OC = 11;
    const float *in = fx_f32(fx, "in", N * C), *w = fx_f32(fx, "weight", OC * C), *b = fx_f32(fx, "bias", OC);
    const float *R = fx_f32(fx, "R", N * OC);
    float *out = fx_zeros(fx, N * OC), *din = fx_zeros(fx, N * C), *dw = fx_zeros(fx, OC * C), *db = fx_zeros(fx, OC);
    for (size_t i = 0; i < N * OC; i++) out[i] = NAN; /* forward must overwrite */
    linear_forward(out, in, w, b, N, C, OC);
    check(fx, "linear", out, "out", N * OC, TOL_OUT);
    linear_forward(out, in, w, NULL, N, C, OC);
    check(fx, "linear", out, "out_nobias", N * OC, TOL_OUT);
    /* onto a residual stream: out - residual is the layer's output, in place as well */
    float *res = fx_copy(fx, R, N * OC), *sum = fx_zeros(fx, N * OC);
    linear_forward_residual(sum, res, in, w, b, N, C, OC);
    linear_forward_residual(res, res, in, w, b, N, C, OC);
    assert_memory_equal(res, sum, N * OC * sizeof *sum);
    for (size_t i = 0; i < N * OC; i++) sum[i] -= R[i];
    check(fx, "linear (residual)", sum, "out", N * OC, TOL_OUT);
    linear_backward(din, GRAD_ADD, dw, db, R, in, w, N, C, OC);
    check(fx, "linear", din, "din", N * C, TOL_GRAD);
    check(fx, "linear", dw, "dweight", OC * C, TOL_GRAD);
    check(fx, "linear", db, "dbias", OC, TOL_GRAD);
    float *din1 = fx_copy(fx, din, N * C), *dw1 = fx_copy(fx, dw, OC * C), *db1 = fx_copy(fx, db, OC);
    linear_backward(din, GRAD_ADD, dw, db, R, in, w, N, C, OC);
    check_doubled(fx, "linear din", din, din1, N * C);
    check_doubled(fx, "linear dweight", dw, dw1, OC * C);
    check_doubled(fx, "linear dbias", db, db1, OC);
    /* gradients passed as NULL are skipped; the others are the same */
    linear_backward(NULL, GRAD_ADD, dw1, NULL, R, in, w, N, C, OC);
    assert_memory_equal(dw1, dw, OC * C * sizeof *dw);
    /* GRAD_SET overwrites din (NaN before: never read) and still adds into dweight */
    for (size_t i = 0; i < N * C; i++) din[i] = NAN;
    float *added = fx_copy(fx, dw, OC * C);
    linear_backward(din, GRAD_SET, dw, NULL, R, in, w, N, C, OC);
    check(fx, "linear (GRAD_SET)", din, "din", N * C, TOL_GRAD);
    for (size_t i = 0; i < OC * C; i++) added[i] = dw[i] - added[i];
    check(fx, "linear (GRAD_SET)", added, "dweight", OC * C, TOL_GRAD);
    fx_free(fx);
}

static void test_embedding(void **state) {
    Fixture *fx = fx_load("dense_embedding.tsr");
    const size_t N = 7, V = 11, C = 13;
    const int32_t *ids = fx_i32(fx, "ids", N);
    const float *table = fx_f32(fx, "table", V * C), *R = fx_f32(fx, "R", N * C);
    float *out = fx_zeros(fx, N * C), *dtable = fx_zeros(fx, V * C);
    embedding_forward(out, ids, table, N, V, C);
    check(fx, "embedding", out, "out", N * C, TOL_OUT);
    embedding_backward(dtable, R, ids, N, V, C);
    check(fx, "embedding", dtable, "dtable", V * C, TOL_GRAD);
    float *once = fx_copy(fx, dtable, V * C);
    embedding_backward(dtable, R, ids, N, V, C);
    check_doubled(fx, "embedding dtable", dtable, once, V * C);
    fx_free(fx);
}

static void test_layernorm(void **state) {
    Fixture *fx = fx_load("dense_layernorm.tsr");
    const size_t N = 7, C = 13;
    const float *in = fx_f32(fx, "in", N * C), *w = fx_f32(fx, "weight", C), *b = fx_f32(fx, "bias", C);
    const float *R = fx_f32(fx, "R", N * C);
    float *out = fx_zeros(fx, N * C), *mean = fx_zeros(fx, N), *rstd = fx_zeros(fx, N);
    float *din = fx_zeros(fx, N * C), *dw = fx_zeros(fx, C), *db = fx_zeros(fx, C);
    layernorm_forward(out, mean, rstd, in, w, b, N, C);
    check(fx, "layernorm", out, "out", N * C, TOL_OUT);
    check(fx, "layernorm", mean, "mean", N, TOL_OUT);
    check(fx, "layernorm", rstd, "rstd", N, TOL_OUT);
    layernorm_backward(din, dw, db, R, in, w, mean, rstd, N, C);
    check(fx, "layernorm", din, "din", N * C, TOL_GRAD);
    check(fx, "layernorm", dw, "dweight", C, TOL_GRAD);
    check(fx, "layernorm", db, "dbias", C, TOL_GRAD);
    float *din1 = fx_copy(fx, din, N * C), *dw1 = fx_copy(fx, dw, C), *db1 = fx_copy(fx, db, C);
    layernorm_backward(din, dw, db, R, in, w, mean, rstd, N, C);
    check_doubled(fx, "layernorm din", din, din1, N * C);
    check_doubled(fx, "layernorm dweight", dw, dw1, C);
    check_doubled(fx, "layernorm dbias", db, db1, C);
    fx_free(fx);
}

/* The trainer's pair: the forward keeps the slope (in place over its input, as gpt.c
 * calls it) and the backward multiplies by it. The same values as the plain pair, bit
 * for bit (plain_din: gelu_backward's din for R), so the fixture holds for it too. */
static void check_slope_pair(Fixture *fx, const char *form, GeluKind kind, const float *in, const float *R, size_t n,
                             const char *out_name, const char *din_name, const float *plain_din) {
    char layer[32];
    snprintf(layer, sizeof layer, "%s slope", form);
    float *slope = fx_copy(fx, in, n), *out = fx_zeros(fx, n), *plain = fx_zeros(fx, n);
    gelu_forward_slope(out, slope, slope, n, kind);
    check(fx, layer, out, out_name, n, TOL_OUT);
    gelu_forward(plain, in, n, kind);
    for (size_t i = 0; i < n; i++)
        if (out[i] != plain[i]) fail_msg("%s: out[%zu] = %g, gelu_forward gave %g", layer, i, out[i], plain[i]);
    float *din = fx_zeros(fx, n);
    gelu_backward_slope(din, GRAD_ADD, R, slope, n);
    check(fx, layer, din, din_name, n, TOL_GRAD);
    for (size_t i = 0; i < n; i++)
        if (din[i] != plain_din[i]) fail_msg("%s: din[%zu] = %g, gelu_backward gave %g", layer, i, din[i], plain_din[i]);
    gelu_backward_slope(din, GRAD_ADD, R, slope, n);
    check_doubled(fx, layer, din, plain_din, n);
    float *din_in_place = fx_copy(fx, R, n); /* GRAD_SET over the incoming gradient */
    gelu_backward_slope(din_in_place, GRAD_SET, din_in_place, slope, n);
    for (size_t i = 0; i < n; i++)
        if (din_in_place[i] != plain_din[i])
            fail_msg("%s in place: din[%zu] = %g, not %g", layer, i, din_in_place[i], plain_din[i]);
}

static void test_gelu(void **state) {
    Fixture *fx = fx_load("dense_gelu.tsr");
    const size_t n = 7 * 13;
    const float *in = fx_f32(fx, "in", n);
    const struct { GeluKind kind; const char *layer, *R, *out, *din; } forms[] = {
        {GELU_ERF, "gelu (erf)", "R_erf", "out_erf", "din_erf"},
        {GELU_TANH, "gelu (tanh)", "R_tanh", "out_tanh", "din_tanh"},
    };
    for (size_t f = 0; f < 2; f++) {
        float *out = fx_zeros(fx, n), *din = fx_zeros(fx, n);
        const float *R = fx_f32(fx, forms[f].R, n);
        gelu_forward(out, in, n, forms[f].kind);
        check(fx, forms[f].layer, out, forms[f].out, n, TOL_OUT);
        gelu_backward(din, GRAD_ADD, R, in, n, forms[f].kind);
        check(fx, forms[f].layer, din, forms[f].din, n, TOL_GRAD);
        float *once = fx_copy(fx, din, n);
        gelu_backward(din, GRAD_ADD, R, in, n, forms[f].kind);
        check_doubled(fx, forms[f].layer, din, once, n);
        for (size_t i = 0; i < n; i++) din[i] = NAN; /* GRAD_SET never reads din */
        gelu_backward(din, GRAD_SET, R, in, n, forms[f].kind);
        for (size_t i = 0; i < n; i++) /* equal values (0 + -0 is +0, so not the same bits) */
            if (din[i] != once[i]) fail_msg("%s GRAD_SET: din[%zu] = %g, adding onto 0 gave %g", forms[f].layer, i, din[i], once[i]);
        check_slope_pair(fx, forms[f].layer, forms[f].kind, in, R, n, forms[f].out, forms[f].din, once);
    }
    fx_free(fx);
}

static void test_silu(void **state) {
    Fixture *fx = fx_load("dense_silu.tsr");
    const size_t n = 7 * 13;
    const float *in = fx_f32(fx, "in", n), *R = fx_f32(fx, "R", n);
    float *out = fx_zeros(fx, n), *din = fx_zeros(fx, n);
    silu_forward(out, in, n);
    check(fx, "silu", out, "out", n, TOL_OUT);
    silu_backward(din, R, in, n);
    check(fx, "silu", din, "din", n, TOL_GRAD);
    float *once = fx_copy(fx, din, n);
    silu_backward(din, R, in, n);
    check_doubled(fx, "silu din", din, once, n);
    fx_free(fx);
}

static void test_crossentropy(void **state) {
    Fixture *fx = fx_load("dense_crossentropy.tsr");
    const size_t N = 7, V = 11;
    const float *logits = fx_f32(fx, "logits", N * V), *weights = fx_f32(fx, "weights", N);
    const int32_t *targets = fx_i32(fx, "targets", N), ignore = fx_i32(fx, "ignore", 1)[0];
    const float dloss = fx_f32(fx, "dloss", 1)[0];
    float *losses = fx_zeros(fx, N), *row_max = fx_zeros(fx, N), *row_logsum = fx_zeros(fx, N);
    const struct { const float *w; const char *layer, *loss, *dlogits; } cases[] = {
        {weights, "crossentropy (wts)", "loss_weighted", "dlogits_weighted"},
        {NULL, "crossentropy (no wts)", "loss_unweighted", "dlogits_unweighted"},
    };
    for (size_t c = 0; c < 2; c++) {
        float *dlogits = fx_zeros(fx, N * V);
        float loss = crossentropy_forward(losses, row_max, row_logsum, logits, targets, cases[c].w, ignore, N, V);
        check(fx, cases[c].layer, &loss, cases[c].loss, 1, TOL_OUT);
        check(fx, cases[c].layer, losses, "losses", N, TOL_OUT);
        crossentropy_backward(dlogits, dloss, logits, row_max, row_logsum, targets, cases[c].w, ignore, N, V);
        check(fx, cases[c].layer, dlogits, cases[c].dlogits, N * V, TOL_GRAD);
        float *once = fx_copy(fx, dlogits, N * V);
        crossentropy_backward(dlogits, dloss, logits, row_max, row_logsum, targets, cases[c].w, ignore, N, V);
        check_doubled(fx, cases[c].layer, dlogits, once, N * V);
    }
    /* every target ignored: loss 0 and no gradient, where torch's mean gives NaN */
    int32_t none[7];
    for (size_t i = 0; i < N; i++) none[i] = ignore;
    float *dlogits = fx_zeros(fx, N * V);
    assert_true(crossentropy_forward(losses, row_max, row_logsum, logits, none, weights, ignore, N, V) == 0);
    crossentropy_backward(dlogits, 1, logits, row_max, row_logsum, none, weights, ignore, N, V);
    for (size_t i = 0; i < N * V; i++) assert_true(dlogits[i] == 0);
    fx_free(fx);
}

static void test_dropout(void **state) {
    Fixture *fx = fx_load("dense_dropout.tsr");
    const size_t n = 7 * 13;
    const float *in = fx_f32(fx, "in", n), *R = fx_f32(fx, "R", n), *mask = fx_f32(fx, "mask", n);
    const float p = fx_f32(fx, "p", 1)[0];
    const uint64_t seed = (uint64_t)fx_i64_scalar(fx, "seed"), first = (uint64_t)fx_i64_scalar(fx, "first_index");
    /* the mask is the hash documented in dropout.h, bit for bit as numpy computes it */
    for (size_t i = 0; i < n; i++) assert_int_equal(dropout_keeps(seed, first + i, p), mask[i] != 0);
    float *out = fx_zeros(fx, n), *din = fx_zeros(fx, n);
    dropout_forward(out, in, n, p, seed, first, 1);
    check(fx, "dropout", out, "out", n, TOL_OUT);
    dropout_backward(din, R, n, p, seed, first, 1);
    check(fx, "dropout", din, "din", n, TOL_GRAD);
    float *once = fx_copy(fx, din, n);
    dropout_backward(din, R, n, p, seed, first, 1);
    check_doubled(fx, "dropout din", din, once, n);
    /* split in two calls at an odd point (two threads, two ranks): the same result */
    float *split = fx_zeros(fx, n);
    dropout_forward(split, in, 40, p, seed, first, 1);
    dropout_forward(split + 40, in + 40, n - 40, p, seed, first + 40, 1);
    assert_memory_equal(split, out, n * sizeof *out);
    /* evaluation, p = 0: identity; p = 1: all dropped */
    dropout_forward(split, in, n, p, seed, first, 0);
    assert_memory_equal(split, in, n * sizeof *in);
    dropout_forward(split, in, n, 0, seed, first, 1);
    assert_memory_equal(split, in, n * sizeof *in);
    dropout_forward(split, in, n, 1, seed, first, 1);
    for (size_t i = 0; i < n; i++) assert_true(split[i] == 0);
    /* the drop rate is p: over 200k draws, 5 standard deviations are 0.5% */
    size_t dropped = 0, draws = 200000;
    for (size_t i = 0; i < draws; i++) dropped += !dropout_keeps(7, i, 0.3f);
    printf("  %-22s %-18s %.4f at p = 0.3\n", "dropout", "drop rate", (double)dropped / (double)draws);
    assert_true(fabs((double)dropped / (double)draws - 0.3) < 0.005);
    /* another seed, another mask */
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += dropout_keeps(seed + 1, first + i, p) == dropout_keeps(seed, first + i, p);
    assert_true(same < n);
    fx_free(fx);
}

static void test_residual(void **state) {
    Fixture *fx = fx_load("dense_residual.tsr");
    const size_t n = 7 * 13;
    const float *a = fx_f32(fx, "a", n), *b = fx_f32(fx, "b", n), *R = fx_f32(fx, "R", n);
    float *out = fx_zeros(fx, n), *da = fx_zeros(fx, n), *db = fx_zeros(fx, n);
    residual_forward(out, a, b, n);
    check(fx, "residual", out, "out", n, TOL_OUT);
    residual_backward(da, db, R, n);
    check(fx, "residual", da, "da", n, TOL_GRAD);
    check(fx, "residual", db, "db", n, TOL_GRAD);
    float *once = fx_copy(fx, da, n);
    residual_backward(da, db, R, n);
    check_doubled(fx, "residual da", da, once, n);
    check_doubled(fx, "residual db", db, once, n);
    fx_free(fx);
}

/* A buffer of n floats, all NaN: whatever a pass leaves unwritten shows up (check()
 * fails on a non-finite element), where calloc's zeros would pass for the zeros of a
 * skipped key. */
static float *fx_nans(Fixture *fx, size_t n) {
    float *p = fx_zeros(fx, n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

/* One attention fixture, `file`, of shape (B, T, NH, HS): forward, saved probabilities,
 * backward; QK-norm in front when qk_norm is set. mask_kind is none, causal, shared or
 * per_sample. */
static void run_attention_fixture(const char *file, const char *layer, const char *mask_kind, int qk_norm, size_t B,
                                  size_t T, size_t NH, size_t HS) {
    Fixture *fx = fx_load(file);
    const size_t C = NH * HS;
    const size_t nqkv = B * T * 3 * C, nout = B * T * C, natt = B * NH * T * T;
    const float *qkv = fx_f32(fx, "qkv", nqkv), *R = fx_f32(fx, "R", nout);
    const int per_sample = fx_i32(fx, "per_sample", 1)[0];
    uint8_t *mask = NULL;
    if (strcmp(mask_kind, "none") != 0) {
        size_t nm = (per_sample ? B : 1) * T * T;
        const int32_t *m = fx_i32(fx, "mask", nm);
        mask = fx_keep(fx, malloc(nm));
        for (size_t i = 0; i < nm; i++) mask[i] = (uint8_t)m[i];
        if (strcmp(mask_kind, "causal") == 0) { /* the helper builds exactly torch.tril */
            uint8_t *causal = fx_keep(fx, malloc(T * T));
            attention_causal_mask(causal, T);
            assert_memory_equal(causal, mask, T * T);
        }
    }
    const size_t nstat = B * T * 2 * NH;
    float *normed = fx_zeros(fx, nqkv), *mean = fx_zeros(fx, nstat), *rstd = fx_zeros(fx, nstat);
    const float *attn_in = qkv;
    if (qk_norm) {
        qknorm_forward(normed, mean, rstd, qkv, B * T, C, NH);
        check(fx, layer, normed, "qkv_normed", nqkv, TOL_OUT);
        attn_in = normed;
    }
    float *out = fx_nans(fx, nout), *att = fx_nans(fx, natt), *dqkv = fx_zeros(fx, nqkv);
    float *scratch = fx_nans(fx, T * T), *dnormed = fx_zeros(fx, nqkv);
    attention_forward(out, att, attn_in, mask, per_sample, B, T, C, NH);
    check(fx, layer, out, "out", nout, TOL_OUT);
    check(fx, layer, att, "att", natt, TOL_OUT);
    attention_backward(qk_norm ? dnormed : dqkv, scratch, R, attn_in, att, B, T, C, NH);
    if (qk_norm) qknorm_backward(dqkv, dnormed, qkv, mean, rstd, B * T, C, NH);
    check(fx, layer, dqkv, "dqkv", nqkv, TOL_GRAD);
    float *once = fx_copy(fx, dqkv, nqkv);
    if (qk_norm)
        qknorm_backward(dqkv, dnormed, qkv, mean, rstd, B * T, C, NH);
    else
        attention_backward(dqkv, scratch, R, attn_in, att, B, T, C, NH);
    check_doubled(fx, qk_norm ? "qknorm dqkv" : "attention dqkv", dqkv, once, nqkv);
    /* a query that sees no key: output 0 and no gradient into its q */
    for (size_t b = 0; mask && b < B; b++)
        for (size_t i = 0; i < T; i++) {
            const uint8_t *row = mask + (per_sample ? b * T * T : 0) + i * T;
            int any = 0;
            for (size_t j = 0; j < T; j++) any |= row[j];
            if (any) continue;
            for (size_t c = 0; c < C; c++) {
                assert_true(out[(b * T + i) * C + c] == 0);
                assert_true(once[(b * T + i) * 3 * C + c] == 0);
            }
        }
    fx_free(fx);
}

/* The small fixtures: B 2, T 5, 3 heads of 4, one 32-row block of attention.c. */
static void run_attention(const char *kind, int qk_norm) {
    char file[64], layer[64];
    snprintf(file, sizeof file, "dense_attention_%s.tsr", kind);
    snprintf(layer, sizeof layer, "attention (%s)", kind);
    run_attention_fixture(file, layer, strcmp(kind, "qknorm") == 0 ? "causal" : kind, qk_norm, 2, 5, 3, 4);
}

/* Several 32-row blocks (ref_dense.py, block_masks): B 2, 2 heads of 4, T tokens. */
static void run_attention_blocks(const char *kind, size_t T) {
    char file[64], layer[64];
    snprintf(file, sizeof file, "dense_attention_T%zu_%s.tsr", T, kind);
    snprintf(layer, sizeof layer, "attention (T%zu %s)", T, kind);
    Fixture *fx = fx_load(file); /* the fixture was made for this shape */
    const int32_t *shape = fx_i32(fx, "shape", 4);
    assert_true(shape[0] == 2 && shape[1] == (int32_t)T && shape[2] == 2 && shape[3] == 4);
    fx_free(fx);
    run_attention_fixture(file, layer, kind, 0, 2, T, 2, 4);
}

/* Head sizes of whole 16-float vectors, which take nn/headgemm.c's tiles instead of BLAS
 * (ref_dense.py, attention_wide_heads): B 2, T tokens, NH heads of HS. */
static void run_attention_wide(const char *kind, size_t T, size_t NH, size_t HS) {
    char file[64], layer[64];
    snprintf(file, sizeof file, "dense_attention_T%zu_hs%zu_%s.tsr", T, HS, kind);
    snprintf(layer, sizeof layer, "attention (T%zu HS%zu %s)", T, HS, kind);
    Fixture *fx = fx_load(file);
    const int32_t *shape = fx_i32(fx, "shape", 4);
    assert_true(shape[0] == 2 && shape[1] == (int32_t)T && shape[2] == (int32_t)NH && shape[3] == (int32_t)HS);
    fx_free(fx);
    assert_true(headgemm_fits(HS));
    run_attention_fixture(file, layer, kind, 0, 2, T, NH, HS);
}

/* Scores far beyond float's exp range: the softmax must shift by the row maximum and
 * come out uniform, not inf/inf (scores +1800) or 0/0 (scores -1800). */
static void test_attention_large_scores(void **state) {
    enum { T = 3, C = 2 };
    float qkv[T * 3 * C], out[T * C], att[T * T];
    uint8_t causal[T * T];
    attention_causal_mask(causal, T);
    for (int sign = -1; sign <= 1; sign += 2) {
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < 3 * C; c++) /* q = 30, k = ±30, v = t + 1 */
                qkv[t * 3 * C + c] = c < C ? 30.0f : c < 2 * C ? 30.0f * (float)sign : (float)(t + 1);
        attention_forward(out, att, qkv, NULL, 0, 1, T, C, 1);
        /* (fabs(x - want) <= tol, not assert_float_equal: that one lets NaN pass) */
        for (size_t i = 0; i < T * T; i++) assert_true(fabs(att[i] - 1.0 / 3) <= 1e-6);
        for (size_t i = 0; i < T * C; i++) assert_true(fabs(out[i] - 2.0) <= 1e-5); /* mean of 1, 2, 3 */
        attention_forward(out, att, qkv, causal, 0, 1, T, C, 1);
        assert_true(fabs(out[0] - 1.0) <= 1e-6);     /* query 0 sees key 0 */
        assert_true(fabs(out[2 * C] - 2.0) <= 1e-5); /* query 2 sees keys 0, 1, 2 */
    }
}

static void test_attention_none(void **state) { run_attention("none", 0); }
static void test_attention_causal(void **state) { run_attention("causal", 0); }
static void test_attention_shared(void **state) { run_attention("shared", 0); }
static void test_attention_per_sample(void **state) { run_attention("per_sample", 0); }
static void test_attention_qknorm(void **state) { run_attention("qknorm", 1); }
static void test_attention_T70_causal(void **state) { run_attention_blocks("causal", 70); }
static void test_attention_T70_none(void **state) { run_attention_blocks("none", 70); }
static void test_attention_T70_shared(void **state) { run_attention_blocks("shared", 70); }
static void test_attention_T70_per_sample(void **state) { run_attention_blocks("per_sample", 70); }
static void test_attention_T33_causal(void **state) { run_attention_blocks("causal", 33); }
static void test_attention_T33_none(void **state) { run_attention_blocks("none", 33); }
static void test_attention_T33_shared(void **state) { run_attention_blocks("shared", 33); }
static void test_attention_T33_per_sample(void **state) { run_attention_blocks("per_sample", 33); }
static void test_attention_hs32_causal(void **state) { run_attention_wide("causal", 70, 2, 32); }
static void test_attention_hs32_none(void **state) { run_attention_wide("none", 70, 2, 32); }
static void test_attention_hs32_shared(void **state) { run_attention_wide("shared", 70, 2, 32); }
static void test_attention_hs32_per_sample(void **state) { run_attention_wide("per_sample", 70, 2, 32); }
static void test_attention_hs80_causal(void **state) { run_attention_wide("causal", 33, 1, 80); }
static void test_attention_hs80_none(void **state) { run_attention_wide("none", 33, 1, 80); }
static void test_attention_hs80_shared(void **state) { run_attention_wide("shared", 33, 1, 80); }
static void test_attention_hs80_per_sample(void **state) { run_attention_wide("per_sample", 33, 1, 80); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_silu),
        cmocka_unit_test(test_crossentropy),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_residual),
        cmocka_unit_test(test_attention_none),
        cmocka_unit_test(test_attention_causal),
        cmocka_unit_test(test_attention_shared),
        cmocka_unit_test(test_attention_per_sample),
        cmocka_unit_test(test_attention_qknorm),
        cmocka_unit_test(test_attention_T70_causal),
        cmocka_unit_test(test_attention_T70_none),
        cmocka_unit_test(test_attention_T70_shared),
        cmocka_unit_test(test_attention_T70_per_sample),
        cmocka_unit_test(test_attention_T33_causal),
        cmocka_unit_test(test_attention_T33_none),
        cmocka_unit_test(test_attention_T33_shared),
        cmocka_unit_test(test_attention_T33_per_sample),
        cmocka_unit_test(test_attention_hs32_causal),
        cmocka_unit_test(test_attention_hs32_none),
        cmocka_unit_test(test_attention_hs32_shared),
        cmocka_unit_test(test_attention_hs32_per_sample),
        cmocka_unit_test(test_attention_hs80_causal),
        cmocka_unit_test(test_attention_hs80_none),
        cmocka_unit_test(test_attention_hs80_shared),
        cmocka_unit_test(test_attention_hs80_per_sample),
        cmocka_unit_test(test_attention_large_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
