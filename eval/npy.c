/* npy: .npy version 1.0 files (see npy.h). */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int write_npy(const char *path, const char *descr, const void *data, size_t elem, size_t rows, size_t cols,
                     Err *err) {
    char shape[64], header[256];
    if (cols)
        snprintf(shape, sizeof shape, "(%zu, %zu)", rows, cols);
    else
        snprintf(shape, sizeof shape, "(%zu,)", rows);
    int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    /* magic (6) + version (2) + header length (2) + header + padding + '\n' ≡ 0 mod 64 */
    size_t total = 10 + (size_t)len + 1, padded = (total + 63) / 64 * 64;
    memset(header + len, ' ', padded - total);
    header[padded - 11] = '\n';
    uint16_t hlen = (uint16_t)(padded - 10);
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(err, "%s: cannot write (%s)", path, strerror(errno));
    const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    const unsigned char hl[2] = {(unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    size_t n = rows * (cols ? cols : 1);
    int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(hl, 1, 2, f) == 2 && fwrite(header, 1, hlen, f) == hlen &&
             fwrite(data, elem, n, f) == n; /* x86-64 and every target here are little-endian */
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : err_set(err, "%s: cannot write (%s)", path, strerror(errno));
}

int npy_write_f64(const char *path, const double *data, size_t rows, size_t cols, Err *err) {
    return write_npy(path, "<f8", data, sizeof *data, rows, cols, err);
}

int npy_write_i32(const char *path, const int32_t *data, size_t rows, size_t cols, Err *err) {
    return write_npy(path, "<i4", data, sizeof *data, rows, cols, err);
}
