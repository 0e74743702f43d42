/* test_resize: the resampler every record goes through (ingest/resize.h).
 *
 * resize.c is fast code (tap tables, float accumulators, a separable two-pass
 * filter), so it is checked against reference_resize.h, the same promise written
 * plainly from its definition in double precision: random images, random sizes with
 * non-integer ratios, odd sizes, 1, 3 and 4 channels, whole images, fractional boxes
 * and center_square boxes, for RESIZE_AREA and RESIZE_BILINEAR (at most 1 level off,
 * for float rounding). Exact properties are checked exactly: integer-ratio shrinking
 * is the rounded block mean, identity is a copy, enlarging with AREA is nearest
 * neighbour, a constant image stays constant, and a reused scratch gives the same
 * bytes as a fresh one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/resize.h"
#include "reference_resize.h"

/* A small deterministic generator (xorshift64*), so every run sees the same cases. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1)); } /* [lo, hi] */
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }           /* [0, 1) */

/* Noise is the hardest input for a resampler; smooth ramps catch off-by-one shifts. */
static uint8_t *random_image(int w, int h, int c, int smooth) {
    uint8_t *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                p[((size_t)y * w + x) * c + ch] =
                    smooth ? (uint8_t)((x * 7 + y * 3 + ch * 50) % 256) : (uint8_t)(rng_next() >> 56);
    return p;
}

typedef struct {
    int max_diff;
    size_t off_by_one;
} Diff;

static Diff diff(const uint8_t *a, const uint8_t *b, size_t n) {
    Diff d = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int e = abs((int)a[i] - (int)b[i]);
        if (e > d.max_diff) d.max_diff = e;
        if (e == 1) d.off_by_one++;
    }
    return d;
}

/* Resizes with resize.c and with the reference; returns the largest difference. */
static int check_against_reference(const uint8_t *src, int w, int h, int c, Box box, int dw, int dh, ResizeFilter f,
                                   ResizeScratch *scratch, size_t *off_by_one) {
    size_t n = (size_t)dw * dh * c;
    uint8_t *got = malloc(n), *want = malloc(n);
    resize_box(src, w, h, c, box, got, dw, dh, f, scratch);
    reference_resize(src, w, h, c, box, want, dw, dh, f);
    Diff d = diff(got, want, n);
    if (d.max_diff > 1)
        fprintf(stderr, "%s %dx%dx%d box [%.3f,%.3f)x[%.3f,%.3f) -> %dx%d: max diff %d\n", f == RESIZE_AREA ? "area" : "bilinear", w,
                h, c, box.x0, box.x1, box.y0, box.y1, dw, dh, d.max_diff);
    if (off_by_one) *off_by_one += d.off_by_one;
    free(got);
    free(want);
    return d.max_diff;
}

/* A span of exactly one source pixel starting at a fractional position is where
 * resize.c and the reference read the contract differently (see
 * test_area_unit_scale_with_fractional_box_averages); the random tests leave it out. */
static int unit_scale_fractional(double start, double end, int dst_len) {
    return (end - start) / dst_len == 1.0 && start != floor(start);
}

static Box random_box(int w, int h, int kind) {
    switch (kind) {
    case 0: return (Box){0, 0, w, h};
    case 1: return center_square(w, h);
    default: { /* a fractional sub-box covering at least half of each side */
        double x0 = rng_unit() * w / 4, x1 = w - rng_unit() * w / 4;
        double y0 = rng_unit() * h / 4, y1 = h - rng_unit() * h / 4;
        return (Box){x0, y0, x1, y1};
    }
    }
}

static void random_cases(ResizeFilter f, int shrink_only, int cases) {
    ResizeScratch scratch = {0};
    int worst = 0;
    size_t off_by_one = 0, pixels = 0;
    for (int t = 0; t < cases; t++) {
        int w = rng_int(1, 160), h = rng_int(1, 160);
        int c = (int[]){1, 3, 4}[t % 3];
        Box box = random_box(w, h, t % 3);
        int dw, dh;
        if (shrink_only) {
            dw = rng_int(1, (int)fmax(1, floor(box.x1 - box.x0)));
            dh = rng_int(1, (int)fmax(1, floor(box.y1 - box.y0)));
        } else {
            dw = rng_int(1, 200);
            dh = rng_int(1, 200);
        }
        if (unit_scale_fractional(box.x0, box.x1, dw) || unit_scale_fractional(box.y0, box.y1, dh)) continue;
        uint8_t *src = random_image(w, h, c, t % 5 == 0);
        int d = check_against_reference(src, w, h, c, box, dw, dh, f, &scratch, &off_by_one);
        if (d > worst) worst = d;
        pixels += (size_t)dw * dh * c;
        free(src);
    }
    printf("  %s, %d random cases: max diff %d, %zu of %zu values off by one\n", f == RESIZE_AREA ? "area" : "bilinear",
           cases, worst, off_by_one, pixels);
    assert_true(worst <= 1);
    resize_scratch_free(&scratch);
}

static void test_area_shrinking_matches_exact_area(void **state) { random_cases(RESIZE_AREA, 1, 400); }

static void test_area_any_size_matches_reference(void **state) { random_cases(RESIZE_AREA, 0, 300); }

static void test_bilinear_matches_reference(void **state) { random_cases(RESIZE_BILINEAR, 0, 400); }

/* center_square boxes of odd-shaped images, shrunk by non-integer ratios. */
static void test_area_center_square_boxes(void **state) {
    static const int shapes[][4] = {
        /* w, h, output side */
        {101, 100, 37}, {100, 101, 37}, {161, 119, 64}, {119, 161, 64}, {81, 60, 32},
        {1000, 750, 224}, {640, 427, 100}, {33, 8, 3}, {9, 250, 7}, {2, 3, 1},
    };
    ResizeScratch scratch = {0};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int c = 1; c <= 3; c += 2) {
            int w = shapes[i][0], h = shapes[i][1], side = shapes[i][2];
            uint8_t *src = random_image(w, h, c, 0);
            assert_true(check_against_reference(src, w, h, c, center_square(w, h), side, side, RESIZE_AREA, &scratch,
                                                NULL) <= 1);
            assert_true(check_against_reference(src, w, h, c, center_square(w, h), side, side, RESIZE_BILINEAR,
                                                &scratch, NULL) <= 1);
            free(src);
        }
    resize_scratch_free(&scratch);
}

/* Shrinking by an integer factor k averages k×k blocks: the result is the block
 * mean rounded half up (computed in integers here). An exact tie (a mean of n + 0.5,
 * possible for even k) may go either way when 1/k is not exact in float (k = 6, 10),
 * since resize.c accumulates float weights; for powers of two it must round up. */
static void test_area_integer_ratio_is_block_mean(void **state) {
    ResizeScratch scratch = {0};
    const int factors[] = {2, 3, 4, 5, 6, 7, 8, 10, 16};
    size_t ties = 0, ties_down = 0;
    for (int round = 0; round < 4; round++)
        for (size_t f = 0; f < sizeof factors / sizeof *factors; f++)
            for (int c = 1; c <= 3; c += 2) {
                int k = factors[f], dw = rng_int(1, 12), dh = rng_int(1, 12), w = dw * k, h = dh * k;
                int power_of_two = (k & (k - 1)) == 0;
                uint8_t *src = random_image(w, h, c, 0);
                uint8_t *got = malloc((size_t)dw * dh * c);
                resize_box(src, w, h, c, (Box){0, 0, w, h}, got, dw, dh, RESIZE_AREA, &scratch);
                for (int i = 0; i < dh; i++)
                    for (int j = 0; j < dw; j++)
                        for (int ch = 0; ch < c; ch++) {
                            long sum = 0, n = (long)k * k;
                            for (int y = i * k; y < (i + 1) * k; y++)
                                for (int x = j * k; x < (j + 1) * k; x++) sum += src[((size_t)y * w + x) * c + ch];
                            int want = (int)((2 * sum + n) / (2 * n)); /* round half up */
                            int have = got[((size_t)i * dw + j) * c + ch];
                            int tie = (2 * sum) % (2 * n) == n;
                            ties += tie;
                            if (tie && !power_of_two && have == want - 1) {
                                ties_down++;
                                continue;
                            }
                            if (have != want)
                                fail_msg("k=%d, %dx%dx%d, pixel (%d,%d,%d): block sum %ld / %ld -> want %d, got %d", k,
                                         w, h, c, i, j, ch, sum, n, want, have);
                        }
                free(got);
                free(src);
            }
    printf("  %zu exact ties, %zu of them rounded down (k = 6 or 10)\n", ties, ties_down);
    resize_scratch_free(&scratch);
}

/* Same size, whole image: a copy, whatever the filter. */
static void test_identity_is_exact(void **state) {
    ResizeScratch scratch = {0};
    for (int t = 0; t < 60; t++) {
        int w = rng_int(1, 90), h = rng_int(1, 90), c = (int[]){1, 3, 4}[t % 3];
        uint8_t *src = random_image(w, h, c, 0), *got = malloc((size_t)w * h * c);
        for (int f = RESIZE_AREA; f <= RESIZE_BILINEAR; f++) {
            resize_box(src, w, h, c, (Box){0, 0, w, h}, got, w, h, (ResizeFilter)f, &scratch);
            assert_memory_equal(got, src, (size_t)w * h * c);
        }
        free(got);
        free(src);
    }
    resize_scratch_free(&scratch);
}

/* Enlarging with AREA: each output pixel is the source pixel under its centre. */
static void test_area_enlarging_is_nearest_neighbour(void **state) {
    ResizeScratch scratch = {0};
    for (int t = 0; t < 60; t++) {
        int w = rng_int(1, 20), h = rng_int(1, 20), c = t % 2 ? 3 : 1;
        int dw = w + rng_int(1, 60), dh = h + rng_int(1, 60);
        uint8_t *src = random_image(w, h, c, 0), *got = malloc((size_t)dw * dh * c);
        resize_box(src, w, h, c, (Box){0, 0, w, h}, got, dw, dh, RESIZE_AREA, &scratch);
        for (int i = 0; i < dh; i++)
            for (int j = 0; j < dw; j++) {
                /* The centre (j + 0.5) * w / dw, floored, in integers: (2j + 1) * w / (2 dw).
                 * A centre exactly on a pixel edge may land on either side in floating point. */
                int sy = (2 * i + 1) * h / (2 * dh), sx = (2 * j + 1) * w / (2 * dw);
                int y_edge = (2 * i + 1) * h % (2 * dh) == 0, x_edge = (2 * j + 1) * w % (2 * dw) == 0;
                const uint8_t *p = got + ((size_t)i * dw + j) * c;
                int match = 0;
                for (int ty = sy - y_edge; ty <= sy; ty++)
                    for (int tx = sx - x_edge; tx <= sx; tx++)
                        match |= memcmp(p, src + ((size_t)ty * w + tx) * c, (size_t)c) == 0;
                if (!match) fail_msg("%dx%d -> %dx%d: output (%d,%d) is not source (%d,%d)", w, h, dw, dh, i, j, sy, sx);
            }
        free(got);
        free(src);
    }
    resize_scratch_free(&scratch);
}

/* A few values worked out by hand, so the reference itself is pinned down. */
static void test_hand_worked_values(void **state) {
    ResizeScratch scratch = {0};
    uint8_t out[8];
    /* Area, 3 -> 2: spans [0,1.5) and [1.5,3): (0 + 90/2) / 1.5 = 30, (90/2 + 180) / 1.5 = 150. */
    const uint8_t three[] = {0, 90, 180};
    resize_box(three, 3, 1, 1, (Box){0, 0, 3, 1}, out, 2, 1, RESIZE_AREA, &scratch);
    assert_int_equal(out[0], 30);
    assert_int_equal(out[1], 150);
    /* Bilinear, 2 -> 4: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped). */
    const uint8_t two[] = {0, 255};
    resize_box(two, 2, 1, 1, (Box){0, 0, 2, 1}, out, 4, 1, RESIZE_BILINEAR, &scratch);
    const uint8_t want_bilinear[] = {0, 64, 191, 255}; /* 63.75 and 191.25 rounded */
    assert_memory_equal(out, want_bilinear, 4);
    /* Area of the fractional box [0.5, 2.5) to 1 pixel: (0 * 0.5 + 90 * 1 + 180 * 0.5) / 2 = 90. */
    resize_box(three, 3, 1, 1, (Box){0.5, 0, 2.5, 1}, out, 1, 1, RESIZE_AREA, &scratch);
    assert_int_equal(out[0], 90);
    /* Area, 4 -> 1 of 1, 2, 2, 2: the mean 1.75 rounds to 2. */
    const uint8_t four[] = {1, 2, 2, 2};
    resize_box(four, 4, 1, 1, (Box){0, 0, 4, 1}, out, 1, 1, RESIZE_AREA, &scratch);
    assert_int_equal(out[0], 2);
    const uint8_t ties[] = {1, 2}; /* 1.5: half rounds up */
    resize_box(ties, 2, 1, 1, (Box){0, 0, 2, 1}, out, 1, 1, RESIZE_AREA, &scratch);
    assert_int_equal(out[0], 2);
    resize_scratch_free(&scratch);
}

/* Weights must sum to one: a constant image stays that constant, at every size. */
static void test_constant_image_stays_constant(void **state) {
    ResizeScratch scratch = {0};
    const uint8_t values[] = {0, 1, 128, 254, 255};
    for (int t = 0; t < 100; t++) {
        int w = rng_int(1, 120), h = rng_int(1, 120), c = t % 2 ? 3 : 1, dw = rng_int(1, 150), dh = rng_int(1, 150);
        uint8_t v = values[t % 5];
        uint8_t *src = malloc((size_t)w * h * c), *got = malloc((size_t)dw * dh * c);
        memset(src, v, (size_t)w * h * c);
        Box box = random_box(w, h, t % 3);
        for (int f = RESIZE_AREA; f <= RESIZE_BILINEAR; f++) {
            resize_box(src, w, h, c, box, got, dw, dh, (ResizeFilter)f, &scratch);
            for (size_t i = 0; i < (size_t)dw * dh * c; i++)
                if (got[i] != v) fail_msg("constant %d, %dx%d -> %dx%d (%s): got %d", v, w, h, dw, dh,
                                          f == RESIZE_AREA ? "area" : "bilinear", got[i]);
        }
        free(got);
        free(src);
    }
    resize_scratch_free(&scratch);
}

/* A worker reuses one scratch for every image: big, small, big again must give the
 * same bytes as a fresh scratch each time. */
static void test_scratch_reuse_matches_fresh(void **state) {
    static const int sizes[][4] = {{300, 200, 64, 64}, {20, 10, 5, 3}, {500, 90, 200, 30}, {7, 7, 100, 100},
                                   {300, 200, 64, 64}, {3, 400, 2, 50}};
    ResizeScratch reused = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int f = RESIZE_AREA; f <= RESIZE_BILINEAR; f++) {
            int w = sizes[i][0], h = sizes[i][1], dw = sizes[i][2], dh = sizes[i][3];
            uint8_t *src = random_image(w, h, 3, 0);
            uint8_t *a = malloc((size_t)dw * dh * 3), *b = malloc((size_t)dw * dh * 3);
            ResizeScratch fresh = {0};
            resize_box(src, w, h, 3, center_square(w, h), a, dw, dh, (ResizeFilter)f, &reused);
            resize_box(src, w, h, 3, center_square(w, h), b, dw, dh, (ResizeFilter)f, &fresh);
            assert_memory_equal(a, b, (size_t)dw * dh * 3);
            resize_scratch_free(&fresh);
            free(a);
            free(b);
            free(src);
        }
    resize_scratch_free(&reused);
}

static void test_center_square(void **state) {
    static const struct {
        int w, h;
        Box want;
    } cases[] = {
        {100, 100, {0, 0, 100, 100}},  {101, 100, {0.5, 0, 100.5, 100}}, {100, 101, {0, 0.5, 100, 100.5}},
        {100, 150, {0, 25, 100, 125}}, {640, 480, {80, 0, 560, 480}},    {1, 7, {0, 3, 1, 4}},
        {7, 1, {3, 0, 4, 1}},          {1, 1, {0, 0, 1, 1}},             {2, 5, {0, 1.5, 2, 3.5}},
        {65535, 1, {32767, 0, 32768, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Box b = center_square(cases[i].w, cases[i].h);
        assert_true(b.x0 == cases[i].want.x0 && b.y0 == cases[i].want.y0);
        assert_true(b.x1 == cases[i].want.x1 && b.y1 == cases[i].want.y1);
        /* Square, inside the image, centred. */
        assert_true(b.x1 - b.x0 == b.y1 - b.y0);
        assert_true(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= cases[i].w && b.y1 <= cases[i].h);
        assert_true(b.x0 == cases[i].w - b.x1 && b.y0 == cases[i].h - b.y1);
    }
}

/* The contract: AREA averages the source area an output pixel covers, and switches to
 * nearest neighbour only when enlarging. A box of side N shrunk to N is not enlarging,
 * and when it starts half-way into a pixel (center_square of 101x100, or of the 81x60 a
 * 161x119 JPEG decodes to at 1/2 for size 60) each output pixel covers half of two
 * source pixels, so it should be their mean. resize.c takes the scale-1 case as
 * enlarging and picks one of the two: the crop moves by half a pixel. */
static void test_area_unit_scale_with_fractional_box_averages(void **state) {
    ResizeScratch scratch = {0};
    const int shapes[][2] = {{101, 100}, {81, 60}, {41, 30}, {60, 81}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        int w = shapes[i][0], h = shapes[i][1], side = w < h ? w : h;
        uint8_t *src = random_image(w, h, 3, 0);
        int d = check_against_reference(src, w, h, 3, center_square(w, h), side, side, RESIZE_AREA, &scratch, NULL);
        free(src);
        if (d > 1) {
            resize_scratch_free(&scratch); /* fail_msg does not return */
            fail_msg("%dx%d center square to %dx%d with area: max diff %d from the mean of the covered area", w, h,
                     side, side, d);
        }
    }
    resize_scratch_free(&scratch);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_area_shrinking_matches_exact_area),
        cmocka_unit_test(test_area_any_size_matches_reference),
        cmocka_unit_test(test_bilinear_matches_reference),
        cmocka_unit_test(test_area_center_square_boxes),
        cmocka_unit_test(test_area_integer_ratio_is_block_mean),
        cmocka_unit_test(test_identity_is_exact),
        cmocka_unit_test(test_area_enlarging_is_nearest_neighbour),
        cmocka_unit_test(test_hand_worked_values),
        cmocka_unit_test(test_constant_image_stays_constant),
        cmocka_unit_test(test_scratch_reuse_matches_fresh),
        cmocka_unit_test(test_center_square),
        cmocka_unit_test(test_area_unit_scale_with_fractional_box_averages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
