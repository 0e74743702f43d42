/* resize: separable resampling of a (possibly fractional) box of an 8-bit image.
 *
 *   RESIZE_AREA      each output pixel is the mean of the source area it covers,
 *                    with fractional weights at the edges (antialiased box filter,
 *                    OpenCV's INTER_AREA; nearest neighbour when enlarging).
 *   RESIZE_BILINEAR  plain bilinear interpolation at the output pixel's centre
 *                    (half-pixel centres, edges clamped; not antialiased).
 *
 * Columns are filtered vertically into a float buffer (only the output rows, and only
 * the source columns the crop reads), then rows horizontally with a fixed tap count. */
#ifndef TESSERA_RESIZE_H
#define TESSERA_RESIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RESIZE_AREA = 0, RESIZE_BILINEAR = 1 } ResizeFilter;

typedef struct {
    double x0, y0, x1, y1; /* source box in pixels: [x0, x1) × [y0, y1) */
} Box;

/* Reusable scratch space so a worker allocates once. */
typedef struct {
    float *rows;
    size_t rows_cap;
    float *weights;
    int *taps; /* per output pixel: first source index, tap count */
    size_t weights_cap, taps_cap;
} ResizeScratch;

void resize_box(const uint8_t *src, int src_width, int src_height, int channels, Box box, uint8_t *dst,
                int dst_width, int dst_height, ResizeFilter filter, ResizeScratch *scratch);
void resize_scratch_free(ResizeScratch *s);

/* The centred square of a width×height image (the whole image when it is square). */
Box center_square(int width, int height);

#endif
