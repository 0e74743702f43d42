/* fd_convnet: nn/convnet's wiring — node order, residual branches read twice, the input
 * gradient, parameter binding — against central finite differences of its own forward
 * pass, in double precision (built with -DNN_DOUBLE). The layers' arithmetic is checked on
 * its own in fd_conv.c and test_nn_conv.c; here a small VQ-VAE-shaped net (conv, residual
 * block with groupnorm and SiLU, strided conv, transposed conv) is differentiated whole.
 *
 * loss = sum(out * R); every parameter and every input element is moved by ±h and
 * (loss+ - loss-) / 2h compared with backward's gradient, relative error
 * |a - fd| / max(|a|, |fd|, FLOOR) ≤ 1e-6 (see fd_conv.c for the floor's reasoning). The
 * parameter gradients start non-zero, so backward must add into them. */
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
#include "../../nn/convnet.h"

_Static_assert(sizeof(scalar) == sizeof(double), "fd_convnet needs the double build (-DNN_DOUBLE)");

#define H_STEP 1e-6
#define FLOOR 1e-2
#define TOL 1e-6

static int build(ConvNet *n, int C, int H, int W) {
    convnet_init(n, "t", C, H, W);
    int h = convnet_conv(n, 0, 4, 3, 1, 1);
    int r = convnet_conv(n, convnet_silu(n, convnet_groupnorm(n, h, 2)), 4, 3, 1, 1);
    h = convnet_add(n, h, r); /* h is read by the add and by the groupnorm: two gradients meet */
    h = convnet_conv(n, h, 6, 4, 2, 1);
    h = convnet_avgpool(n, convnet_silu(n, convnet_groupnorm(n, h, 3)), 2); /* odd sizes drop a row */
    h = convnet_conv_transpose(n, h, 6, 4, 2, 1);
    h = convnet_conv_transpose(n, h, 3, 4, 2, 1);
    return convnet_conv(n, h, 2, 1, 1, 0);
}

static double loss_of(ConvNet *n, int B, const double *R, size_t n_out) {
    convnet_forward(n, B);
    const double *out = convnet_output(n);
    double total = 0;
    for (size_t k = 0; k < n_out; k++) total += out[k] * R[k];
    return total;
}

static double rel_err(double a, double b) { return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), FLOOR); }

static void check_net(int B, int C, int H, int W, uint64_t seed) {
    ConvNet n;
    build(&n, C, H, W);
    size_t n_specs;
    const ParamSpec *specs = convnet_specs(&n, &n_specs);
    ParamTable t;
    param_table_init(&t, specs, n_specs);
    double *params = param_table_alloc(&t), *grads = param_table_alloc(&t), *before = param_table_alloc(&t);
    convnet_bind(&n, params, grads, t.offsets);
    convnet_init_weights(&n, seed);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < t.total; i++) params[i] += 0.1 * rng_normal(&r); /* groupnorm affine off 1/0 too */
    for (size_t i = 0; i < t.total; i++) grads[i] = before[i] = rng_normal(&r);
    convnet_reserve(&n, B);
    const ConvNode *last = convnet_last(&n);
    assert_int_equal(last->H, 4 * ((H + 1) / 2 / 2)); /* stride 2, pool 2 (floor), two ×2 upsamplings */
    assert_int_equal(last->W, 4 * ((W + 1) / 2 / 2));
    size_t n_in = (size_t)B * C * H * W, n_out = (size_t)B * last->C * last->H * last->W;
    double *x = convnet_input(&n), *R = calloc(n_out, sizeof *R), *dx = calloc(n_in, sizeof *dx);
    for (size_t k = 0; k < n_in; k++) x[k] = rng_normal(&r);
    for (size_t k = 0; k < n_out; k++) R[k] = rng_normal(&r);

    loss_of(&n, B, R, n_out);
    memcpy(convnet_output_grad(&n), R, n_out * sizeof *R);
    convnet_backward(&n, B);
    memcpy(dx, convnet_input_grad(&n), n_in * sizeof *dx);

    double worst = 0;
    size_t checked = 0;
    for (size_t i = 0; i < t.total; i++) {
        double keep = params[i];
        params[i] = keep + H_STEP;
        double up = loss_of(&n, B, R, n_out);
        params[i] = keep - H_STEP;
        double down = loss_of(&n, B, R, n_out);
        params[i] = keep;
        double e = rel_err(grads[i] - before[i], (up - down) / (2 * H_STEP));
        if (e > worst) worst = e;
        checked++;
    }
    for (size_t k = 0; k < n_in; k++) {
        double keep = x[k];
        x[k] = keep + H_STEP;
        double up = loss_of(&n, B, R, n_out);
        x[k] = keep - H_STEP;
        double down = loss_of(&n, B, R, n_out);
        x[k] = keep;
        double e = rel_err(dx[k], (up - down) / (2 * H_STEP));
        if (e > worst) worst = e;
        checked++;
    }
    printf("  convnet B=%d C=%d %dx%d: %zu gradients, worst relative error %.2e\n", B, C, H, W, checked, worst);
    assert_true(worst <= TOL);
    free(R);
    free(dx);
    free(params);
    free(grads);
    free(before);
    param_table_free(&t);
    convnet_free(&n);
}

static void test_convnet_gradients(void **state) {
    (void)state;
    check_net(2, 1, 4, 6, 1);
    check_net(3, 3, 6, 6, 2);
    check_net(2, 1, 10, 10, 3); /* 5×5 pooled to 2×2: the dropped row and column get no gradient */
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_convnet_gradients)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
