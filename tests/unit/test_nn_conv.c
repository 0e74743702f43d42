/* test_nn_conv: nn/conv2d, nn/conv_transpose2d, nn/groupnorm and nn/pool against PyTorch.
 *
 * The fixtures come from tests/ref/ref_conv.py (TESSERA_REF/conv_<case>.tsr): seeded inputs
 * and weights, R, the output and every gradient of loss = sum(out * R), so backward runs
 * with dout = R. Each layer is checked on odd sizes (7×9) with stride 1 and 2, padding 0
 * and 1, then a small conv net (conv → groupnorm → SiLU → avgpool → conv → groupnorm →
 * SiLU → conv_transpose → SiLU → upsample → conv, SiLU from nn/silu.h) end to end.
 *
 * Tolerances (float32, as torch computes): forward ≤ 1e-5 (the net's output, after four
 * convolutions and two groupnorms, ≤ 2e-5) and every gradient ≤ 1e-4, in relative error
 * |got - want| / max(|want|, FLOOR) with FLOOR = 1e-2 · max|want| of the tensor, so
 * entries that cancel to almost nothing are held to an absolute bound at that tensor's
 * scale instead of to a quotient of rounding noise. Every backward is run twice
 * and the halved sum checked again: gradients are accumulated (+=), not assigned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../nn/conv2d.h"
#include "../../nn/conv_transpose2d.h"
#include "../../nn/groupnorm.h"
#include "../../nn/params.h"
#include "../../nn/pool.h"
#include "../../nn/silu.h"
#include "tensorfile.h"

_Static_assert(sizeof(scalar) == sizeof(float), "test_nn_conv compares float buffers; build without NN_DOUBLE");

#define TOL_FORWARD 1e-5
#define TOL_GRAD 1e-4
#define TOL_NET_FORWARD 2e-5 /* four convolutions and two groupnorms chained */
#define FLOOR_FRACTION 1e-2

static double worst_forward, worst_grad; /* reported at the end */

static TensorFile *load_case(const char *name) {
    return tf_load_ref("conv_%s.tsr", name);
}

static int tf_has(const TensorFile *tf, const char *name) {
    for (size_t i = 0; i < tf->n_tensors; i++)
        if (strcmp(tf->tensors[i].name, name) == 0) return 1;
    return 0;
}

static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void check(const char *test, const char *what, const float *got, const float *want, size_t n, double tol) {
    double top = 0;
    for (size_t i = 0; i < n; i++) top = fmax(top, fabs((double)want[i]));
    double e = max_rel_error(got, want, n, FLOOR_FRACTION * top + 1e-30);
    printf("  %-22s %-14s max rel error %.2e\n", test, what, e);
    double *worst = tol < TOL_GRAD ? &worst_forward : &worst_grad;
    if (e > *worst) *worst = e;
    if (!(e <= tol)) fail_msg("%s: %s: max relative error %.3g > %.1g", test, what, e, tol);
}

static void halve(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] *= 0.5f;
}

/* ---- conv2d and conv_transpose2d ---------------------------------------------------- */

static void run_conv(const char *name, int transpose) {
    TensorFile *tf = load_case(name);
    const int32_t *dm = tf_i32(tf, "dims", 10);
    ConvDims d = {.B = dm[0], .C_in = dm[1], .H = dm[2], .W = dm[3], .C_out = dm[4],
                  .KH = dm[5], .KW = dm[6], .stride = dm[7], .pad = dm[8], .out_pad = dm[9]};
    int OH = transpose ? conv_transpose2d_out_h(&d) : conv2d_out_h(&d);
    int OW = transpose ? conv_transpose2d_out_w(&d) : conv2d_out_w(&d);
    size_t nx = (size_t)d.B * d.C_in * d.H * d.W, nw = (size_t)d.C_out * d.C_in * d.KH * d.KW;
    size_t ny = (size_t)d.B * d.C_out * OH * OW;
    int has_bias = tf_has(tf, "bias");
    const float *x = tf_f32(tf, "x", nx), *w = tf_f32(tf, "weight", nw), *R = tf_f32(tf, "R", ny);
    const float *b = has_bias ? tf_f32(tf, "bias", (size_t)d.C_out) : NULL;
    size_t ns = transpose ? conv_transpose2d_scratch_size(&d) : conv2d_scratch_size(&d);
    float *out = zeros(ny), *scratch = zeros(ns), *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)d.C_out);

    (transpose ? conv_transpose2d_forward : conv2d_forward)(out, scratch, x, w, b, &d);
    check(name, "out", out, tf_f32(tf, "out", ny), ny, TOL_FORWARD);
    for (int pass = 1; pass <= 2; pass++) {
        (transpose ? conv_transpose2d_backward : conv2d_backward)(dx, dw, has_bias ? db : NULL, scratch, R, x, w, &d);
        if (pass == 2) halve(dx, nx), halve(dw, nw), halve(db, (size_t)d.C_out);
        check(name, pass == 1 ? "dx" : "dx (x2)/2", dx, tf_f32(tf, "dx", nx), nx, TOL_GRAD);
        check(name, pass == 1 ? "dweight" : "dweight (x2)/2", dw, tf_f32(tf, "dweight", nw), nw, TOL_GRAD);
        if (has_bias)
            check(name, pass == 1 ? "dbias" : "dbias (x2)/2", db, tf_f32(tf, "dbias", (size_t)d.C_out),
                  (size_t)d.C_out, TOL_GRAD);
    }
    /* din may be NULL: the weight gradients must not change. */
    memset(dw, 0, nw * sizeof *dw);
    (transpose ? conv_transpose2d_backward : conv2d_backward)(NULL, dw, NULL, scratch, R, x, w, &d);
    check(name, "dweight, no dx", dw, tf_f32(tf, "dweight", nw), nw, TOL_GRAD);
    free(out), free(scratch), free(dx), free(dw), free(db);
    tf_free(tf);
}

static void test_conv2d(void **state) {
    static const char *cases[] = {"conv2d_k3s1p0", "conv2d_k3s1p1", "conv2d_k3s2p0", "conv2d_k3s2p1",
                                  "conv2d_k2x3s2p1", "conv2d_k1s1p0", "conv2d_k3s1p1_nobias"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_conv(cases[i], 0);
}

static void test_conv_transpose2d(void **state) {
    static const char *cases[] = {"convt_k4s2p1", "convt_k3s1p0", "convt_k3s2p1", "convt_k3s2p1o1",
                                  "convt_k2x3s2p0"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_conv(cases[i], 1);
}

/* ---- groupnorm ------------------------------------------------------------------------ */

static void run_groupnorm(const char *name) {
    TensorFile *tf = load_case(name);
    const int32_t *dm = tf_i32(tf, "dims", 5);
    int B = dm[0], C = dm[1], H = dm[2], W = dm[3], G = dm[4];
    size_t n = (size_t)B * C * H * W, ng = (size_t)B * G;
    const float *x = tf_f32(tf, "x", n), *w = tf_f32(tf, "weight", (size_t)C), *b = tf_f32(tf, "bias", (size_t)C);
    const float *R = tf_f32(tf, "R", n);
    float *out = zeros(n), *mean = zeros(ng), *rstd = zeros(ng), *dx = zeros(n), *dw = zeros((size_t)C),
          *db = zeros((size_t)C);
    groupnorm_forward(out, mean, rstd, x, w, b, B, C, H, W, G);
    check(name, "out", out, tf_f32(tf, "out", n), n, TOL_FORWARD);
    check(name, "mean", mean, tf_f32(tf, "mean", ng), ng, TOL_FORWARD);
    check(name, "rstd", rstd, tf_f32(tf, "rstd", ng), ng, TOL_FORWARD);
    for (int pass = 1; pass <= 2; pass++) {
        groupnorm_backward(dx, dw, db, R, x, w, mean, rstd, B, C, H, W, G);
        if (pass == 2) halve(dx, n), halve(dw, (size_t)C), halve(db, (size_t)C);
        check(name, pass == 1 ? "dx" : "dx (x2)/2", dx, tf_f32(tf, "dx", n), n, TOL_GRAD);
        check(name, pass == 1 ? "dweight" : "dweight (x2)/2", dw, tf_f32(tf, "dweight", (size_t)C), (size_t)C,
              TOL_GRAD);
        check(name, pass == 1 ? "dbias" : "dbias (x2)/2", db, tf_f32(tf, "dbias", (size_t)C), (size_t)C, TOL_GRAD);
    }
    free(out), free(mean), free(rstd), free(dx), free(dw), free(db);
    tf_free(tf);
}

static void test_groupnorm(void **state) {
    run_groupnorm("groupnorm_g2");
    run_groupnorm("groupnorm_g3");
    run_groupnorm("groupnorm_g6");
}

/* ---- avgpool and upsample ------------------------------------------------------------- */

static void run_resample(const char *name, int up) {
    TensorFile *tf = load_case(name);
    const int32_t *dm = tf_i32(tf, "dims", 5);
    int B = dm[0], C = dm[1], H = dm[2], W = dm[3], k = dm[4];
    size_t nx = (size_t)B * C * H * W;
    size_t ny = up ? nx * k * k : (size_t)B * C * (H / k) * (W / k);
    const float *x = tf_f32(tf, "x", nx), *R = tf_f32(tf, "R", ny);
    float *out = zeros(ny), *dx = zeros(nx);
    (up ? upsample_nearest_forward : avgpool2d_forward)(out, x, B, C, H, W, k);
    check(name, "out", out, tf_f32(tf, "out", ny), ny, TOL_FORWARD);
    for (int pass = 1; pass <= 2; pass++) {
        (up ? upsample_nearest_backward : avgpool2d_backward)(dx, R, B, C, H, W, k);
        if (pass == 2) halve(dx, nx);
        check(name, pass == 1 ? "dx" : "dx (x2)/2", dx, tf_f32(tf, "dx", nx), nx, TOL_GRAD);
    }
    free(out), free(dx);
    tf_free(tf);
}

static void test_avgpool(void **state) {
    run_resample("avgpool_k2", 0);
    run_resample("avgpool_k3", 0);
}

static void test_upsample(void **state) { run_resample("upsample_k2", 1); }

/* ---- a small conv net end to end ------------------------------------------------------ */

enum { C1W, C1B, GN1W, GN1B, C2W, C2B, GN2W, GN2B, T3W, T3B, C4W, C4B, NET_N };
static const ParamSpec net_specs[NET_N] = {
    {"c1.weight", 6 * 3 * 3 * 3, 0}, {"c1.bias", 6, PARAM_NO_DECAY},
    {"gn1.weight", 6, PARAM_NO_DECAY}, {"gn1.bias", 6, PARAM_NO_DECAY},
    {"c2.weight", 8 * 6 * 3 * 3, 0}, {"c2.bias", 8, PARAM_NO_DECAY},
    {"gn2.weight", 8, PARAM_NO_DECAY}, {"gn2.bias", 8, PARAM_NO_DECAY},
    {"t3.weight", 8 * 4 * 4 * 4, 0}, {"t3.bias", 4, PARAM_NO_DECAY},
    {"c4.weight", 3 * 4 * 3 * 3, 0}, {"c4.bias", 3, PARAM_NO_DECAY},
};

static void test_net(void **state) {
    TensorFile *tf = load_case("net");
    ParamTable t;
    param_table_init(&t, net_specs, NET_N);
    scalar *params = param_table_alloc(&t), *grads = param_table_alloc(&t);
    scalar *p[NET_N], *g[NET_N];
    for (int i = 0; i < NET_N; i++) {
        p[i] = params + t.offsets[i];
        g[i] = grads + t.offsets[i];
        memcpy(p[i], tf_f32(tf, net_specs[i].name, net_specs[i].count), net_specs[i].count * sizeof(float));
    }
    enum { B = 2 };
    ConvDims d1 = {.B = B, .C_in = 3, .H = 8, .W = 10, .C_out = 6, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    ConvDims d2 = {.B = B, .C_in = 6, .H = 4, .W = 5, .C_out = 8, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    ConvDims d3 = {.B = B, .C_in = 8, .H = 4, .W = 5, .C_out = 4, .KH = 4, .KW = 4, .stride = 2, .pad = 1};
    ConvDims d4 = {.B = B, .C_in = 4, .H = 16, .W = 20, .C_out = 3, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    size_t n1 = B * 6 * 8 * 10, np = B * 6 * 4 * 5, n2 = B * 8 * 4 * 5, n3 = B * 4 * 8 * 10, nu = B * 4 * 16 * 20,
           nout = B * 3 * 16 * 20, nx = B * 3 * 8 * 10;
    size_t ns = conv2d_scratch_size(&d1);
    if (conv2d_scratch_size(&d2) > ns) ns = conv2d_scratch_size(&d2);
    if (conv_transpose2d_scratch_size(&d3) > ns) ns = conv_transpose2d_scratch_size(&d3);
    if (conv2d_scratch_size(&d4) > ns) ns = conv2d_scratch_size(&d4);
    const float *x = tf_f32(tf, "x", nx), *R = tf_f32(tf, "R", nout);
    float *scratch = zeros(ns);
    float *a1 = zeros(n1), *gn1 = zeros(n1), *s1 = zeros(n1), *mean1 = zeros(B * 2), *rstd1 = zeros(B * 2);
    float *pool = zeros(np), *a2 = zeros(n2), *gn2 = zeros(n2), *s2 = zeros(n2), *mean2 = zeros(B * 4),
          *rstd2 = zeros(B * 4);
    float *a3 = zeros(n3), *s3 = zeros(n3), *up = zeros(nu), *out = zeros(nout);

    conv2d_forward(a1, scratch, x, p[C1W], p[C1B], &d1);
    groupnorm_forward(gn1, mean1, rstd1, a1, p[GN1W], p[GN1B], B, 6, 8, 10, 2);
    silu_forward(s1, gn1, n1);
    avgpool2d_forward(pool, s1, B, 6, 8, 10, 2);
    conv2d_forward(a2, scratch, pool, p[C2W], p[C2B], &d2);
    groupnorm_forward(gn2, mean2, rstd2, a2, p[GN2W], p[GN2B], B, 8, 4, 5, 4);
    silu_forward(s2, gn2, n2);
    conv_transpose2d_forward(a3, scratch, s2, p[T3W], p[T3B], &d3);
    silu_forward(s3, a3, n3);
    upsample_nearest_forward(up, s3, B, 4, 8, 10, 2);
    conv2d_forward(out, scratch, up, p[C4W], p[C4B], &d4);
    check("net", "out", out, tf_f32(tf, "out", nout), nout, TOL_NET_FORWARD);

    float *dup = zeros(nu), *ds3 = zeros(n3), *da3 = zeros(n3), *ds2 = zeros(n2), *dgn2 = zeros(n2),
          *da2 = zeros(n2), *dpool = zeros(np), *ds1 = zeros(n1), *dgn1 = zeros(n1), *da1 = zeros(n1),
          *dx = zeros(nx);
    conv2d_backward(dup, g[C4W], g[C4B], scratch, R, up, p[C4W], &d4);
    upsample_nearest_backward(ds3, dup, B, 4, 8, 10, 2);
    silu_backward(da3, ds3, a3, n3);
    conv_transpose2d_backward(ds2, g[T3W], g[T3B], scratch, da3, s2, p[T3W], &d3);
    silu_backward(dgn2, ds2, gn2, n2);
    groupnorm_backward(da2, g[GN2W], g[GN2B], dgn2, a2, p[GN2W], mean2, rstd2, B, 8, 4, 5, 4);
    conv2d_backward(dpool, g[C2W], g[C2B], scratch, da2, pool, p[C2W], &d2);
    avgpool2d_backward(ds1, dpool, B, 6, 8, 10, 2);
    silu_backward(dgn1, ds1, gn1, n1);
    groupnorm_backward(da1, g[GN1W], g[GN1B], dgn1, a1, p[GN1W], mean1, rstd1, B, 6, 8, 10, 2);
    conv2d_backward(dx, g[C1W], g[C1B], scratch, da1, x, p[C1W], &d1);

    check("net", "dx", dx, tf_f32(tf, "dx", nx), nx, TOL_GRAD);
    for (int i = 0; i < NET_N; i++) {
        char name[64];
        snprintf(name, sizeof name, "d%s", net_specs[i].name);
        check("net", name, g[i], tf_f32(tf, name, net_specs[i].count), net_specs[i].count, TOL_GRAD);
    }
    float *bufs[] = {scratch, a1, gn1, s1, mean1, rstd1, pool, a2, gn2, s2, mean2, rstd2, a3, s3, up, out,
                     dup, ds3, da3, ds2, dgn2, da2, dpool, ds1, dgn1, da1, dx};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(params), free(grads);
    param_table_free(&t);
    tf_free(tf);
}

static void test_report(void **state) {
    printf("  worst forward %.2e (limit %.0e, net %.0e), worst gradient %.2e (limit %.0e), floor %.0e x max|ref|\n",
           worst_forward, TOL_FORWARD, TOL_NET_FORWARD, worst_grad, TOL_GRAD, FLOOR_FRACTION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),   cmocka_unit_test(test_conv_transpose2d),
        cmocka_unit_test(test_groupnorm), cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_upsample), cmocka_unit_test(test_net),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
