/* grid: tiles to one PNG (see grid.h). */
#include "grid.h"

#include <stdlib.h>
#include <string.h>

#include "png_write.h"
#include "xalloc.h"

enum { GUTTER = 2, BACKGROUND = 128 };

int grid_auto_scale(int tile_height, int target) {
    int s = tile_height > 0 ? (target + tile_height - 1) / tile_height : 1;
    return s < 1 ? 1 : s > 16 ? 16 : s;
}

int grid_write_png(const char *path, const uint8_t *const *tiles, size_t rows, size_t cols, int height, int width,
                   int channels, int scale, Err *err) {
    if (rows == 0 || cols == 0) return err_set(err, "%s: nothing to draw", path);
    size_t th = (size_t)height * scale, tw = (size_t)width * scale;
    size_t H = rows * th + (rows + 1) * GUTTER, W = cols * tw + (cols + 1) * GUTTER;
    uint8_t *canvas = xmalloc(H * W * channels);
    memset(canvas, BACKGROUND, H * W * channels);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            const uint8_t *t = tiles[r * cols + c];
            if (!t) continue;
            size_t y0 = GUTTER + r * (th + GUTTER), x0 = GUTTER + c * (tw + GUTTER);
            for (size_t y = 0; y < th; y++) {
                const uint8_t *src = t + (y / scale) * (size_t)width * channels;
                uint8_t *dst = canvas + ((y0 + y) * W + x0) * channels;
                for (size_t x = 0; x < tw; x++)
                    memcpy(dst + x * channels, src + (x / scale) * channels, (size_t)channels);
            }
        }
    }
    int rc = png_write(path, canvas, W, H, channels, err);
    free(canvas);
    return rc;
}
