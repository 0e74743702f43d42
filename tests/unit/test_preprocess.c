/* test_preprocess: one source item to one size×size×channels record
 * (ingest/preprocess.h).
 *
 * preprocess_jpeg is checked end to end against a reference built without Tessera's
 * decoder or resampler: libjpeg's decode at the DCT scale the contract implies (PIL's
 * output, from the fixtures), cropped to the centred square or not, and resampled by
 * reference_resize.h in double precision. preprocess_pixels is checked for its
 * channel conversions (1 -> 3 replicates, 3 -> 1 is BT.601 luma) and its refusals;
 * the job options are checked to round-trip through format/parse, and parse to refuse
 * unknown keys, bad values and out-of-range sizes (workers on other hosts get them
 * as text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/buf.h"
#include "../../ingest/preprocess.h"
#include "fixture_io.h"
#include "reference_resize.h"

typedef struct {
    Preprocessor p;
    Buf bytes;
} Ctx;

static int setup(void **state) {
    Ctx *c = calloc(1, sizeof *c);
    Err err = {{0}};
    if (preprocessor_init(&c->p, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    Ctx *c = *state;
    preprocessor_free(&c->p);
    buf_free(&c->bytes);
    free(c);
    return 0;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* The DCT scale the contract implies: the smallest keeping both sides >= size. */
static int implied_denominator(int width, int height, int size) {
    for (int d = 8; d >= 2; d /= 2)
        if (ceil_div(width, d) >= size && ceil_div(height, d) >= size) return d;
    return 1;
}

/* libjpeg's own decode at 1/denom, as written by make_fixtures.py. */
static void load_libjpeg_decode(const char *stem, int denom, int channels, Npy *out) {
    char name[80];
    if (denom == 1 && channels == 3) snprintf(name, sizeof name, "%s.rgb.npy", stem);
    else snprintf(name, sizeof name, "%s.scale%d.%s.npy", stem, denom, channels == 3 ? "rgb" : "gray");
    npy_load(name, out);
}

/* The output buffer is followed by a canary, so writing past size×size×channels is
 * caught in the plain build too (ASan catches it anyway). */
enum { CANARY = 64 };
static uint8_t *output_buffer(size_t n) {
    uint8_t *p = malloc(n + CANARY);
    memset(p, 0xA5, n + CANARY);
    return p;
}
static void check_canary(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < CANARY; i++) assert_int_equal(p[n + i], 0xA5);
}

static void test_preprocess_jpeg_matches_reference(void **state) {
    Ctx *c = *state;
    static const struct {
        const char *stem;
        int width, height, cmyk;
    } files[] = {
        {"yuv420", 161, 119, 0}, {"yuv422", 161, 119, 0}, {"gray", 161, 119, 0},
        {"cmyk", 161, 119, 1},   {"ycck", 161, 119, 1},   {"large", 1000, 750, 0},
    };
    /* 161x119 decodes to 21x15 (size 7, 15), 41x30 (16), 81x60 (32), 161x119 (64, 119,
     * and 200, enlarged); 1000x750 to 125x94 (64), 500x375 (224). Sizes where the crop
     * is exactly `size` wide but starts half-way into a pixel (41x30 at size 30, say) are
     * left to test_resize.c, which shows resize.c mishandles them. */
    const int sizes[] = {7, 15, 16, 32, 64, 119, 200, 224};
    double worst_mean = 0;
    int worst = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char name[64];
        snprintf(name, sizeof name, "%s.jpg", files[f].stem);
        fixture_read(name, &c->bytes);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int channels = 1; channels <= 3; channels += 2)
                for (int crop = 0; crop <= 1; crop++)
                    for (int filter = RESIZE_AREA; filter <= RESIZE_BILINEAR; filter++) {
                        int size = sizes[s];
                        if (size == 224 && files[f].width < 1000) continue;
                        PreprocessOptions o;
                        preprocess_defaults(&o);
                        o.size = size;
                        o.channels = channels;
                        o.crop_center = crop;
                        o.filter = (ResizeFilter)filter;
                        o.fast_dct = 0; /* the accurate IDCT, as the reference decode used */
                        size_t n = (size_t)size * size * channels;
                        uint8_t *got = output_buffer(n), *want = malloc(n);
                        Err err = {{0}};
                        int rc = preprocess_jpeg(&c->p, &o, c->bytes.data, c->bytes.len, got, &err);
                        if (rc != 0) fail_msg("%s size %d: %s", name, size, err.msg);
                        check_canary(got, n);

                        int denom = implied_denominator(files[f].width, files[f].height, size);
                        Npy dec;
                        load_libjpeg_decode(files[f].stem, denom, channels, &dec);
                        assert_int_equal(dec.width, ceil_div(files[f].width, denom));
                        int w = (int)dec.width, h = (int)dec.height;
                        Box box = crop ? center_square(w, h) : (Box){0, 0, w, h};
                        reference_resize(dec.data, w, h, channels, box, want, size, size, (ResizeFilter)filter);
                        double sum = 0;
                        int max = 0;
                        for (size_t i = 0; i < n; i++) {
                            int d = abs((int)got[i] - (int)want[i]);
                            sum += d;
                            if (d > max) max = d;
                        }
                        /* 1 level for float rounding in resize.c; CMYK decodes are already
                         * up to 1 level from PIL's (test_decode.c), so 2 there. */
                        int bound = files[f].cmyk ? 2 : 1;
                        if (max > bound)
                            fail_msg("%s size %d, %d ch, crop %d, %s: max diff %d (bound %d)", name, size, channels,
                                     crop, filter == RESIZE_AREA ? "area" : "bilinear", max, bound);
                        if (sum / n > worst_mean) worst_mean = sum / n;
                        if (max > worst) worst = max;
                        npy_free(&dec);
                        free(got);
                        free(want);
                    }
    }
    printf("  preprocess_jpeg vs reference: worst case mean %.3f, max %d\n", worst_mean, worst);
}

static void test_preprocess_jpeg_refuses_bad_input(void **state) {
    Ctx *c = *state;
    PreprocessOptions o;
    preprocess_defaults(&o);
    uint8_t *out = output_buffer((size_t)o.size * o.size * 3);
    const char *files[] = {"empty.jpg", "truncated.jpg", "png_named.jpg", "huge_sof.jpg", "header_only.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        fixture_read(files[i], &c->bytes);
        Err err = {{0}};
        assert_int_equal(preprocess_jpeg(&c->p, &o, c->bytes.data, c->bytes.len, out, &err), -1);
        assert_true(strlen(err.msg) > 0);
    }
    /* A lower max_pixels refuses a file the default accepts. */
    fixture_read("large.jpg", &c->bytes);
    Err err = {{0}};
    assert_int_equal(preprocess_jpeg(&c->p, &o, c->bytes.data, c->bytes.len, out, &err), 0);
    o.max_pixels = 1000 * 750 - 1;
    assert_int_equal(preprocess_jpeg(&c->p, &o, c->bytes.data, c->bytes.len, out, &err), -1);
    assert_non_null(strstr(err.msg, "limit"));
    check_canary(out, (size_t)64 * 64 * 3);
    free(out);
}

static uint8_t bt601_luma(const uint8_t *rgb) {
    return (uint8_t)floor(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] + 0.5);
}

/* Raw pixels of a square image at its own size: no resampling, so the conversion is
 * seen exactly. */
static void test_preprocess_pixels_converts_channels(void **state) {
    Ctx *c = *state;
    enum { S = 40 };
    uint8_t rgb[S * S * 3], gray[S * S], out[S * S * 3];
    uint64_t x = 12345;
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)((x = x * 6364136223846793005ull + 1) >> 56);
    for (size_t i = 0; i < sizeof gray; i++) gray[i] = (uint8_t)(i * 7);
    /* Primaries and greys, worked out by hand: 0.299 * 255 = 76.2, 0.587 * 255 = 149.7,
     * 0.114 * 255 = 29.1. */
    const uint8_t fixed[][4] = {{255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {0, 0, 0, 0},
                                {255, 255, 255, 255}, {128, 128, 128, 128}, {17, 17, 17, 17}};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) memcpy(rgb + 3 * i, fixed[i], 3);

    PreprocessOptions o;
    preprocess_defaults(&o);
    o.size = S;
    o.crop_center = 0;
    Err err = {{0}};

    o.channels = 1; /* 3 -> 1 */
    assert_int_equal(preprocess_pixels(&c->p, &o, rgb, S, S, 3, out, &err), 0);
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) assert_int_equal(out[i], fixed[i][3]);
    for (size_t i = 0; i < S * S; i++) {
        int d = abs((int)out[i] - (int)bt601_luma(rgb + 3 * i));
        if (d > 1) fail_msg("pixel %zu: luma %d, want %d", i, out[i], bt601_luma(rgb + 3 * i));
    }

    o.channels = 3; /* 1 -> 3 */
    assert_int_equal(preprocess_pixels(&c->p, &o, gray, S, S, 1, out, &err), 0);
    for (size_t i = 0; i < S * S; i++) {
        assert_int_equal(out[3 * i], gray[i]);
        assert_int_equal(out[3 * i + 1], gray[i]);
        assert_int_equal(out[3 * i + 2], gray[i]);
    }

    o.channels = 3; /* 3 -> 3 and 1 -> 1: untouched */
    assert_int_equal(preprocess_pixels(&c->p, &o, rgb, S, S, 3, out, &err), 0);
    assert_memory_equal(out, rgb, sizeof rgb);
    o.channels = 1;
    assert_int_equal(preprocess_pixels(&c->p, &o, gray, S, S, 1, out, &err), 0);
    assert_memory_equal(out, gray, sizeof gray);
}

/* Conversion, then crop and resample: against luma + reference_resize. */
static void test_preprocess_pixels_converts_then_resizes(void **state) {
    Ctx *c = *state;
    static const int shapes[][3] = {{28, 28, 28}, {28, 28, 64}, {57, 33, 20}, {33, 57, 20}, {300, 200, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int from = 1; from <= 3; from += 2)
            for (int to = 1; to <= 3; to += 2) {
                int w = shapes[s][0], h = shapes[s][1], size = shapes[s][2];
                uint8_t *src = malloc((size_t)w * h * from), *conv = malloc((size_t)w * h * to);
                for (size_t i = 0; i < (size_t)w * h * from; i++) src[i] = (uint8_t)((i * 37 + i / 91) % 251);
                for (size_t i = 0; i < (size_t)w * h; i++)
                    for (int ch = 0; ch < to; ch++)
                        conv[i * to + ch] = from == to ? src[i * to + ch] : from == 1 ? src[i] : bt601_luma(src + 3 * i);
                PreprocessOptions o;
                preprocess_defaults(&o);
                o.size = size;
                o.channels = to;
                size_t n = (size_t)size * size * to;
                uint8_t *got = output_buffer(n), *want = malloc(n);
                Err err = {{0}};
                assert_int_equal(preprocess_pixels(&c->p, &o, src, w, h, from, got, &err), 0);
                check_canary(got, n);
                reference_resize(conv, w, h, to, center_square(w, h), want, size, size, RESIZE_AREA);
                for (size_t i = 0; i < n; i++)
                    if (abs((int)got[i] - (int)want[i]) > 1)
                        fail_msg("%dx%dx%d -> %dx%dx%d: value %zu is %d, want %d", w, h, from, size, size, to, i,
                                 got[i], want[i]);
                free(got);
                free(want);
                free(src);
                free(conv);
            }
}

static void test_preprocess_pixels_refuses_bad_shapes(void **state) {
    Ctx *c = *state;
    PreprocessOptions o;
    preprocess_defaults(&o);
    uint8_t px[16 * 16 * 3] = {0}, out[64 * 64 * 3];
    static const struct {
        int w, h, c;
    } bad[] = {{0, 16, 3}, {16, 0, 3}, {-1, 16, 3}, {16, 16, 2}, {16, 16, 4}, {16, 16, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Err err = {{0}};
        assert_int_equal(preprocess_pixels(&c->p, &o, px, bad[i].w, bad[i].h, bad[i].c, out, &err), -1);
        assert_true(strlen(err.msg) > 0);
    }
    Err err = {{0}};
    o.max_pixels = 255;
    assert_int_equal(preprocess_pixels(&c->p, &o, px, 16, 16, 3, out, &err), -1);
    assert_non_null(strstr(err.msg, "max-pixels"));
    o.max_pixels = 256;
    assert_int_equal(preprocess_pixels(&c->p, &o, px, 16, 16, 3, out, &err), 0);
}

static void assert_options_equal(const PreprocessOptions *a, const PreprocessOptions *b) {
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->channels, b->channels);
    assert_int_equal(a->filter, b->filter);
    assert_int_equal(a->crop_center, b->crop_center);
    assert_true(a->max_pixels == b->max_pixels);
    assert_int_equal(a->fast_dct, b->fast_dct);
}

static void test_options_round_trip(void **state) {
    PreprocessOptions cases[6];
    for (int i = 0; i < 6; i++) preprocess_defaults(&cases[i]);
    cases[1] = (PreprocessOptions){.size = 1, .channels = 1, .filter = RESIZE_BILINEAR, .crop_center = 0,
                                   .max_pixels = 1, .fast_dct = 0};
    cases[2] = (PreprocessOptions){.size = 4096, .channels = 3, .filter = RESIZE_AREA, .crop_center = 1,
                                   .max_pixels = UINT64_MAX, .fast_dct = 1};
    cases[3].size = 224;
    cases[3].filter = RESIZE_BILINEAR;
    cases[4].channels = 1;
    cases[4].crop_center = 0;
    cases[5].max_pixels = 12345678901ull;
    cases[5].fast_dct = 0;
    for (int i = 0; i < 6; i++) {
        Buf text = {0};
        preprocess_options_format(&cases[i], &text);
        PreprocessOptions back;
        memset(&back, 0x5A, sizeof back);
        Err err = {{0}};
        if (preprocess_options_parse((const char *)text.data, text.len, &back, &err) != 0)
            fail_msg("case %d: %s", i, err.msg);
        assert_options_equal(&back, &cases[i]);
        buf_free(&text);
    }
    /* Empty text is the defaults; blank lines and a missing final newline are fine. */
    PreprocessOptions d, back;
    preprocess_defaults(&d);
    Err err = {{0}};
    assert_int_equal(preprocess_options_parse("", 0, &back, &err), 0);
    assert_options_equal(&back, &d);
    const char *text = "\nsize=32\n\nresize=bilinear";
    assert_int_equal(preprocess_options_parse(text, strlen(text), &back, &err), 0);
    assert_int_equal(back.size, 32);
    assert_int_equal(back.filter, RESIZE_BILINEAR);
    /* Only n bytes are read: the rest of the buffer is not options. */
    const char *longer = "size=48\nchannels=oops";
    assert_int_equal(preprocess_options_parse(longer, 8, &back, &err), 0);
    assert_int_equal(back.size, 48);
}

static void test_options_parse_rejects_bad_text(void **state) {
    static const struct {
        const char *text, *word; /* word: what the message must mention */
    } bad[] = {
        {"colour=red\n", "unknown key"},
        {"size\n", "without '='"},
        {"size=abc\n", "bad value"},
        {"size=12x\n", "bad value"},
        {"size=\n", "size"},
        {"size=0\n", "out of range"},
        {"size=-5\n", "size"},
        {"size=4097\n", "out of range"},
        {"size=99999999999\n", "size"},
        {"channels=2\n", "channels"},
        {"channels=three\n", "bad value"},
        {"resize=lanczos\n", "resize"},
        {"crop=left\n", "crop"},
        {"fast_dct=yes\n", "bad value"},
        {"max_pixels=lots\n", "bad value"},
        {"max_pixels=-1\n", "max_pixels"},                   /* not "no limit": a negative count */
        {"max_pixels=99999999999999999999999\n", "max_pixels"}, /* beyond 64 bits */
        {"size=64\r\n", "bad value"},
    };
    int failures = 0; /* every case is tried, so one run lists all that slip through */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        PreprocessOptions o;
        Err err = {{0}};
        int rc = preprocess_options_parse(bad[i].text, strlen(bad[i].text), &o, &err);
        if (rc == 0) {
            print_error("accepted \"%.*s\" (size %d, max_pixels %llu)\n", (int)strcspn(bad[i].text, "\n"), bad[i].text,
                        o.size, (unsigned long long)o.max_pixels);
            failures++;
        } else if (!strstr(err.msg, bad[i].word)) {
            print_error("\"%.*s\": message \"%s\" lacks \"%s\"\n", (int)strcspn(bad[i].text, "\n"), bad[i].text,
                        err.msg, bad[i].word);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preprocess_jpeg_matches_reference),
        cmocka_unit_test(test_preprocess_jpeg_refuses_bad_input),
        cmocka_unit_test(test_preprocess_pixels_converts_channels),
        cmocka_unit_test(test_preprocess_pixels_converts_then_resizes),
        cmocka_unit_test(test_preprocess_pixels_refuses_bad_shapes),
        cmocka_unit_test(test_options_round_trip),
        cmocka_unit_test(test_options_parse_rejects_bad_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
