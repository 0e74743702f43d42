/* png_write: 8-bit grayscale or RGB PNG files (libpng), for grids and exports. */
#ifndef TESSERA_PNG_WRITE_H
#define TESSERA_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* pixels: (height, width, channels) row-major, channels 1 or 3. */
int png_write(const char *path, const uint8_t *pixels, size_t width, size_t height, int channels, Err *err);

#endif
