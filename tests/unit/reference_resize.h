/* reference_resize: the resampling ingest/resize.h promises, written again from its
 * definition in double precision, for the tests to compare against.
 *
 * Each output pixel gets a weight for every source pixel straight from the
 * definition: the area of overlap with the output pixel's span (RESIZE_AREA when not
 * enlarging), the source pixel under the span's centre (RESIZE_AREA when enlarging),
 * or the bilinear tent at the half-pixel centre with clamped edges (RESIZE_BILINEAR).
 * None of resize.c's tap tables, float accumulators or separable passes is reused:
 * the 2-D sum is done directly, then rounded half up and clamped to 0..255.
 *
 * One reading of the contract is made explicit: a span of exactly one source pixel
 * is not "enlarging", so RESIZE_AREA averages the (up to two) pixels it overlaps when
 * the box starts at a fractional position (center_square of 101x100, say). */
#ifndef TESSERA_TEST_REFERENCE_RESIZE_H
#define TESSERA_TEST_REFERENCE_RESIZE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/resize.h"

typedef struct {
    int *lo, *hi;  /* per output index: the source range [lo, hi) with non-zero weight */
    double *w;     /* dst_len × src_len, dense */
    int src_len;
} RefAxis;

static inline int ref_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline void ref_axis_init(RefAxis *a, double start, double end, int src_len, int dst_len, ResizeFilter f) {
    a->src_len = src_len;
    a->lo = malloc(sizeof *a->lo * (size_t)dst_len);
    a->hi = malloc(sizeof *a->hi * (size_t)dst_len);
    a->w = calloc((size_t)dst_len * (size_t)src_len, sizeof *a->w);
    double scale = (end - start) / dst_len;
    for (int i = 0; i < dst_len; i++) {
        double *w = a->w + (size_t)i * src_len;
        if (f == RESIZE_AREA && scale >= 1.0) {
            double s0 = start + i * scale, s1 = start + (i + 1) * scale, total = 0;
            for (int p = 0; p < src_len; p++) {
                double lo = p > s0 ? p : s0, hi = p + 1 < s1 ? p + 1 : s1;
                if (hi > lo) {
                    w[p] = hi - lo;
                    total += hi - lo;
                }
            }
            for (int p = 0; p < src_len; p++) w[p] /= total;
        } else if (f == RESIZE_AREA) {
            w[ref_clamp((int)floor(start + (i + 0.5) * scale), 0, src_len - 1)] = 1.0;
        } else {
            double centre = start + (i + 0.5) * scale - 0.5;
            double j = floor(centre), t = centre - j;
            w[ref_clamp((int)j, 0, src_len - 1)] += 1 - t;
            w[ref_clamp((int)j + 1, 0, src_len - 1)] += t;
        }
        int lo = 0, hi = src_len;
        while (lo < src_len && w[lo] == 0) lo++;
        while (hi > lo && w[hi - 1] == 0) hi--;
        a->lo[i] = lo;
        a->hi[i] = hi;
    }
}

static inline void ref_axis_free(RefAxis *a) {
    free(a->lo);
    free(a->hi);
    free(a->w);
}

/* The reference resampling of box of src (height × width × channels) to dst. */
static inline void reference_resize(const uint8_t *src, int width, int height, int channels, Box box, uint8_t *dst,
                                    int dst_width, int dst_height, ResizeFilter f) {
    RefAxis ax, ay;
    ref_axis_init(&ax, box.x0, box.x1, width, dst_width, f);
    ref_axis_init(&ay, box.y0, box.y1, height, dst_height, f);
    for (int i = 0; i < dst_height; i++)
        for (int j = 0; j < dst_width; j++)
            for (int c = 0; c < channels; c++) {
                double acc = 0;
                for (int y = ay.lo[i]; y < ay.hi[i]; y++) {
                    double wy = ay.w[(size_t)i * height + y];
                    for (int x = ax.lo[j]; x < ax.hi[j]; x++)
                        acc += wy * ax.w[(size_t)j * width + x] * src[((size_t)y * width + x) * channels + c];
                }
                double v = floor(acc + 0.5);
                dst[((size_t)i * dst_width + j) * channels + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    ref_axis_free(&ax);
    ref_axis_free(&ay);
}

#endif
