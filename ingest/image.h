/* image: an owned 8-bit pixel buffer, (height, width, channels) row-major. */
#ifndef TESSERA_IMAGE_H
#define TESSERA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *pixels;
    int width, height, channels;
    size_t capacity; /* bytes allocated; reused across images */
} Image;

/* Makes room for width×height×channels without shrinking; keeps no pixel values. */
void image_reserve(Image *im, int width, int height, int channels);
void image_free(Image *im);

#endif
