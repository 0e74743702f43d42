/* png_write: PNG files through libpng's simplified API. */
#include "png_write.h"

#include <png.h>
#include <string.h>

int png_write(const char *path, const uint8_t *pixels, size_t width, size_t height, int channels, Err *err) {
    if (channels != 1 && channels != 3) return err_set(err, "%s: PNG needs 1 or 3 channels, not %d", path, channels);
    if (width == 0 || height == 0 || width > 0x7fffffff || height > 0x7fffffff)
        return err_set(err, "%s: bad PNG size %zux%zu", path, width, height);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, pixels, (png_int_32)(width * (size_t)channels), NULL)) {
        err_set(err, "%s: cannot write PNG (%s)", path, img.message);
        png_image_free(&img);
        return -1;
    }
    return 0;
}
