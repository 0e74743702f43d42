/* source_read: the bytes of planned items, read in plan order (see source.h).
 *
 * Files are read whole; tar members are read by walking the archive forward (items
 * come in archive order, so each shard is read once); IDX files are loaded once and
 * sliced. Anything unreadable becomes a PAYLOAD_ERROR naming the reason. */
#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fs.h"
#include "../core/xalloc.h"
#include "idx.h"
#include "source.h"

struct SourceReader {
    const SourcePlan *plan;
    Buf bytes;
    struct archive *tar;
    uint32_t tar_container;
    uint64_t tar_next; /* ordinal of the next header in the open tar */
    int tar_dead;      /* the open tar failed: everything after it in this shard is lost */
    IdxData *idx;      /* per container, loaded on first use */
    char **idx_error;  /* per container: why it could not be loaded */
};

SourceReader *source_reader_open(const SourcePlan *plan) {
    SourceReader *r = xcalloc(1, sizeof *r);
    r->plan = plan;
    r->idx = xcalloc(plan->n_containers ? plan->n_containers : 1, sizeof *r->idx);
    r->idx_error = xcalloc(plan->n_containers ? plan->n_containers : 1, sizeof *r->idx_error);
    return r;
}

static void close_tar(SourceReader *r) {
    if (r->tar) archive_read_free(r->tar);
    r->tar = NULL;
}

static void read_tar_member(SourceReader *r, const SourceItem *it, Payload *out) {
    if (!r->tar || r->tar_container != it->container || r->tar_next > it->position) {
        close_tar(r);
        r->tar = archive_read_new();
        archive_read_support_filter_all(r->tar);
        archive_read_support_format_tar(r->tar);
        archive_read_support_format_gnutar(r->tar);
        r->tar_dead = archive_read_open_filename(r->tar, r->plan->containers[it->container], 1 << 16) != ARCHIVE_OK;
        r->tar_container = it->container;
        r->tar_next = 0;
    }
    struct archive_entry *e = NULL;
    while (!r->tar_dead && r->tar_next <= it->position) {
        int rc = archive_read_next_header(r->tar, &e);
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            r->tar_dead = 1;
            break;
        }
        r->tar_next++;
    }
    if (r->tar_dead || !e) {
        out->kind = PAYLOAD_ERROR;
        snprintf(out->error, sizeof out->error, "tar member unreadable (%s)",
                 r->tar ? archive_error_string(r->tar) : "cannot open");
        return;
    }
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > MAX_SOURCE_FILE_BYTES) {
        out->kind = PAYLOAD_ERROR;
        snprintf(out->error, sizeof out->error, "tar member of %lld bytes is above the limit", (long long)size);
        return;
    }
    buf_clear(&r->bytes);
    buf_reserve(&r->bytes, (size_t)size);
    la_ssize_t got = 0;
    while ((size_t)got < (size_t)size) {
        la_ssize_t n = archive_read_data(r->tar, r->bytes.data + got, (size_t)size - (size_t)got);
        if (n <= 0) break;
        got += n;
    }
    if ((size_t)got != (size_t)size) {
        out->kind = PAYLOAD_ERROR;
        snprintf(out->error, sizeof out->error, "broken tar member: %lld of %lld bytes readable (%s)",
                 (long long)got, (long long)size, archive_error_string(r->tar) ? archive_error_string(r->tar) : "short read");
        r->tar_dead = 1;
        return;
    }
    out->kind = PAYLOAD_JPEG;
    out->data = r->bytes.data;
    out->n = (size_t)size;
}

static void read_idx(SourceReader *r, const SourceItem *it, Payload *out) {
    IdxData *d = &r->idx[it->container];
    if (!d->pixels && !r->idx_error[it->container]) {
        Err err;
        if (idx_load(r->plan->containers[it->container], d, 1, &err) != 0) r->idx_error[it->container] = xstrdup(err.msg);
    }
    if (r->idx_error[it->container] || it->position >= d->count) {
        out->kind = PAYLOAD_ERROR;
        snprintf(out->error, sizeof out->error, "%s",
                 r->idx_error[it->container] ? r->idx_error[it->container] : "IDX image index out of range");
        return;
    }
    size_t bytes = (size_t)d->rows * d->cols;
    out->kind = PAYLOAD_PIXELS;
    out->data = d->pixels + it->position * bytes;
    out->n = bytes;
    out->width = (int)d->cols;
    out->height = (int)d->rows;
    out->channels = 1;
}

void source_read(SourceReader *r, size_t index, Payload *out) {
    const SourceItem *it = &r->plan->items[index];
    memset(out, 0, offsetof(Payload, error));
    out->error[0] = 0;
    switch (it->kind) {
    case ITEM_FILE: {
        Err err;
        if (fs_read_file(it->path, &r->bytes, MAX_SOURCE_FILE_BYTES, &err) != 0) {
            out->kind = PAYLOAD_ERROR;
            snprintf(out->error, sizeof out->error, "%s", err.msg);
        } else {
            out->kind = PAYLOAD_JPEG;
            out->data = r->bytes.data;
            out->n = r->bytes.len;
        }
        break;
    }
    case ITEM_TAR_MEMBER: read_tar_member(r, it, out); break;
    case ITEM_IDX: read_idx(r, it, out); break;
    default:
        out->kind = PAYLOAD_ERROR;
        snprintf(out->error, sizeof out->error, "%s", it->reason ? it->reason : "unreadable source");
    }
}

void source_reader_close(SourceReader *r) {
    if (!r) return;
    close_tar(r);
    for (size_t i = 0; i < r->plan->n_containers; i++) {
        idx_free(&r->idx[i]);
        free(r->idx_error[i]);
    }
    free(r->idx);
    free(r->idx_error);
    buf_free(&r->bytes);
    free(r);
}
