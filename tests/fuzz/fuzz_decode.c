/* fuzz_decode: JPEG bytes from anywhere → preprocess_jpeg, the worker's whole decode
 * path (header checks, DCT-scaled decode, CMYK conversion, crop, resize). The first
 * byte picks the options so every branch gets exercised. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../ingest/preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Preprocessor pre;
    static int ready;
    if (!ready) {
        Err err;
        if (preprocessor_init(&pre, &err) != 0) abort();
        ready = 1;
    }
    if (size < 1) return 0;
    PreprocessOptions o;
    preprocess_defaults(&o);
    uint8_t knobs = data[0];
    static const int sizes[] = {1, 7, 32, 64};
    o.size = sizes[knobs & 3];
    o.channels = knobs & 4 ? 3 : 1;
    o.filter = knobs & 8 ? RESIZE_BILINEAR : RESIZE_AREA;
    o.crop_center = !(knobs & 16);
    o.fast_dct = !(knobs & 32);
    o.max_pixels = 4u << 20; /* keep each run small; the limit path is fuzzed too */
    uint8_t *out = malloc((size_t)o.size * o.size * o.channels);
    Err err;
    preprocess_jpeg(&pre, &o, data + 1, size - 1, out, &err);
    free(out);
    return 0;
}
