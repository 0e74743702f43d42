/* decode: TurboJPEG decoding with DCT-domain scaling (see decode.h). */
#include "decode.h"

#include <string.h>

int jpeg_decoder_init(JpegDecoder *d, Err *err) {
    memset(d, 0, sizeof *d);
    d->tj = tjInitDecompress();
    if (!d->tj) return err_set(err, "cannot start TurboJPEG (%s)", tjGetErrorStr2(NULL));
    return 0;
}

void jpeg_decoder_free(JpegDecoder *d) {
    if (d->tj) tjDestroy(d->tj);
    image_free(&d->cmyk);
    memset(d, 0, sizeof *d);
}

/* After a failed call a TurboJPEG 2.1 handle can report stale header fields for the
 * next file (seen here: a good JPEG read as 339783472x22096 after a truncated one),
 * so a handle that failed is replaced before it is used again. */
static int fail_and_reset(JpegDecoder *d, Err *err, const char *fmt, const char *msg) {
    err_set(err, fmt, msg);
    tjDestroy(d->tj);
    d->tj = tjInitDecompress();
    return -1;
}

static int scaled(int dim, int denom) { return (dim + denom - 1) / denom; }

int jpeg_scale_denominator(int width, int height, int min_side) {
    int best = 1;
    for (int denom = 2; denom <= 8; denom *= 2)
        if (scaled(width, denom) >= min_side && scaled(height, denom) >= min_side) best = denom;
    return best;
}

const char *sniff_not_jpeg(const uint8_t *bytes, size_t n) {
    if (n == 0) return "an empty file";
    if (n >= 8 && memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) == 0) return "a PNG file";
    if (n >= 6 && (memcmp(bytes, "GIF87a", 6) == 0 || memcmp(bytes, "GIF89a", 6) == 0)) return "a GIF file";
    if (n >= 2 && memcmp(bytes, "BM", 2) == 0) return "a BMP file";
    if (n >= 12 && memcmp(bytes, "RIFF", 4) == 0 && memcmp(bytes + 8, "WEBP", 4) == 0) return "a WebP file";
    if (n < 2 || bytes[0] != 0xFF || bytes[1] != 0xD8) return "not a JPEG (no SOI marker)";
    return NULL;
}

int jpeg_has_adobe_marker(const uint8_t *bytes, size_t n) {
    size_t i = 2;
    while (i + 4 <= n) {
        if (bytes[i] != 0xFF) return 0;
        uint8_t marker = bytes[i + 1];
        if (marker == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 0; /* start of scan / end of image */
        size_t len = (size_t)bytes[i + 2] << 8 | bytes[i + 3];
        if (len < 2 || i + 2 + len > n) return 0;
        if (marker == 0xEE && len >= 2 + 5 && memcmp(bytes + i + 4, "Adobe", 5) == 0) return 1;
        i += 2 + len;
    }
    return 0;
}

/* "Corrupt JPEG data: N extraneous bytes before marker" is common in camera files
 * and harmless; every other warning (a premature end above all) means lost pixels. */
static int warning_is_harmless(const char *msg) { return strstr(msg, "extraneous bytes") != NULL; }

static void cmyk_to_output(const Image *cmyk, int inverted, Image *out) {
    size_t n = (size_t)cmyk->width * cmyk->height;
    const uint8_t *p = cmyk->pixels;
    uint8_t *q = out->pixels;
    for (size_t i = 0; i < n; i++, p += 4) {
        /* Adobe stores CMYK inverted: a stored value is 255 minus the ink. */
        int c = inverted ? 255 - p[0] : p[0], m = inverted ? 255 - p[1] : p[1];
        int y = inverted ? 255 - p[2] : p[2], k = inverted ? 255 - p[3] : p[3];
        int r = ((255 - c) * (255 - k) + 127) / 255, g = ((255 - m) * (255 - k) + 127) / 255;
        int b = ((255 - y) * (255 - k) + 127) / 255;
        if (out->channels == 3) {
            *q++ = (uint8_t)r;
            *q++ = (uint8_t)g;
            *q++ = (uint8_t)b;
        } else {
            *q++ = (uint8_t)((r * 299 + g * 587 + b * 114 + 500) / 1000);
        }
    }
}

int decode_jpeg_scaled(JpegDecoder *d, const uint8_t *bytes, size_t n, const DecodeOptions *o, Image *out, Err *err) {
    const char *not_jpeg = sniff_not_jpeg(bytes, n);
    if (not_jpeg) return err_set(err, "%s", not_jpeg);
    if (n > 0x7fffffffUL) return err_set(err, "JPEG of %zu bytes is too large", n);
    int width, height, subsamp, colorspace;
    if (!d->tj) return err_set(err, "cannot start TurboJPEG (%s)", tjGetErrorStr2(NULL));
    if (tjDecompressHeader3(d->tj, bytes, (unsigned long)n, &width, &height, &subsamp, &colorspace) != 0)
        return fail_and_reset(d, err, "corrupt JPEG header (%s)", tjGetErrorStr2(d->tj));
    if (width <= 0 || height <= 0) return err_set(err, "JPEG header claims %dx%d pixels", width, height);
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (pixels > o->max_pixels)
        return err_set(err, "JPEG header claims %dx%d = %llu pixels, above the limit of %llu (--max-pixels)", width,
                       height, (unsigned long long)pixels, (unsigned long long)o->max_pixels);

    int denom = jpeg_scale_denominator(width, height, o->min_side);
    int sw = scaled(width, denom), sh = scaled(height, denom);
    int flags = o->fast_dct ? TJFLAG_FASTDCT : 0;
    int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    Image *target = cmyk ? &d->cmyk : out;
    int pixel_format = cmyk ? TJPF_CMYK : (o->channels == 1 ? TJPF_GRAY : TJPF_RGB);
    image_reserve(target, sw, sh, tjPixelSize[pixel_format]);
    if (cmyk) image_reserve(out, sw, sh, o->channels);

    if (tjDecompress2(d->tj, bytes, (unsigned long)n, target->pixels, sw, 0, sh, pixel_format, flags) != 0) {
        const char *msg = tjGetErrorStr2(d->tj);
        if (tjGetErrorCode(d->tj) != TJERR_WARNING || !warning_is_harmless(msg))
            return fail_and_reset(d, err, "corrupt or truncated JPEG (%s)", msg);
    }
    if (cmyk) cmyk_to_output(&d->cmyk, jpeg_has_adobe_marker(bytes, n), out);
    return 0;
}
