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

int job_item_pixels(Preprocessor *pre, const PreprocessOptions *o, Buf *file, const TaskItem *in, uint8_t *pixels,
                    Err *err) {
    if (in->kind == INPUT_PIXELS)
        return preprocess_pixels(pre, o, in->data, in->width, in->height, in->channels, pixels, err);
    if (in->kind == INPUT_JPEG) return preprocess_jpeg(pre, o, in->data, in->n, pixels, err);
    if (in->kind != INPUT_FILE) return err_set(err, "not an image: a task item of kind %u", in->kind);
    /* A local worker reads the file itself, sparing the coordinator. */
    char path[INPUT_PATH_MAX + 1];
    memcpy(path, in->data, in->n);
    path[in->n] = 0;
    if (fs_read_file(path, file, MAX_SOURCE_FILE_BYTES, err) != 0) return -1;
    return preprocess_jpeg(pre, o, file->data, file->len, pixels, err);
}

static int ingest_process(void *state, const TaskItem *in, Buf *out, Err *err) {
    IngestJob *j = state;
    size_t bytes = (size_t)j->options.size * j->options.size * j->options.channels;
    buf_reserve(out, bytes);
    if (job_item_pixels(&j->pre, &j->options, &j->file, in, out->data + out->len, err) != 0) return -1;
    out->len += bytes;
    return 0;
}

static void ingest_stop(void *state) {
    IngestJob *j = state;
    preprocessor_free(&j->pre);
    buf_free(&j->file);
    free(j);
}

const JobKind INGEST_JOB = {"ingest", ingest_start, ingest_process, ingest_stop};
