/* image: a reusable pixel buffer (see image.h). */
#include "image.h"

#include <stdlib.h>

#include "../core/xalloc.h"

void image_reserve(Image *im, int width, int height, int channels) {
    size_t need = (size_t)width * (size_t)height * (size_t)channels;
    if (need > im->capacity) {
        free(im->pixels);
        im->pixels = xmalloc(need);
        im->capacity = need;
    }
    im->width = width;
    im->height = height;
    im->channels = channels;
}

void image_free(Image *im) {
    free(im->pixels);
    *im = (Image){0};
}
