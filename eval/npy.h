/* npy: writing matrices as NumPy .npy files (format version 1.0: magic, a header dict padded
 * so the data starts at a multiple of 64 bytes, then the little-endian values in C order),
 * so that anyone can recompute a metric from the features `tessera eval --dump-features`
 * wrote: numpy.load(path). */
#ifndef TESSERA_NPY_H
#define TESSERA_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* rows × cols doubles ('<f8'), or int32 ('<i4') for npy_write_i32 (cols 0: a vector). */
int npy_write_f64(const char *path, const double *data, size_t rows, size_t cols, Err *err);
int npy_write_i32(const char *path, const int32_t *data, size_t rows, size_t cols, Err *err);

#endif
