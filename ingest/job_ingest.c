/* job_ingest: the pool job that turns a JPEG (or raw pixels) into a record's pixels. */
#include "job_ingest.h"

#include <stdlib.h>
#include <string.h>

#include "../core/fs.h"
#include "../core/xalloc.h"
#include "source.h"
#include "preprocess.h"

typedef struct {
    PreprocessOptions options;
    Preprocessor pre;
    Buf file; /* INPUT_FILE: the bytes this worker read itself */
} IngestJob;

static void *ingest_start(const char *options, size_t n, Err *err) {
    IngestJob *j = xcalloc(1, sizeof *j);
    if (preprocess_options_parse(options, n, &j->options, err) != 0 || preprocessor_init(&j->pre, err) != 0) {
        free(j);
        return NULL;
    }
    return j;
}

static int ingest_process(void *state, const TaskItem *in, Buf *out, Err *err) {
    IngestJob *j = state;
    size_t bytes = (size_t)j->options.size * j->options.size * j->options.channels;
    buf_reserve(out, bytes);
    uint8_t *pixels = out->data + out->len;
    const uint8_t *jpeg = in->data;
    size_t jpeg_bytes = in->n;
    if (in->kind == INPUT_FILE) { /* a local worker reads the file itself, sparing the coordinator */
        char path[INPUT_PATH_MAX + 1];
        memcpy(path, in->data, in->n);
        path[in->n] = 0;
        if (fs_read_file(path, &j->file, MAX_SOURCE_FILE_BYTES, err) != 0) return -1;
        jpeg = j->file.data;
        jpeg_bytes = j->file.len;
    }
    int rc = in->kind == INPUT_PIXELS
                 ? preprocess_pixels(&j->pre, &j->options, in->data, in->width, in->height, in->channels, pixels, err)
                 : preprocess_jpeg(&j->pre, &j->options, jpeg, jpeg_bytes, pixels, err);
    if (rc == 0) out->len += bytes;
    return rc;
}

static void ingest_stop(void *state) {
    IngestJob *j = state;
    preprocessor_free(&j->pre);
    buf_free(&j->file);
    free(j);
}

const JobKind INGEST_JOB = {"ingest", ingest_start, ingest_process, ingest_stop};
