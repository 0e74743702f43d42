/* test_recon_metrics: eval/recon_metrics (PSNR and SSIM of uint8 images).
 *
 * SSIM is checked against tests/ref/ref_recon_metrics.py (TESSERA_REF/recon_metrics.tsr): pairs
 * from 1×1 to 64×64×3 (noise, random against smooth, an identical pair, constants, shifts, an
 * inverted image whose SSIM is negative, sides below the 11×11 window) whose SSIM the numpy
 * implementation in tools/recon_metrics.py computed with the explicit 2-D window, where the C
 * code filters separably. Both are double throughout, so they agree to rounding; the bound is
 * 1e-6 relative (of max(|want|, 1e-3), since one case has SSIM 1e-4 and another near 0.01).
 *
 * PSNR is checked on pairs with a known MSE, and on the cap: identical and nearly identical
 * huge images give RECON_PSNR_MAX. SSIM is also checked from its definition where that is
 * short: 1 for identical images, symmetry, channels averaged, the single-pixel formula and one
 * 9×9 window computed here directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../eval/recon_metrics.h"
#include "assert_near.h"
#include "tensorfile.h"

#define TOL_REL 1e-6
#define TOL_FLOOR 1e-3
#define C1 (0.01 * 255 * 0.01 * 255)
#define C2 (0.03 * 255 * 0.03 * 255)

static uint8_t *image(size_t n) {
    uint8_t *p = calloc(n ? n : 1, 1);
    assert_non_null(p);
    return p;
}

/* Deterministic pseudo-random bytes (an LCG), so no case depends on libc's rand. */
static void fill_random(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}


static double rel_error(double got, double want) {
    return fabs(got - want) / fmax(fabs(want), TOL_FLOOR);
}

static void test_matches_numpy_reference(void **state) {
    TensorFile *tf = tf_load_ref("recon_metrics.tsr");
    const TfTensor *dims = tf_get(tf, "dims", TF_I32, 0);
    assert_int_equal(dims->ndim, 2);
    assert_int_equal(dims->dims[1], 3);
    size_t cases = dims->dims[0];
    assert_true(cases >= 10);
    const int32_t *d = dims->data;
    const double *want_psnr = tf_get(tf, "psnr", TF_F64, cases)->data;
    const double *want_ssim = tf_get(tf, "ssim", TF_F64, cases)->data;
    double worst_psnr = 0, worst_ssim = 0;
    for (size_t i = 0; i < cases; i++) {
        int H = d[3 * i], W = d[3 * i + 1], C = d[3 * i + 2];
        size_t n = (size_t)H * (size_t)W * (size_t)C;
        char name[32];
        uint8_t *img[2];
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%c%zu", k ? 'b' : 'a', i);
            const int32_t *px = tf_i32(tf, name, n);
            img[k] = image(n);
            for (size_t j = 0; j < n; j++) {
                assert_true(px[j] >= 0 && px[j] <= 255);
                img[k][j] = (uint8_t)px[j];
            }
        }
        double p = recon_psnr(img[0], img[1], H, W, C), s = recon_ssim(img[0], img[1], H, W, C);
        double ep = rel_error(p, want_psnr[i]), es = rel_error(s, want_ssim[i]);
        printf("  case %2zu  %2dx%2dx%d  PSNR %8.4f (rel err %.1e)  SSIM %+.6f (rel err %.1e)\n", i, H, W, C, p, ep,
               s, es);
        if (!(ep <= TOL_REL)) fail_msg("case %zu: PSNR %.12g, numpy %.12g", i, p, want_psnr[i]);
        if (!(es <= TOL_REL)) fail_msg("case %zu: SSIM %.12g, numpy %.12g", i, s, want_ssim[i]);
        worst_psnr = fmax(worst_psnr, ep);
        worst_ssim = fmax(worst_ssim, es);
        free(img[0]);
        free(img[1]);
    }
    printf("  %zu cases: worst relative error PSNR %.1e, SSIM %.1e\n", cases, worst_psnr, worst_ssim);
    tf_free(tf);
}

/* PSNR from MSEs worked out by hand. */
static void test_psnr_known_mse(void **state) {
    uint8_t *a = image(10 * 10 * 3), *b = image(10 * 10 * 3);
    /* One of 100 gray values differs by 255: MSE = 255²/100, PSNR = 10·log10(100) = 20 dB. */
    b[37] = 255;
    assert_near(recon_psnr(a, b, 10, 10, 1), 20.0, 1e-12);
    /* Every value off by 1: MSE = 1, PSNR = 20·log10(255). */
    for (int i = 0; i < 300; i++) a[i] = 100, b[i] = (uint8_t)(i % 2 ? 101 : 99);
    assert_near(recon_psnr(a, b, 10, 10, 3), 20 * log10(255.0), 1e-12);
    /* Off by 16 in one channel of three: MSE = 256/3 over all values, not per channel. */
    for (int i = 0; i < 300; i++) b[i] = (uint8_t)(i % 3 == 1 ? 116 : 100);
    assert_near(recon_psnr(a, b, 10, 10, 3), 10 * log10(255.0 * 255.0 * 3 / 256), 1e-12);
    /* Black against white: MSE = 255², 0 dB. */
    memset(a, 0, 300);
    memset(b, 255, 300);
    assert_near(recon_psnr(a, b, 10, 10, 3), 0.0, 1e-12);
    assert_near(recon_psnr(b, a, 10, 10, 3), 0.0, 1e-12);
    free(a);
    free(b);
}

/* Identical images give the cap, and no pair scores above it: one value off by 1 in a
 * 512×512 image is MSE 2^-18, 102.3 dB uncapped. */
static void test_psnr_is_capped(void **state) {
    size_t n = 512 * 512;
    uint8_t *a = image(n), *b = image(n);
    fill_random(a, n, 1);
    memcpy(b, a, n);
    assert_true(recon_psnr(a, b, 512, 512, 1) == RECON_PSNR_MAX);
    assert_true(recon_psnr(a, b, 1, 1, 1) == RECON_PSNR_MAX);
    b[1000] = (uint8_t)(a[1000] ^ 1);
    assert_true(recon_psnr(a, b, 512, 512, 1) == RECON_PSNR_MAX);
    /* The same single difference in a 100×100 image: 10·log10(255²·10⁴) = 88.13 dB. */
    assert_near(recon_psnr(a, b, 100, 100, 1), 10 * log10(255.0 * 255.0 * 10000), 1e-9);
    free(a);
    free(b);
}

static void test_empty_images_are_nan(void **state) {
    uint8_t px[4] = {0};
    assert_true(isnan(recon_psnr(px, px, 0, 4, 1)));
    assert_true(isnan(recon_psnr(px, px, 4, 0, 1)));
    assert_true(isnan(recon_psnr(px, px, 2, 2, 0)));
    assert_true(isnan(recon_ssim(px, px, 0, 4, 1)));
    assert_true(isnan(recon_ssim(px, px, 4, -1, 1)));
    assert_true(isnan(recon_ssim(px, px, 2, 2, 0)));
}

/* SSIM(a, a) = 1 at every size, and SSIM is symmetric and within [-1, 1]. */
static void test_ssim_identity_and_symmetry(void **state) {
    const int sizes[][3] = {{28, 28, 1}, {64, 64, 3}, {23, 31, 3}, {11, 11, 1}, {10, 40, 2}, {3, 3, 3}, {1, 7, 1}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int H = sizes[t][0], W = sizes[t][1], C = sizes[t][2];
        size_t n = (size_t)H * (size_t)W * (size_t)C;
        uint8_t *a = image(n), *b = image(n);
        fill_random(a, n, (uint32_t)t + 10);
        fill_random(b, n, (uint32_t)t + 20);
        assert_near(recon_ssim(a, a, H, W, C), 1.0, 1e-12);
        double ab = recon_ssim(a, b, H, W, C), ba = recon_ssim(b, a, H, W, C);
        assert_near(ab, ba, 1e-12);
        assert_true(ab >= -1 && ab < 1);
        free(a);
        free(b);
    }
}

/* A multi-channel SSIM is the mean of the SSIMs of its channels taken as gray images. */
static void test_ssim_averages_channels(void **state) {
    enum { H = 30, W = 25, C = 3 };
    uint8_t a[H * W * C], b[H * W * C], ca[C][H * W], cb[C][H * W];
    fill_random(a, sizeof a, 3);
    for (size_t i = 0; i < sizeof a; i++) b[i] = (uint8_t)(a[i] / 2 + (i % 7) * 10); /* correlated */
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H * W; i++) ca[c][i] = a[i * C + c], cb[c][i] = b[i * C + c];
    double mean = 0;
    for (int c = 0; c < C; c++) mean += recon_ssim(ca[c], cb[c], H, W, 1) / C;
    assert_near(recon_ssim(a, b, H, W, C), mean, 1e-12);
}

/* One pixel: the window is that pixel, the variances vanish, SSIM = (2ab + C1) / (a² + b² + C1). */
static void test_ssim_single_pixel(void **state) {
    const uint8_t pairs[][2] = {{200, 50}, {0, 255}, {0, 0}, {17, 18}, {255, 255}};
    for (size_t t = 0; t < sizeof pairs / sizeof pairs[0]; t++) {
        double x = pairs[t][0], y = pairs[t][1];
        double want = (2 * x * y + C1) / (x * x + y * y + C1);
        assert_near(recon_ssim(&pairs[t][0], &pairs[t][1], 1, 1, 1), want, 1e-12);
    }
    /* 1×N and N×1: the window is still 1×1, so the map is the per-pixel formula, averaged. */
    uint8_t a[5] = {0, 60, 120, 180, 240}, b[5] = {10, 50, 150, 180, 200};
    double want = 0;
    for (int i = 0; i < 5; i++) want += (2.0 * a[i] * b[i] + C1) / ((double)a[i] * a[i] + (double)b[i] * b[i] + C1) / 5;
    assert_near(recon_ssim(a, b, 1, 5, 1), want, 1e-12);
    assert_near(recon_ssim(a, b, 5, 1, 1), want, 1e-12);
}

/* A 9×9 image has one window position, with the 9×9 window (the largest odd size that fits):
 * SSIM straight from the definition with the 2-D weights, computed here. A 10×10 image uses
 * the same window at four positions. */
static void test_ssim_small_image_window(void **state) {
    enum { N = 9 };
    uint8_t a[N * N], b[N * N];
    fill_random(a, sizeof a, 5);
    for (int i = 0; i < N * N; i++) b[i] = (uint8_t)((a[i] * 3 + i * 11) % 256);
    double w[N][N], sum = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) sum += w[i][j] = exp(-((i - 4) * (i - 4) + (j - 4) * (j - 4)) / (2 * 1.5 * 1.5));
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double p = w[i][j] / sum, x = a[i * N + j], y = b[i * N + j];
            mx += p * x, my += p * y;
            sxx += p * x * x, syy += p * y * y, sxy += p * x * y;
        }
    double vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my;
    double want = (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
    assert_near(recon_ssim(a, b, N, N, 1), want, 1e-12);
    /* Even sides round down: a 10×10 image takes the same 9×9 window at four positions, and its
     * SSIM is the mean over them: the mean of the SSIMs of its four 9×9 crops, the first being
     * the image above. */
    uint8_t a10[100], b10[100];
    fill_random(a10, sizeof a10, 6);
    fill_random(b10, sizeof b10, 7);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) a10[i * 10 + j] = a[i * N + j], b10[i * 10 + j] = b[i * N + j];
    double crops = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            uint8_t ca[N * N], cb[N * N];
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) ca[i * N + j] = a10[(i + dy) * 10 + j + dx], cb[i * N + j] = b10[(i + dy) * 10 + j + dx];
            double s = recon_ssim(ca, cb, N, N, 1);
            if (dy == 0 && dx == 0) assert_near(s, want, 1e-12);
            crops += s / 4;
        }
    assert_near(recon_ssim(a10, b10, 10, 10, 1), crops, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_numpy_reference), cmocka_unit_test(test_psnr_known_mse),
        cmocka_unit_test(test_psnr_is_capped),          cmocka_unit_test(test_empty_images_are_nan),
        cmocka_unit_test(test_ssim_identity_and_symmetry), cmocka_unit_test(test_ssim_averages_channels),
        cmocka_unit_test(test_ssim_single_pixel),       cmocka_unit_test(test_ssim_small_image_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
