/* test_decode: where JPEG bytes become pixels (ingest/decode.h).
 *
 * Checks, on the fixtures of tests/fixtures/make_fixtures.py:
 *  - every colour layout (gray, 4:4:4 ... 4:1:1, progressive, restart markers,
 *    arithmetic, CMYK, YCCK) decodes to 1 and 3 channels at the DCT-scaled size;
 *  - with the accurate IDCT the pixels match PIL's decode of the same file at scale 1,
 *    and libjpeg's own output (through PIL) at 1/2, 1/4 and 1/8, so a wrong scale, a
 *    swapped channel, a wrong upsampler or a missed Adobe inversion shows up;
 *  - a decoder reused after failures gives what a fresh one gives;
 *  - jpeg_scale_denominator against a table, including odd sizes;
 *  - every kind of bad input is refused with a message a person can act on, and never
 *    crashes (the ASan build runs these too);
 *  - sniff_not_jpeg and jpeg_has_adobe_marker, also on cut-short buffers. */
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
#include "../../ingest/decode.h"
#include "../../ingest/image.h"
#include "fixture_io.h"

typedef struct {
    const char *stem; /* NAME.jpg, NAME.rgb.npy, NAME.gray.npy */
    int width, height;
    int cmyk; /* CMYK or YCCK: colours go through a CMYK -> RGB formula */
} GoodFixture;

static const GoodFixture GOOD[] = {
    {"gray", 161, 119, 0},       {"yuv444", 161, 119, 0},   {"yuv422", 161, 119, 0},
    {"yuv420", 161, 119, 0},     {"yuv440", 161, 119, 0},   {"yuv411", 161, 119, 0},
    {"progressive", 161, 119, 0}, {"restart", 161, 119, 0}, {"arithmetic", 161, 119, 0},
    {"cmyk", 161, 119, 1},       {"ycck", 161, 119, 1},     {"large", 1000, 750, 0},
};
enum { N_GOOD = sizeof GOOD / sizeof GOOD[0] };

typedef struct {
    double mean; /* mean absolute difference must be below this */
    int max;     /* and no pixel further off than this */
} Bound;

/* Measured on these fixtures (values printed by the tests):
 *  - YCbCr and gray files to RGB: PIL and TurboJPEG run the same libjpeg-turbo with the
 *    same accurate IDCT and fancy upsampling, so they agree exactly (measured mean 0,
 *    max 0 at every scale); the bound leaves 1 level for a different SIMD path.
 *  - to 1 channel Tessera returns libjpeg's Y plane (exact against it: measured 0/0),
 *    while the reference NAME.gray.npy is PIL's RGB converted to L; those
 *    differ where RGB clips (measured mean <= 0.44, max 24), so only the mean is bounded.
 *  - CMYK/YCCK: Tessera converts with (255-c)(255-k)/255 truncated, PIL (cmyk2rgb) rounds
 *    the same product: measured mean 0.32..0.37, max 1, at every scale. */
static const Bound YCBCR_RGB = {1.0, 2}, YCBCR_GRAY = {1.0, 255}, CMYK_RGB = {0.5, 1}, CMYK_GRAY = {0.5, 1},
                   EXACT = {1e-9, 0};

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Written independently of decode.c: the largest of 8, 4, 2 keeping both sides >= min_side. */
static int expected_denominator(int width, int height, int min_side) {
    for (int d = 8; d >= 2; d /= 2)
        if (ceil_div(width, d) >= min_side && ceil_div(height, d) >= min_side) return d;
    return 1;
}

static char *jpeg_name(const char *stem) {
    char *name = malloc(strlen(stem) + 5);
    sprintf(name, "%s.jpg", stem);
    return name;
}

typedef struct {
    JpegDecoder dec;
    Image out;
    Buf bytes;
} Ctx;

static int setup(void **state) {
    Ctx *c = calloc(1, sizeof *c);
    Err err = {{0}};
    if (jpeg_decoder_init(&c->dec, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    Ctx *c = *state;
    jpeg_decoder_free(&c->dec);
    image_free(&c->out);
    buf_free(&c->bytes);
    free(c);
    return 0;
}

static DecodeOptions options(int channels, int min_side, int fast_dct) {
    return (DecodeOptions){.channels = channels, .min_side = min_side, .max_pixels = 100000000ull,
                           .fast_dct = fast_dct};
}

static void read_jpeg(Ctx *c, const char *stem) {
    char *name = jpeg_name(stem);
    fixture_read(name, &c->bytes);
    free(name);
}

/* Mean and max absolute difference between a decode and a reference array. */
static void compare(const Image *im, const Npy *ref, double *mean, int *max) {
    assert_int_equal(im->width, ref->width);
    assert_int_equal(im->height, ref->height);
    assert_int_equal(im->channels, ref->channels);
    size_t n = ref->height * ref->width * ref->channels;
    double sum = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)im->pixels[i] - (int)ref->data[i]);
        sum += d;
        if (d > worst) worst = d;
    }
    *mean = sum / (double)n;
    *max = worst;
}

static void test_good_fixtures_decode_at_scaled_size(void **state) {
    Ctx *c = *state;
    const int min_sides[] = {0, 1, 15, 16, 30, 31, 60, 61, 94, 95, 119, 120, 188, 375, 376, 750, 5000};
    for (int f = 0; f < N_GOOD; f++) {
        const GoodFixture *g = &GOOD[f];
        read_jpeg(c, g->stem);
        for (int channels = 1; channels <= 3; channels += 2)
            for (size_t m = 0; m < sizeof min_sides / sizeof *min_sides; m++) {
                DecodeOptions o = options(channels, min_sides[m], 1);
                Err err = {{0}};
                int rc = decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err);
                if (rc != 0) fprintf(stderr, "%s.jpg: %s\n", g->stem, err.msg);
                assert_int_equal(rc, 0);
                int d = expected_denominator(g->width, g->height, min_sides[m]);
                assert_int_equal(c->out.width, ceil_div(g->width, d));
                assert_int_equal(c->out.height, ceil_div(g->height, d));
                assert_int_equal(c->out.channels, channels);
            }
    }
}

static void test_scale_denominator_table(void **state) {
    (void)state;
    static const struct {
        int width, height, min_side, denom;
    } cases[] = {
        {161, 119, 0, 8},    {161, 119, 1, 8},    {161, 119, 15, 8},   /* ceil(119/8) = 15 */
        {161, 119, 16, 4},   {161, 119, 30, 4},   {161, 119, 31, 2},   /* ceil(119/4) = 30 */
        {161, 119, 60, 2},   {161, 119, 61, 1},   {161, 119, 119, 1},
        {161, 119, 500, 1},  /* smaller than asked for: full size, never upscaled by the DCT */
        {119, 161, 16, 4},   /* the shorter side decides, whichever it is */
        {1000, 750, 64, 8},  {1000, 750, 94, 8},  {1000, 750, 95, 4},  {1000, 750, 188, 4},
        {1000, 750, 189, 2}, {1000, 750, 375, 2}, {1000, 750, 376, 1},
        {256, 256, 32, 8},   {256, 256, 33, 4},   {256, 256, 64, 4},   {256, 256, 65, 2},
        {256, 256, 128, 2},  {256, 256, 129, 1},
        {1, 1, 1, 8},        {1, 1, 2, 1},        {9, 9, 2, 8},        {9, 9, 3, 4},
        {4096, 10, 2, 8},    {4096, 10, 3, 4},    {4096, 10, 5, 2},    {4096, 10, 6, 1},
        {65535, 65535, 8192, 8}, {65535, 65535, 8193, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = jpeg_scale_denominator(cases[i].width, cases[i].height, cases[i].min_side);
        if (got != cases[i].denom)
            fprintf(stderr, "%dx%d min_side %d: got 1/%d, want 1/%d\n", cases[i].width, cases[i].height,
                    cases[i].min_side, got, cases[i].denom);
        assert_int_equal(got, cases[i].denom);
        assert_int_equal(got, expected_denominator(cases[i].width, cases[i].height, cases[i].min_side));
    }
    /* Exhaustive agreement with the independent rule on small sizes. */
    for (int w = 1; w <= 70; w++)
        for (int h = 1; h <= 70; h += 3)
            for (int m = 0; m <= 72; m++) assert_int_equal(jpeg_scale_denominator(w, h, m), expected_denominator(w, h, m));
}

static void decode_and_compare(Ctx *c, const GoodFixture *g, int channels, int denom, const char *ref_name,
                               double *mean, int *max) {
    Npy ref;
    npy_load(ref_name, &ref);
    /* min_side beyond the image gives scale 1; else the smallest min_side giving 1/denom. */
    int min_side = denom == 1 ? 1 << 20 : ceil_div(g->width < g->height ? g->width : g->height, denom);
    assert_int_equal(jpeg_scale_denominator(g->width, g->height, min_side), denom);
    DecodeOptions o = options(channels, min_side, 0);
    Err err = {{0}};
    assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err), 0);
    compare(&c->out, &ref, mean, max);
    npy_free(&ref);
}

/* Full scale against PIL's decode converted to RGB and to L (tests/fixtures). */
static void test_pixels_match_pil_at_full_scale(void **state) {
    Ctx *c = *state;
    for (int f = 0; f < N_GOOD; f++) {
        const GoodFixture *g = &GOOD[f];
        read_jpeg(c, g->stem);
        for (int channels = 1; channels <= 3; channels += 2) {
            char ref_name[64];
            snprintf(ref_name, sizeof ref_name, "%s.%s.npy", g->stem, channels == 3 ? "rgb" : "gray");
            double mean;
            int max;
            decode_and_compare(c, g, channels, 1, ref_name, &mean, &max);
            printf("  %-12s %d ch vs PIL %s: mean abs %.3f, max %d\n", g->stem, channels,
                   channels == 3 ? "RGB" : "RGB->L", mean, max);
            const Bound *b = channels == 3 ? (g->cmyk ? &CMYK_RGB : &YCBCR_RGB) : (g->cmyk ? &CMYK_GRAY : &YCBCR_GRAY);
            if (mean >= b->mean || max > b->max)
                fail_msg("%s.jpg, %d channels: mean %.3f (bound %.2f), max %d (bound %d)", g->stem, channels, mean,
                         b->mean, max, b->max);
        }
    }
}

/* Every DCT scale against libjpeg's own output at that scale, through PIL: this checks
 * that Tessera asks TurboJPEG for the right scale, pixel format and IDCT, and converts
 * CMYK/YCCK with the right inversion, at every size a store can be built from. */
static void test_pixels_match_libjpeg_at_every_scale(void **state) {
    Ctx *c = *state;
    for (int f = 0; f < N_GOOD; f++) {
        const GoodFixture *g = &GOOD[f];
        read_jpeg(c, g->stem);
        for (int denom = 1; denom <= 8; denom *= 2)
            for (int channels = 1; channels <= 3; channels += 2) {
                if (denom == 1 && channels == 3) continue; /* that is NAME.rgb.npy, tested above */
                char ref_name[64];
                snprintf(ref_name, sizeof ref_name, "%s.scale%d.%s.npy", g->stem, denom, channels == 3 ? "rgb" : "gray");
                double mean;
                int max;
                decode_and_compare(c, g, channels, denom, ref_name, &mean, &max);
                printf("  %-12s %d ch 1/%d vs libjpeg: mean abs %.3f, max %d\n", g->stem, channels, denom, mean, max);
                const Bound *b = !g->cmyk ? &EXACT : channels == 3 ? &CMYK_RGB : &CMYK_GRAY;
                if (mean >= b->mean || max > b->max)
                    fail_msg("%s.jpg, %d channels, 1/%d: mean %.3f (bound %.2f), max %d (bound %d)", g->stem, channels,
                             denom, mean, b->mean, max, b->max);
            }
    }
}

/* The decoder and the output image are reused across files, good and bad (a worker
 * rejects one file and goes on): every good file must then give exactly what a fresh
 * decoder gives. TurboJPEG handles are known to keep stale header fields after a
 * failure, which this catches. */
static void test_decoder_reuse_gives_same_pixels(void **state) {
    Ctx *c = *state;
    static const struct {
        const char *file;
        size_t cut; /* 0: the whole file, else only its first `cut` bytes */
        int good;
    } order[] = {
        {"large.jpg", 0, 1},    {"truncated.jpg", 0, 0}, {"yuv420.jpg", 0, 1},   {"cmyk.jpg", 0, 1},
        {"yuv420.jpg", 300, 0}, {"yuv422.jpg", 0, 1},    {"header_only.jpg", 0, 0}, {"ycck.jpg", 0, 1},
        {"garbage.jpg", 0, 0},  {"gray.jpg", 0, 1},      {"huge_sof.jpg", 0, 0}, {"cmyk.jpg", 0, 1},
        {"cmyk.jpg", 150, 0},   {"large.jpg", 0, 1},     {"png_named.jpg", 0, 0}, {"progressive.jpg", 0, 1},
    };
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        fixture_read(order[i].file, &c->bytes);
        if (order[i].cut) c->bytes.len = order[i].cut;
        int good = order[i].good;
        for (int channels = 1; channels <= 3; channels += 2) {
            DecodeOptions o = options(channels, 50, 1);
            Err err = {{0}};
            int rc = decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err);
            if (!good) {
                assert_int_equal(rc, -1);
                continue;
            }
            if (rc != 0) fail_msg("%s after a reused decode: %s", order[i].file, err.msg);

            JpegDecoder fresh;
            Image out = {0};
            assert_int_equal(jpeg_decoder_init(&fresh, &err), 0);
            assert_int_equal(decode_jpeg_scaled(&fresh, c->bytes.data, c->bytes.len, &o, &out, &err), 0);
            assert_int_equal(out.width, c->out.width);
            assert_int_equal(out.height, c->out.height);
            assert_int_equal(out.channels, c->out.channels);
            assert_memory_equal(out.pixels, c->out.pixels, (size_t)out.width * out.height * channels);
            image_free(&out);
            jpeg_decoder_free(&fresh);
        }
    }
}

static void test_bad_inputs_are_refused_with_a_reason(void **state) {
    Ctx *c = *state;
    static const struct {
        const char *file, *word;
    } cases[] = {
        {"empty.jpg", "empty"},
        {"truncated.jpg", "truncated"},
        {"garbage.jpg", "not a JPEG"},
        {"png_named.jpg", "PNG"},
        {"gif_named.jpg", "GIF"},
        {"huge_sof.jpg", "limit"},
        {"header_only.jpg", "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fixture_read(cases[i].file, &c->bytes);
        for (int channels = 1; channels <= 3; channels += 2) {
            DecodeOptions o = options(channels, 32, 1);
            Err err = {{0}};
            int rc = decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err);
            printf("  %-16s -> %s\n", cases[i].file, err.msg);
            assert_int_equal(rc, -1);
            if (!strstr(err.msg, cases[i].word))
                fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].file, err.msg, cases[i].word);
        }
    }
    /* The huge header is refused from the header alone, and says how many pixels. */
    fixture_read("huge_sof.jpg", &c->bytes);
    DecodeOptions o = options(3, 32, 1);
    Err err = {{0}};
    assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err), -1);
    assert_non_null(strstr(err.msg, "60000x60000"));
    assert_non_null(strstr(err.msg, "pixels"));
}

static void test_max_pixels_is_inclusive(void **state) {
    Ctx *c = *state;
    read_jpeg(c, "yuv420");
    DecodeOptions o = options(3, 32, 1);
    Err err = {{0}};
    o.max_pixels = 161 * 119;
    assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err), 0);
    o.max_pixels = 161 * 119 - 1;
    assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, c->bytes.len, &o, &c->out, &err), -1);
    assert_non_null(strstr(err.msg, "limit"));
}

/* Cutting a file anywhere inside its scan loses pixels: every cut must be refused. */
static void test_every_cut_inside_the_scan_is_refused(void **state) {
    Ctx *c = *state;
    read_jpeg(c, "progressive");
    size_t n = c->bytes.len;
    for (size_t cut = 700; cut + 2 < n; cut += 97) {
        DecodeOptions o = options(3, 1 << 20, 1);
        Err err = {{0}};
        int rc = decode_jpeg_scaled(&c->dec, c->bytes.data, cut, &o, &c->out, &err);
        if (rc == 0) fail_msg("progressive.jpg cut to %zu of %zu bytes was accepted", cut, n);
        assert_non_null(strstr(err.msg, "truncated"));
    }
    /* And every cut of the header: refused, never a crash. */
    for (size_t cut = 0; cut < 700; cut++) {
        DecodeOptions o = options(1, 8, 1);
        Err err = {{0}};
        assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, cut, &o, &c->out, &err), -1);
        assert_true(err.msg[0] != 0);
    }
}

/* Stray bytes between the scan and EOI are common in camera files and harmless: the
 * decode must succeed and give the same pixels as the clean file. */
static void test_stray_bytes_before_a_marker_are_tolerated(void **state) {
    Ctx *c = *state;
    read_jpeg(c, "yuv420");
    size_t n = c->bytes.len;
    assert_true(n > 4 && c->bytes.data[n - 2] == 0xFF && c->bytes.data[n - 1] == 0xD9);
    DecodeOptions o = options(3, 1 << 20, 0);
    Err err = {{0}};
    assert_int_equal(decode_jpeg_scaled(&c->dec, c->bytes.data, n, &o, &c->out, &err), 0);
    size_t pixels = (size_t)c->out.width * c->out.height * 3;
    uint8_t *clean = malloc(pixels);
    memcpy(clean, c->out.pixels, pixels);

    uint8_t *dirty = malloc(n + 5);
    memcpy(dirty, c->bytes.data, n - 2);
    memcpy(dirty + n - 2, "\x00\x11\x22\x33\x44", 5);
    memcpy(dirty + n + 3, "\xFF\xD9", 2);
    int rc = decode_jpeg_scaled(&c->dec, dirty, n + 5, &o, &c->out, &err);
    if (rc != 0) fail_msg("stray bytes refused: %s", err.msg);
    assert_memory_equal(c->out.pixels, clean, pixels);
    free(dirty);
    free(clean);
}

static void test_sniff_not_jpeg(void **state) {
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *word; /* NULL: looks like a JPEG */
    } cases[] = {
        {"", 0, "empty"},
        {"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "PNG"},
        {"GIF89a\x01\0\x01\0", 10, "GIF"},
        {"GIF87a\x01\0\x01\0", 10, "GIF"},
        {"BM\x36\0\0\0\0\0", 8, "BMP"},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, "WebP"},
        {"\xFF", 1, "not a JPEG"},
        {"\xD8\xFF", 2, "not a JPEG"},
        {"hello world", 11, "not a JPEG"},
        {"\x89PNG", 4, "not a JPEG"}, /* too short to be a PNG: still not a JPEG */
        {"\xFF\xD8", 2, NULL},
        {"\xFF\xD8\xFF\xE0", 4, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = sniff_not_jpeg((const uint8_t *)cases[i].bytes, cases[i].n);
        if (!cases[i].word) {
            assert_null(got);
        } else {
            assert_non_null(got);
            if (!strstr(got, cases[i].word)) fail_msg("case %zu: \"%s\" lacks \"%s\"", i, got, cases[i].word);
        }
    }
    /* The real files agree. */
    Buf b = {0};
    fixture_read("png_named.jpg", &b);
    assert_non_null(strstr(sniff_not_jpeg(b.data, b.len), "PNG"));
    fixture_read("gif_named.jpg", &b);
    assert_non_null(strstr(sniff_not_jpeg(b.data, b.len), "GIF"));
    fixture_read("yuv420.jpg", &b);
    assert_null(sniff_not_jpeg(b.data, b.len));
    buf_free(&b);
}

static void test_adobe_marker(void **state) {
    (void)state;
    static const struct {
        const char *file;
        int adobe;
    } cases[] = {
        {"cmyk.jpg", 1}, {"ycck.jpg", 1}, {"yuv420.jpg", 0}, {"gray.jpg", 0}, {"progressive.jpg", 0},
    };
    Buf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fixture_read(cases[i].file, &b);
        assert_int_equal(jpeg_has_adobe_marker(b.data, b.len), cases[i].adobe);
    }
    /* Cut anywhere, the CMYK file's marker is found only once it is whole, and the
     * scanner never reads past the end (ASan). */
    fixture_read("cmyk.jpg", &b);
    size_t whole = 0; /* the shortest prefix that holds the whole APP14 segment */
    for (size_t n = 0; n <= b.len && n < 2000; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        int got = jpeg_has_adobe_marker(copy, n);
        free(copy);
        if (got && !whole) whole = n;
        if (whole) assert_int_equal(got, 1);
    }
    assert_true(whole > 0);

    /* An APP14 "Adobe" after the start of scan is not a header marker. */
    const uint8_t late[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xEE, 0x00, 0x0E,
                            'A',  'd',  'o',  'b',  'e',  0,    0,    0,    0,    0, 0, 0, 0, 0};
    assert_int_equal(jpeg_has_adobe_marker(late, sizeof late), 0);
    /* A segment length that runs past the end is not trusted. */
    const uint8_t overlong[] = {0xFF, 0xD8, 0xFF, 0xEE, 0x40, 0x00, 'A', 'd', 'o', 'b', 'e'};
    assert_int_equal(jpeg_has_adobe_marker(overlong, sizeof overlong), 0);
    /* APP14 that is not Adobe's. */
    const uint8_t other[] = {0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x07, 'O', 't', 'h', 'e', 'r', 0xFF, 0xD9, 0, 0};
    assert_int_equal(jpeg_has_adobe_marker(other, sizeof other), 0);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_fixtures_decode_at_scaled_size),
        cmocka_unit_test(test_scale_denominator_table),
        cmocka_unit_test(test_pixels_match_pil_at_full_scale),
        cmocka_unit_test(test_pixels_match_libjpeg_at_every_scale),
        cmocka_unit_test(test_decoder_reuse_gives_same_pixels),
        cmocka_unit_test(test_bad_inputs_are_refused_with_a_reason),
        cmocka_unit_test(test_max_pixels_is_inclusive),
        cmocka_unit_test(test_every_cut_inside_the_scan_is_refused),
        cmocka_unit_test(test_stray_bytes_before_a_marker_are_tolerated),
        cmocka_unit_test(test_sniff_not_jpeg),
        cmocka_unit_test(test_adobe_marker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
