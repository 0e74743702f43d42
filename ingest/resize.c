/* resize: separable area and bilinear resampling (see resize.h). */
#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

Box center_square(int width, int height) {
    double side = width < height ? width : height;
    double x0 = (width - side) / 2.0, y0 = (height - side) / 2.0;
    return (Box){x0, y0, x0 + side, y0 + side};
}

/* Weights along one axis: for output i, taps[2i] is the first source index and
 * taps[2i+1] the count; its weights start at weights[i * max_taps]. */
static int axis_weights(double start, double end, int src_len, int dst_len, ResizeFilter filter, int *taps,
                        float *weights, int max_taps) {
    double scale = (end - start) / dst_len;
    for (int i = 0; i < dst_len; i++) {
        float *w = weights + (size_t)i * max_taps;
        int first, count = 0;
        if (filter == RESIZE_AREA && scale >= 1.0) {
            double a = start + i * scale, b = a + scale; /* the covered span [a, b) */
            first = (int)floor(a);
            int last = (int)ceil(b) - 1;
            if (first < 0) first = 0;
            if (last > src_len - 1) last = src_len - 1;
            double total = 0;
            for (int j = first; j <= last && count < max_taps; j++) {
                double lo = j > a ? j : a, hi = j + 1 < b ? j + 1 : b;
                double cover = hi - lo;
                w[count++] = (float)(cover > 0 ? cover : 0);
                total += cover > 0 ? cover : 0;
            }
            for (int k = 0; k < count; k++) w[k] = (float)(w[k] / total);
        } else if (filter == RESIZE_AREA) { /* enlarging: the source pixel under the centre */
            int j = (int)floor(start + (i + 0.5) * scale);
            first = j < 0 ? 0 : (j >= src_len ? src_len - 1 : j);
            w[count++] = 1.0f;
        } else {
            double centre = start + (i + 0.5) * scale - 0.5;
            int j = (int)floor(centre);
            double t = centre - j;
            int j0 = j < 0 ? 0 : (j >= src_len ? src_len - 1 : j);
            int j1 = j + 1 < 0 ? 0 : (j + 1 >= src_len ? src_len - 1 : j + 1);
            first = j0;
            if (j1 == j0) {
                w[count++] = 1.0f;
            } else {
                w[count++] = (float)(1 - t);
                w[count++] = (float)t;
            }
        }
        taps[2 * i] = first;
        taps[2 * i + 1] = count;
    }
    return 0;
}

static int axis_max_taps(double span, int dst_len, ResizeFilter filter) {
    double scale = span / dst_len;
    if (filter == RESIZE_AREA && scale >= 1.0) return (int)ceil(scale) + 2;
    return 2;
}

static inline uint8_t to_u8(float v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)v); }

/* One output row of RGB pixels, three accumulators per output pixel. */
static void horizontal_rgb(const float *row, const int *taps, const float *weights, int max_taps, int dst_width,
                           uint8_t *out) {
    for (int j = 0; j < dst_width; j++) {
        const float *p = row + (size_t)taps[2 * j] * 3;
        const float *w = weights + (size_t)j * max_taps;
        int n = taps[2 * j + 1];
        float r = 0.5f, g = 0.5f, b = 0.5f;
        for (int k = 0; k < n; k++, p += 3) {
            r += w[k] * p[0];
            g += w[k] * p[1];
            b += w[k] * p[2];
        }
        out[3 * j] = to_u8(r);
        out[3 * j + 1] = to_u8(g);
        out[3 * j + 2] = to_u8(b);
    }
}

void resize_box(const uint8_t *src, int src_width, int src_height, int channels, Box box, uint8_t *dst,
                int dst_width, int dst_height, ResizeFilter filter, ResizeScratch *s) {
    const int c = channels;
    int max_x = axis_max_taps(box.x1 - box.x0, dst_width, filter);
    int max_y = axis_max_taps(box.y1 - box.y0, dst_height, filter);
    size_t need_w = (size_t)dst_width * max_x + (size_t)dst_height * max_y;
    size_t need_t = 2 * ((size_t)dst_width + dst_height);
    if (need_w > s->weights_cap) {
        free(s->weights);
        s->weights = xmalloc(need_w * sizeof *s->weights);
        s->weights_cap = need_w;
    }
    if (need_t > s->taps_cap) {
        free(s->taps);
        s->taps = xmalloc(need_t * sizeof *s->taps);
        s->taps_cap = need_t;
    }
    int *xtaps = s->taps, *ytaps = s->taps + 2 * dst_width;
    float *xw = s->weights, *yw = s->weights + (size_t)dst_width * max_x;
    axis_weights(box.x0, box.x1, src_width, dst_width, filter, xtaps, xw, max_x);
    axis_weights(box.y0, box.y1, src_height, dst_height, filter, ytaps, yw, max_y);

    /* Only the source columns some output column reads are filtered vertically. */
    int col_lo = xtaps[0], col_hi = xtaps[0];
    for (int i = 0; i < dst_width; i++) {
        int a = xtaps[2 * i], b = a + xtaps[2 * i + 1];
        if (a < col_lo) col_lo = a;
        if (b > col_hi) col_hi = b;
    }
    size_t span = (size_t)(col_hi - col_lo) * c; /* floats per filtered row */
    size_t need_rows = (size_t)dst_height * span;
    if (need_rows > s->rows_cap) {
        free(s->rows);
        s->rows = xmalloc(need_rows * sizeof *s->rows);
        s->rows_cap = need_rows;
    }

    /* Vertical pass first: whole rows at a time, contiguous, so it vectorizes, and the
     * horizontal pass then runs over dst_height rows instead of every source row. */
    for (int i = 0; i < dst_height; i++) {
        const float *w = yw + (size_t)i * max_y;
        int first = ytaps[2 * i], n = ytaps[2 * i + 1];
        float *acc = s->rows + (size_t)i * span;
        const uint8_t *r0 = src + ((size_t)first * src_width + col_lo) * c;
        for (size_t x = 0; x < span; x++) acc[x] = w[0] * r0[x];
        for (int k = 1; k < n; k++) {
            const uint8_t *rk = r0 + (size_t)k * src_width * c;
            const float wk = w[k];
            for (size_t x = 0; x < span; x++) acc[x] += wk * rk[x];
        }
    }

    for (int i = 0; i < dst_height; i++) {
        const float *row = s->rows + (size_t)i * span - (size_t)col_lo * c;
        uint8_t *out = dst + (size_t)i * dst_width * c;
        if (c == 3) {
            horizontal_rgb(row, xtaps, xw, max_x, dst_width, out);
            continue;
        }
        for (int j = 0; j < dst_width; j++) {
            const float *p = row + (size_t)xtaps[2 * j] * c;
            const float *w = xw + (size_t)j * max_x;
            int n = xtaps[2 * j + 1];
            for (int ch = 0; ch < c; ch++) {
                float v = 0.5f;
                for (int k = 0; k < n; k++) v += w[k] * p[(size_t)k * c + ch];
                out[(size_t)j * c + ch] = to_u8(v);
            }
        }
    }
}

void resize_scratch_free(ResizeScratch *s) {
    free(s->rows);
    free(s->weights);
    free(s->taps);
    memset(s, 0, sizeof *s);
}
