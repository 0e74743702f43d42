/* preprocess: one source item (JPEG bytes or raw pixels) to one size×size×channels
 * record, the way `ingest` options say: decode at a reduced DCT scale, convert
 * channels, crop the centred square (or keep the whole image), resample. */
#ifndef TESSERA_PREPROCESS_H
#define TESSERA_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "decode.h"
#include "resize.h"

typedef struct {
    int size;     /* output is size×size */
    int channels; /* 1 or 3 */
    ResizeFilter filter;
    int crop_center; /* 0: the whole image is resized to size×size */
    uint64_t max_pixels;
    int fast_dct;
} PreprocessOptions;

#define DEFAULT_MAX_PIXELS 100000000ull /* 100 megapixels, ~10000×10000 */

void preprocess_defaults(PreprocessOptions *o);

typedef struct {
    JpegDecoder jpeg;
    Image decoded, converted;
    ResizeScratch scratch;
} Preprocessor;

int preprocessor_init(Preprocessor *p, Err *err);
void preprocessor_free(Preprocessor *p);

int preprocess_jpeg(Preprocessor *p, const PreprocessOptions *o, const uint8_t *bytes, size_t n, uint8_t *out,
                    Err *err);
int preprocess_pixels(Preprocessor *p, const PreprocessOptions *o, const uint8_t *pixels, int width, int height,
                      int channels, uint8_t *out, Err *err);

/* The options as "key=value" lines, as a job sends them to workers, and back. */
void preprocess_options_format(const PreprocessOptions *o, Buf *out);
int preprocess_options_parse(const char *text, size_t n, PreprocessOptions *o, Err *err);

const char *resize_filter_name(ResizeFilter f);

#endif
