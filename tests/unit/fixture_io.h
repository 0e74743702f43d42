/* fixture_io: reading the files tests/fixtures/make_fixtures.py writes, for the unit
 * tests (include after cmocka.h). The folder comes from TESSERA_FIXTURES, which
 * tests/run_tests.sh exports; run the script first when running a test by hand.
 *
 * Reference pixels are NumPy .npy files (uint8, C order, 2 or 3 dimensions); the
 * reader below accepts exactly that and fails the test on anything else. */
#ifndef TESSERA_TEST_FIXTURE_IO_H
#define TESSERA_TEST_FIXTURE_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/buf.h"
#include "../../core/err.h"
#include "../../core/fs.h"

static inline const char *fixture_dir(void) {
    const char *d = getenv("TESSERA_FIXTURES");
    return d && *d ? d : "tests/out/fixtures";
}

/* The fixture's path, malloc'd. */
static inline char *fixture_path(const char *name) { return fs_join(fixture_dir(), name); }

/* Reads a fixture into out; a missing fixture fails the test with a hint. */
static inline void fixture_read(const char *name, Buf *out) {
    char *path = fixture_path(name);
    Err err = {{0}};
    if (fs_read_file(path, out, (size_t)1 << 30, &err) != 0) {
        fprintf(stderr, "%s: %s (run tests/fixtures/make_fixtures.py and set TESSERA_FIXTURES)\n", path, err.msg);
        free(path);
        fail();
    }
    free(path);
}

typedef struct {
    Buf file;
    const uint8_t *data; /* points into file */
    size_t height, width, channels; /* a 2-D array has channels 1 */
} Npy;

/* Loads a uint8 .npy array of shape (H, W) or (H, W, C). */
static inline void npy_load(const char *name, Npy *out) {
    memset(out, 0, sizeof *out);
    fixture_read(name, &out->file);
    const uint8_t *p = out->file.data;
    size_t n = out->file.len;
    assert_true(n >= 10 && memcmp(p, "\x93NUMPY", 6) == 0);
    size_t header_len, start;
    if (p[6] == 1) {
        header_len = (size_t)p[8] | (size_t)p[9] << 8;
        start = 10;
    } else {
        assert_true(n >= 12);
        header_len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        start = 12;
    }
    assert_true(start + header_len <= n);
    char header[512];
    assert_true(header_len < sizeof header);
    memcpy(header, p + start, header_len);
    header[header_len] = 0;
    assert_non_null(strstr(header, "'descr': '|u1'"));
    assert_non_null(strstr(header, "'fortran_order': False"));
    const char *shape = strstr(header, "'shape': (");
    assert_non_null(shape);
    size_t dims[3] = {0, 0, 1};
    int nd = sscanf(shape + 10, "%zu, %zu, %zu", &dims[0], &dims[1], &dims[2]);
    assert_true(nd == 2 || nd == 3);
    out->height = dims[0];
    out->width = dims[1];
    out->channels = dims[2];
    out->data = p + start + header_len;
    assert_int_equal(n - start - header_len, out->height * out->width * out->channels);
}

static inline void npy_free(Npy *a) { buf_free(&a->file); }

#endif
