/* idx: MNIST-format IDX files, gzipped or not (zlib reads both). */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../core/xalloc.h"

enum { IDX_IMAGES_MAGIC = 0x00000803, IDX_LABELS_MAGIC = 0x00000801 };

static int read_be32(gzFile f, uint32_t *out) {
    uint8_t b[4];
    if (gzread(f, b, 4) != 4) return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

int idx_looks_like_images(const char *path) {
    gzFile f = gzopen(path, "rb");
    if (!f) return 0;
    uint32_t magic = 0;
    int ok = read_be32(f, &magic) == 0 && (magic == IDX_IMAGES_MAGIC);
    gzclose(f);
    return ok;
}

/* The labels file beside an images file: "...-images-idx3-ubyte[.gz]" → "...-labels-idx1-ubyte[.gz]". */
char *idx_labels_path_for(const char *images) {
    const char *base = strrchr(images, '/');
    const char *at = strstr(base ? base + 1 : images, "images-idx3");
    if (!at) return NULL;
    char *out = xmalloc(strlen(images) + 1);
    size_t head = (size_t)(at - images);
    memcpy(out, images, head);
    strcpy(out + head, "labels-idx1");
    strcat(out, at + strlen("images-idx3"));
    return out;
}

int idx_load(const char *path, IdxData *out, int want_pixels, Err *err) {
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f) return err_set(err, "cannot open (%s)", strerror(errno));
    uint32_t magic = 0, count = 0, rows = 0, cols = 0;
    if (read_be32(f, &magic) || magic != IDX_IMAGES_MAGIC || read_be32(f, &count) || read_be32(f, &rows) ||
        read_be32(f, &cols)) {
        gzclose(f);
        return err_set(err, "not an IDX image file (bad header)");
    }
    if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535 || count > (1u << 30))
        return gzclose(f), err_set(err, "IDX header claims %u images of %ux%u", count, rows, cols);
    out->count = count;
    out->rows = rows;
    out->cols = cols;
    if (want_pixels) {
        /* Grow as bytes arrive, so a 16-byte header cannot make us allocate what it claims. */
        size_t bytes = (size_t)count * rows * cols, got = 0, cap = 0;
        while (got < bytes) {
            if (got == cap) {
                cap = cap ? cap * 2 : (size_t)1 << 20;
                if (cap > bytes) cap = bytes;
                out->pixels = xrealloc(out->pixels, cap);
            }
            size_t want = cap - got > (1u << 30) ? (1u << 30) : cap - got;
            int n = gzread(f, out->pixels + got, (unsigned)want);
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got < bytes) {
            gzclose(f);
            free(out->pixels);
            out->pixels = NULL;
            return err_set(err, "IDX file is truncated: %zu of %zu pixel bytes", got, bytes);
        }
    } else {
        /* Header only, but a header must not promise more images than the file holds. */
        size_t bytes = (size_t)count * rows * cols, got = 0;
        uint8_t chunk[1 << 16];
        int n;
        while (got < bytes && (n = gzread(f, chunk, sizeof chunk)) > 0) got += (size_t)n;
        if (got < bytes) {
            gzclose(f);
            return err_set(err, "IDX file is truncated: %zu of %zu pixel bytes", got, bytes);
        }
    }
    gzclose(f);
    return 0;
}

int idx_load_labels(const char *path, uint32_t count, int32_t **out, Err *err) {
    gzFile f = gzopen(path, "rb");
    if (!f) return err_set(err, "%s: cannot open (%s)", path, strerror(errno));
    uint32_t magic = 0, n = 0;
    if (read_be32(f, &magic) || magic != IDX_LABELS_MAGIC || read_be32(f, &n)) {
        gzclose(f);
        return err_set(err, "%s: not an IDX label file (bad header)", path);
    }
    if (n != count) {
        gzclose(f);
        return err_set(err, "%s: has %u labels for %u images", path, n, count);
    }
    uint8_t *raw = xmalloc(count ? count : 1);
    int got = gzread(f, raw, count);
    gzclose(f);
    if (got < 0 || (uint32_t)got != count) {
        free(raw);
        return err_set(err, "%s: truncated label file", path);
    }
    *out = xmalloc((size_t)count * sizeof **out);
    for (uint32_t i = 0; i < count; i++) (*out)[i] = raw[i];
    free(raw);
    return 0;
}

void idx_free(IdxData *d) {
    free(d->pixels);
    memset(d, 0, sizeof *d);
}
