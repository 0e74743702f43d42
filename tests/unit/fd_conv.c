/* fd_conv: the backward passes of nn/conv2d, nn/conv_transpose2d, nn/groupnorm and
 * nn/pool against central finite differences of their own forward passes, in double
 * precision (this file and nn/ are built with -DNN_DOUBLE).
 *
 * For loss = sum(out * R) with a random R, every element of every input and weight is
 * moved by ±h (h = 1e-6) and (loss+ - loss-) / 2h compared with the analytic gradient
 * from backward(dout = R). The difference is summed as Σ (out+ - out-) · R, so outputs
 * the element does not reach cancel exactly. What rounding is left sets the floor: for
 * groupnorm every output of the group moves, and the rounding of the variance sum alone
 * shifts the loss by ~1e-14, i.e. ~5e-9 in the finite difference (it scales as 1/h:
 * build with -DH_STEP=1e-5 to watch it shrink tenfold). So the relative error is
 * |analytic - fd| / max(|analytic|, |fd|, FLOOR) with FLOOR = 1e-2, bounded by 1e-6:
 * gradients (O(0.1–10) here) are matched to 1e-6 relative, and the few below 1e-2 to
 * 1e-8 absolute, which any real mistake in a backward pass exceeds by orders of magnitude.
 *
 * Shapes are drawn at random (seeded) and include odd sizes, kernels larger than the
 * input, 1×1 kernels, stride 3 and output_padding; gradient buffers start non-zero, so
 * backward must add into them. */
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
#include "../../nn/conv2d.h"
#include "../../nn/conv_transpose2d.h"
#include "../../nn/groupnorm.h"
#include "../../nn/pool.h"

_Static_assert(sizeof(scalar) == sizeof(double), "fd_conv needs the double build (-DNN_DOUBLE)");

#ifndef H_STEP
#define H_STEP 1e-6
#endif
#ifndef FLOOR
#define FLOOR 1e-2
#endif
#define TOL 1e-6

typedef enum { CONV, CONV_T, GROUPNORM, AVGPOOL, UPSAMPLE } Kind;

typedef struct {
    Kind kind;
    ConvDims d;          /* CONV, CONV_T */
    int B, C, H, W, G, k; /* GROUPNORM (G), AVGPOOL and UPSAMPLE (k) */
    int n_tensors;       /* what is differentiated: the input, then weights */
    const char *names[3];
    double *val[3], *grad[3];
    size_t size[3];
    double *out, *R, *scratch, *mean, *rstd;
    size_t n_out;
} Case;

static double worst_overall, worst_abs_overall;
static size_t checked_overall;

static double *alloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void fill_normal(Rng *r, double *p, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(r);
}

static void forward(Case *c, double *out) {
    switch (c->kind) {
    case CONV: conv2d_forward(out, c->scratch, c->val[0], c->val[1], c->val[2], &c->d); break;
    case CONV_T: conv_transpose2d_forward(out, c->scratch, c->val[0], c->val[1], c->val[2], &c->d); break;
    case GROUPNORM:
        groupnorm_forward(out, c->mean, c->rstd, c->val[0], c->val[1], c->val[2], c->B, c->C, c->H, c->W, c->G);
        break;
    case AVGPOOL: avgpool2d_forward(out, c->val[0], c->B, c->C, c->H, c->W, c->k); break;
    case UPSAMPLE: upsample_nearest_forward(out, c->val[0], c->B, c->C, c->H, c->W, c->k); break;
    }
}

static void backward(Case *c) {
    switch (c->kind) {
    case CONV:
        conv2d_backward(c->grad[0], c->grad[1], c->grad[2], c->scratch, c->R, c->val[0], c->val[1], &c->d);
        break;
    case CONV_T:
        conv_transpose2d_backward(c->grad[0], c->grad[1], c->grad[2], c->scratch, c->R, c->val[0], c->val[1], &c->d);
        break;
    case GROUPNORM:
        groupnorm_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->val[0], c->val[1], c->mean, c->rstd, c->B,
                           c->C, c->H, c->W, c->G);
        break;
    case AVGPOOL: avgpool2d_backward(c->grad[0], c->R, c->B, c->C, c->H, c->W, c->k); break;
    case UPSAMPLE: upsample_nearest_backward(c->grad[0], c->R, c->B, c->C, c->H, c->W, c->k); break;
    }
}

/* Fills values, R and non-zero starting gradients, runs backward, and compares every
 * element's gradient with its central difference. */
static void check_case(Case *c, Rng *r, const char *label) {
    fill_normal(r, c->R, c->n_out, 1.0);
    double *start[3];
    for (int t = 0; t < c->n_tensors; t++) {
        start[t] = alloc(c->size[t]);
        fill_normal(r, start[t], c->size[t], 1.0);
        memcpy(c->grad[t], start[t], c->size[t] * sizeof(double));
    }
    forward(c, c->out); /* saves mean/rstd for groupnorm */
    backward(c);
    double *plus = alloc(c->n_out), *minus = alloc(c->n_out), worst = 0;
    size_t checked = 0;
    for (int t = 0; t < c->n_tensors; t++) {
        double worst_t = 0;
        for (size_t i = 0; i < c->size[t]; i++) {
            double v = c->val[t][i];
            c->val[t][i] = v + H_STEP;
            forward(c, plus);
            c->val[t][i] = v - H_STEP;
            forward(c, minus);
            c->val[t][i] = v;
            double diff = 0;
            for (size_t o = 0; o < c->n_out; o++) diff += (plus[o] - minus[o]) * c->R[o];
            double fd = diff / (2 * H_STEP), an = c->grad[t][i] - start[t][i];
            double e = fabs(an - fd) / fmax(fmax(fabs(an), fabs(fd)), FLOOR);
            if (e > worst_t) worst_t = e;
            if (fabs(an - fd) > worst_abs_overall) worst_abs_overall = fabs(an - fd);
            if (!(e <= TOL))
                fail_msg("%s: d%s[%zu]: analytic %.12g, finite difference %.12g (rel error %.3g)", label,
                         c->names[t], i, an, fd, e);
        }
        printf("  %-44s d%-6s %5zu elements  max rel error %.2e\n", label, c->names[t], c->size[t], worst_t);
        if (worst_t > worst) worst = worst_t;
        checked += c->size[t];
    }
    if (worst > worst_overall) worst_overall = worst;
    checked_overall += checked;
    free(plus), free(minus);
    for (int t = 0; t < c->n_tensors; t++) free(start[t]);
}

static void free_case(Case *c) {
    for (int t = 0; t < c->n_tensors; t++) free(c->val[t]), free(c->grad[t]);
    free(c->out), free(c->R), free(c->scratch), free(c->mean), free(c->rstd);
}

static int pick(Rng *r, int lo, int hi) { return lo + (int)rng_below(r, (uint64_t)(hi - lo + 1)); }

/* ---- conv2d and conv_transpose2d ---------------------------------------------------- */

static void run_conv(Rng *r, ConvDims d, int transpose, int with_bias) {
    Case c = {.kind = transpose ? CONV_T : CONV, .d = d, .n_tensors = with_bias ? 3 : 2,
              .names = {"in", "weight", "bias"}};
    int OH = transpose ? conv_transpose2d_out_h(&d) : conv2d_out_h(&d);
    int OW = transpose ? conv_transpose2d_out_w(&d) : conv2d_out_w(&d);
    c.size[0] = (size_t)d.B * d.C_in * d.H * d.W;
    c.size[1] = (size_t)d.C_out * d.C_in * d.KH * d.KW;
    c.size[2] = (size_t)d.C_out;
    c.n_out = (size_t)d.B * d.C_out * OH * OW;
    for (int t = 0; t < 3; t++) c.val[t] = alloc(c.size[t]), c.grad[t] = alloc(c.size[t]);
    if (!with_bias) free(c.val[2]), free(c.grad[2]), c.val[2] = c.grad[2] = NULL;
    fill_normal(r, c.val[0], c.size[0], 1.0);
    fill_normal(r, c.val[1], c.size[1], 1.0 / sqrt((double)d.C_in * d.KH * d.KW));
    if (with_bias) fill_normal(r, c.val[2], c.size[2], 0.5);
    c.out = alloc(c.n_out), c.R = alloc(c.n_out);
    c.scratch = alloc(transpose ? conv_transpose2d_scratch_size(&d) : conv2d_scratch_size(&d));
    char label[160];
    snprintf(label, sizeof label, "%s B%d C%d>%d %dx%d k%dx%d s%d p%d%s%s", transpose ? "convT" : "conv2d", d.B,
             d.C_in, d.C_out, d.H, d.W, d.KH, d.KW, d.stride, d.pad, transpose && d.out_pad ? " op1" : "",
             with_bias ? "" : " nobias");
    check_case(&c, r, label);
    free_case(&c);
}

static ConvDims random_conv(Rng *r, int transpose) {
    for (;;) {
        ConvDims d = {.B = pick(r, 1, 2), .C_in = pick(r, 1, 4), .H = pick(r, 1, 9), .W = pick(r, 1, 9),
                      .C_out = pick(r, 1, 4), .KH = pick(r, 1, 4), .KW = pick(r, 1, 4), .stride = pick(r, 1, 3)};
        d.pad = pick(r, 0, (d.KH < d.KW ? d.KH : d.KW) - 1);
        if (transpose) {
            d.out_pad = pick(r, 0, d.stride - 1);
            if (conv_transpose2d_out_h(&d) >= 1 && conv_transpose2d_out_w(&d) >= 1) return d;
        } else if (d.H + 2 * d.pad >= d.KH && d.W + 2 * d.pad >= d.KW) {
            return d;
        }
    }
}

static void test_conv2d(void **state) {
    Rng r;
    rng_seed(&r, 1);
    /* The layers' usual shapes, then random ones. */
    run_conv(&r, (ConvDims){.B = 2, .C_in = 3, .H = 7, .W = 9, .C_out = 5, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
             0, 1);
    run_conv(&r, (ConvDims){.B = 2, .C_in = 3, .H = 7, .W = 9, .C_out = 5, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
             0, 1);
    run_conv(&r, (ConvDims){.B = 2, .C_in = 4, .H = 5, .W = 3, .C_out = 3, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
             0, 1);
    /* A kernel larger than the input, reaching into the padding on every side. */
    run_conv(&r, (ConvDims){.B = 1, .C_in = 2, .H = 2, .W = 3, .C_out = 2, .KH = 4, .KW = 4, .stride = 1, .pad = 2},
             0, 0);
    for (int i = 0; i < 6; i++) run_conv(&r, random_conv(&r, 0), 0, i % 3 != 2);
}

static void test_conv_transpose2d(void **state) {
    Rng r;
    rng_seed(&r, 2);
    /* The decoder's ×2 upsampler, then output_padding, then 1×1. */
    run_conv(&r, (ConvDims){.B = 2, .C_in = 3, .H = 7, .W = 9, .C_out = 5, .KH = 4, .KW = 4, .stride = 2, .pad = 1},
             1, 1);
    run_conv(&r, (ConvDims){.B = 2, .C_in = 3, .H = 5, .W = 7, .C_out = 2, .KH = 3, .KW = 3, .stride = 2, .pad = 1,
                            .out_pad = 1},
             1, 1);
    run_conv(&r, (ConvDims){.B = 1, .C_in = 2, .H = 3, .W = 4, .C_out = 3, .KH = 1, .KW = 1, .stride = 1, .pad = 0},
             1, 0);
    for (int i = 0; i < 6; i++) run_conv(&r, random_conv(&r, 1), 1, i % 3 != 2);
}

/* ---- groupnorm ------------------------------------------------------------------------ */

static void run_groupnorm(Rng *r, int B, int C, int H, int W, int G) {
    Case c = {.kind = GROUPNORM, .B = B, .C = C, .H = H, .W = W, .G = G, .n_tensors = 3,
              .names = {"in", "weight", "bias"}};
    c.size[0] = c.n_out = (size_t)B * C * H * W;
    c.size[1] = c.size[2] = (size_t)C;
    for (int t = 0; t < 3; t++) c.val[t] = alloc(c.size[t]), c.grad[t] = alloc(c.size[t]);
    fill_normal(r, c.val[0], c.size[0], 1.0);
    fill_normal(r, c.val[1], (size_t)C, 0.3);
    for (int i = 0; i < C; i++) c.val[1][i] += 1.0;
    fill_normal(r, c.val[2], (size_t)C, 0.3);
    c.out = alloc(c.n_out), c.R = alloc(c.n_out);
    c.mean = alloc((size_t)B * G), c.rstd = alloc((size_t)B * G);
    char label[160];
    snprintf(label, sizeof label, "groupnorm B%d C%d G%d %dx%d", B, C, G, H, W);
    check_case(&c, r, label);
    free_case(&c);
}

static void test_groupnorm(void **state) {
    Rng r;
    rng_seed(&r, 3);
    run_groupnorm(&r, 2, 6, 7, 9, 2);
    run_groupnorm(&r, 2, 6, 7, 9, 3);
    run_groupnorm(&r, 1, 4, 3, 5, 4); /* one channel per group */
    run_groupnorm(&r, 2, 3, 1, 5, 1); /* one group: layer norm over C, H, W */
    for (int i = 0; i < 4; i++) {
        int G = pick(&r, 1, 4), C = G * pick(&r, 1, 3), H = pick(&r, 1, 7), W = pick(&r, 1, 7);
        if ((size_t)(C / G) * H * W < 4) W += 4; /* groups of 1–3 values are nearly degenerate */
        run_groupnorm(&r, pick(&r, 1, 2), C, H, W, G);
    }
}

/* ---- avgpool and upsample ------------------------------------------------------------- */

static void run_resample(Rng *r, Kind kind, int B, int C, int H, int W, int k) {
    Case c = {.kind = kind, .B = B, .C = C, .H = H, .W = W, .k = k, .n_tensors = 1, .names = {"in"}};
    c.size[0] = (size_t)B * C * H * W;
    c.n_out = kind == UPSAMPLE ? c.size[0] * k * k : (size_t)B * C * (H / k) * (W / k);
    c.val[0] = alloc(c.size[0]), c.grad[0] = alloc(c.size[0]);
    fill_normal(r, c.val[0], c.size[0], 1.0);
    c.out = alloc(c.n_out), c.R = alloc(c.n_out);
    char label[160];
    snprintf(label, sizeof label, "%s B%d C%d %dx%d k%d", kind == UPSAMPLE ? "upsample" : "avgpool", B, C, H, W, k);
    check_case(&c, r, label);
    free_case(&c);
}

static void test_avgpool(void **state) {
    Rng r;
    rng_seed(&r, 4);
    run_resample(&r, AVGPOOL, 2, 3, 7, 9, 2);
    run_resample(&r, AVGPOOL, 1, 2, 8, 6, 2);
    run_resample(&r, AVGPOOL, 2, 2, 7, 9, 3);
    for (int i = 0; i < 3; i++) {
        int k = pick(&r, 1, 3);
        run_resample(&r, AVGPOOL, pick(&r, 1, 2), pick(&r, 1, 3), pick(&r, k, 9), pick(&r, k, 9), k);
    }
}

static void test_upsample(void **state) {
    Rng r;
    rng_seed(&r, 5);
    run_resample(&r, UPSAMPLE, 2, 3, 7, 9, 2);
    run_resample(&r, UPSAMPLE, 1, 2, 3, 5, 3);
    for (int i = 0; i < 3; i++)
        run_resample(&r, UPSAMPLE, pick(&r, 1, 2), pick(&r, 1, 3), pick(&r, 1, 6), pick(&r, 1, 6), pick(&r, 1, 3));
}

static void test_report(void **state) {
    printf("  %zu gradient elements checked, worst relative error %.2e (limit %.0e, h %.0e, floor %.0e), "
           "worst absolute error %.2e\n", checked_overall, worst_overall, TOL, H_STEP, FLOOR, worst_abs_overall);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),   cmocka_unit_test(test_conv_transpose2d), cmocka_unit_test(test_groupnorm),
        cmocka_unit_test(test_avgpool),  cmocka_unit_test(test_upsample),         cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
