/* decode: where JPEG bytes become pixels.
 *
 * TurboJPEG decodes at the smallest DCT scale among 1/8, 1/4, 1/2 and 1 (the
 * SIMD-accelerated ones) that still leaves the image at least min_side pixels in
 * both dimensions; the resampler (resize.h) does the rest. Grayscale, YCbCr with
 * any subsampling, CMYK/YCCK (converted here, honouring Adobe's inverted storage),
 * progressive and restart-marker files are all accepted. Anything TurboJPEG warns
 * about other than stray bytes between markers is refused, so a truncated file is a
 * reject, not a half-grey record. */
#ifndef TESSERA_DECODE_H
#define TESSERA_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <turbojpeg.h>

#include "../core/err.h"
#include "image.h"

typedef struct {
    tjhandle tj;
    Image cmyk; /* scratch for CMYK/YCCK files */
} JpegDecoder;

typedef struct {
    int channels;        /* 1 or 3 */
    int min_side;        /* decode no smaller than this in either dimension */
    uint64_t max_pixels; /* refuse files whose header claims more, before allocating */
    int fast_dct;        /* TJFLAG_FASTDCT: the faster, slightly less exact IFAST IDCT */
} DecodeOptions;

int jpeg_decoder_init(JpegDecoder *d, Err *err);
void jpeg_decoder_free(JpegDecoder *d);

/* Decodes into out (reused across calls). On failure err names what is wrong. */
int decode_jpeg_scaled(JpegDecoder *d, const uint8_t *bytes, size_t n, const DecodeOptions *o, Image *out, Err *err);

/* The DCT scale denominator (1, 2, 4 or 8) decode_jpeg_scaled picks for an image. */
int jpeg_scale_denominator(int width, int height, int min_side);

/* Names files that are not JPEGs at all ("a PNG file", "an empty file"), or NULL. */
const char *sniff_not_jpeg(const uint8_t *bytes, size_t n);

/* 1 if the marker segments before the scan hold an Adobe APP14 marker. */
int jpeg_has_adobe_marker(const uint8_t *bytes, size_t n);

#endif
