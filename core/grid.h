/* grid: equal-sized tiles laid out in rows, upscaled by an integer factor, with a
 * 2-pixel grey gutter, written as one PNG (exports, samples, reports). */
#ifndef TESSERA_GRID_H
#define TESSERA_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* tiles[r * cols + c] is the tile at row r, column c, or NULL for an empty cell. */
int grid_write_png(const char *path, const uint8_t *const *tiles, size_t rows, size_t cols, int height, int width,
                   int channels, int scale, Err *err);

/* The smallest integer upscale that makes a tile at least `target` pixels tall (≥ 1). */
int grid_auto_scale(int tile_height, int target);

#endif
