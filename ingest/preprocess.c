/* preprocess: decode, convert channels, crop and resample one item (see preprocess.h). */
#include "preprocess.h"

#include <stdlib.h>
#include <string.h>

void preprocess_defaults(PreprocessOptions *o) {
    *o = (PreprocessOptions){
        .size = 64, .channels = 3, .filter = RESIZE_AREA, .crop_center = 1, .max_pixels = DEFAULT_MAX_PIXELS,
        .fast_dct = 1};
}

int preprocessor_init(Preprocessor *p, Err *err) {
    memset(p, 0, sizeof *p);
    return jpeg_decoder_init(&p->jpeg, err);
}

void preprocessor_free(Preprocessor *p) {
    jpeg_decoder_free(&p->jpeg);
    image_free(&p->decoded);
    image_free(&p->converted);
    resize_scratch_free(&p->scratch);
}

static void crop_and_resize(Preprocessor *p, const PreprocessOptions *o, const Image *im, uint8_t *out) {
    if (im->width == o->size && im->height == o->size) { /* already size×size: both filters are the identity */
        memcpy(out, im->pixels, (size_t)o->size * o->size * o->channels);
        return;
    }
    Box box = o->crop_center ? center_square(im->width, im->height) : (Box){0, 0, im->width, im->height};
    resize_box(im->pixels, im->width, im->height, im->channels, box, out, o->size, o->size, o->filter, &p->scratch);
}

int preprocess_jpeg(Preprocessor *p, const PreprocessOptions *o, const uint8_t *bytes, size_t n, uint8_t *out,
                    Err *err) {
    DecodeOptions d = {.channels = o->channels, .min_side = o->size, .max_pixels = o->max_pixels,
                       .fast_dct = o->fast_dct};
    if (decode_jpeg_scaled(&p->jpeg, bytes, n, &d, &p->decoded, err) != 0) return -1;
    crop_and_resize(p, o, &p->decoded, out);
    return 0;
}

int preprocess_pixels(Preprocessor *p, const PreprocessOptions *o, const uint8_t *pixels, int width, int height,
                      int channels, uint8_t *out, Err *err) {
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
        return err_set(err, "bad raw image %dx%dx%d", width, height, channels);
    if ((uint64_t)width * (uint64_t)height > o->max_pixels)
        return err_set(err, "raw image of %dx%d is above the --max-pixels limit", width, height);
    Image im = {.pixels = (uint8_t *)pixels, .width = width, .height = height, .channels = channels};
    if (channels != o->channels) {
        image_reserve(&p->converted, width, height, o->channels);
        size_t n = (size_t)width * height;
        const uint8_t *s = pixels;
        uint8_t *d = p->converted.pixels;
        if (o->channels == 3) {
            for (size_t i = 0; i < n; i++, d += 3) d[0] = d[1] = d[2] = s[i];
        } else {
            for (size_t i = 0; i < n; i++, s += 3) d[i] = (uint8_t)((s[0] * 299 + s[1] * 587 + s[2] * 114 + 500) / 1000);
        }
        im = p->converted;
    }
    crop_and_resize(p, o, &im, out);
    return 0;
}

const char *resize_filter_name(ResizeFilter f) { return f == RESIZE_BILINEAR ? "bilinear" : "area"; }

void preprocess_options_format(const PreprocessOptions *o, Buf *out) {
    buf_printf(out, "size=%d\nchannels=%d\nresize=%s\ncrop=%s\nmax_pixels=%llu\nfast_dct=%d\n", o->size, o->channels,
               resize_filter_name(o->filter), o->crop_center ? "center" : "none", (unsigned long long)o->max_pixels,
               o->fast_dct);
}

/* Digits only: no sign, no spaces, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
    if (!*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int preprocess_options_parse(const char *text, size_t n, PreprocessOptions *o, Err *err) {
    preprocess_defaults(o);
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && text[end] != '\n') end++;
        char line[256];
        size_t len = end - i < sizeof line - 1 ? end - i : sizeof line - 1;
        memcpy(line, text + i, len);
        line[len] = 0;
        i = end + 1;
        if (!len) continue;
        char *eq = strchr(line, '=');
        if (!eq) return err_set(err, "job options: line without '=': %s", line);
        *eq = 0;
        const char *k = line, *v = eq + 1;
        uint64_t number = 0;
        int numeric = !strcmp(k, "size") || !strcmp(k, "channels") || !strcmp(k, "max_pixels") || !strcmp(k, "fast_dct");
        if (numeric && parse_u64(v, &number) != 0) return err_set(err, "job options: bad value for %s: '%s'", k, v);
        if (!strcmp(k, "size")) o->size = number > 4096 ? 0 : (int)number;
        else if (!strcmp(k, "channels")) o->channels = number > 3 ? 0 : (int)number;
        else if (!strcmp(k, "max_pixels")) o->max_pixels = number;
        else if (!strcmp(k, "fast_dct")) o->fast_dct = number != 0;
        else if (!strcmp(k, "resize")) {
            if (!strcmp(v, "area")) o->filter = RESIZE_AREA;
            else if (!strcmp(v, "bilinear")) o->filter = RESIZE_BILINEAR;
            else return err_set(err, "job options: unknown resize '%s'", v);
        } else if (!strcmp(k, "crop")) {
            if (!strcmp(v, "center")) o->crop_center = 1;
            else if (!strcmp(v, "none")) o->crop_center = 0;
            else return err_set(err, "job options: unknown crop '%s'", v);
        } else {
            return err_set(err, "job options: unknown key '%s'", k);
        }
    }
    if (o->size < 1 || o->size > 4096) return err_set(err, "job options: size %d out of range 1..4096", o->size);
    if (o->channels != 1 && o->channels != 3) return err_set(err, "job options: channels must be 1 or 3");
    if (o->max_pixels == 0) return err_set(err, "job options: max_pixels must be positive");
    return 0;
}
