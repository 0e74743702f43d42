/* idx: MNIST-format IDX files (images: magic 0x803, labels: magic 0x801), big-endian
 * headers, gzipped or not. Headers are checked before anything is allocated. */
#ifndef TESSERA_IDX_H
#define TESSERA_IDX_H

#include <stdint.h>

#include "../core/err.h"

typedef struct {
    uint8_t *pixels; /* count × rows × cols, or NULL when only the header was read */
    uint32_t count, rows, cols;
} IdxData;

int idx_looks_like_images(const char *path);
/* Reads the header and checks the file holds all the pixels it claims; with want_pixels
 * keeps them too. A header alone never decides how much is allocated. */
int idx_load(const char *path, IdxData *out, int want_pixels, Err *err);
/* The labels file beside an images file ("images-idx3" → "labels-idx1"), malloc'd, or NULL. */
char *idx_labels_path_for(const char *images);
int idx_load_labels(const char *path, uint32_t count, int32_t **out, Err *err);
void idx_free(IdxData *d);

#endif
