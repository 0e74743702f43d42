/* checkpoint: atomic, checksummed training state files (see checkpoint.h). */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/buf.h"
#include "../core/fs.h"
#include "../core/xalloc.h"

static const char MAGIC[8] = {'T', 'S', 'R', 'C', 'K', 'P', 'T', 0};

static void encode_header(Buf *b, const CheckpointInfo *info, uint64_t config_bytes) {
    buf_put(b, MAGIC, 8);
    buf_put_u32(b, CKPT_VERSION);
    buf_put_u32(b, CKPT_HEADER_BYTES);
    char model[CKPT_KIND_BYTES] = {0};
    memcpy(model, info->model, strnlen(info->model, CKPT_KIND_BYTES - 1));
    buf_put(b, model, CKPT_KIND_BYTES);
    buf_put_u64(b, info->step);
    buf_put_u64(b, info->epoch);
    buf_put_u64(b, info->next_batch);
    for (int i = 0; i < 4; i++) buf_put_u64(b, info->rng[i]);
    buf_put_u64(b, info->n_params);
    buf_put_u32(b, (uint32_t)sizeof(float));
    buf_put_u32(b, info->n_dims);
    for (int i = 0; i < CKPT_MAX_DIMS; i++) buf_put_u64(b, i < (int)info->n_dims ? info->dims[i] : 0);
    buf_put_u32(b, (uint32_t)info->has_ema);
    buf_put_u64(b, config_bytes);
    _Static_assert(8 + 4 + 4 + CKPT_KIND_BYTES + 7 * 8 + 8 + 4 + 4 + CKPT_MAX_DIMS * 8 + 4 + 8 <= CKPT_HEADER_BYTES,
                   "checkpoint header fields must fit in CKPT_HEADER_BYTES");
    while (b->len < CKPT_HEADER_BYTES) buf_put_u8(b, 0);
}

static int decode_header(const uint8_t *p, size_t n, CheckpointInfo *info, uint64_t *config_bytes, Err *err) {
    Reader r = reader_of(p, n);
    const uint8_t *magic = rd_bytes(&r, 8);
    uint32_t version = rd_u32(&r), header_bytes = rd_u32(&r);
    if (!magic || memcmp(magic, MAGIC, 8) != 0) return err_set(err, "not a Tessera checkpoint (bad magic)");
    if (version != CKPT_VERSION)
        return err_set(err, "checkpoint version %u, this tessera reads %d: retrain, or use the tessera that wrote it",
                       version, CKPT_VERSION);
    if (header_bytes != CKPT_HEADER_BYTES) return err_set(err, "checkpoint header of %u bytes", header_bytes);
    memset(info, 0, sizeof *info);
    memcpy(info->model, rd_bytes(&r, CKPT_KIND_BYTES), CKPT_KIND_BYTES);
    info->model[CKPT_KIND_BYTES - 1] = 0;
    info->step = rd_u64(&r);
    info->epoch = rd_u64(&r);
    info->next_batch = rd_u64(&r);
    for (int i = 0; i < 4; i++) info->rng[i] = rd_u64(&r);
    info->n_params = rd_u64(&r);
    uint32_t scalar_bytes = rd_u32(&r);
    info->n_dims = rd_u32(&r);
    for (int i = 0; i < CKPT_MAX_DIMS; i++) info->dims[i] = rd_u64(&r);
    info->has_ema = (int)rd_u32(&r);
    *config_bytes = rd_u64(&r);
    if (r.bad) return err_set(err, "truncated checkpoint header");
    if (scalar_bytes != sizeof(float)) return err_set(err, "checkpoint stores %u-byte scalars", scalar_bytes);
    if (info->n_dims > CKPT_MAX_DIMS) return err_set(err, "checkpoint has %u dims", info->n_dims);
    return 0;
}

static uint64_t expected_size(const CheckpointInfo *info, uint64_t config_bytes, int with_moments) {
    uint64_t tensors = 1 + (with_moments ? 2 : 0) + (info->has_ema ? 1 : 0);
    return CKPT_HEADER_BYTES + config_bytes + tensors * info->n_params * sizeof(float) + 4 /* crc */;
}

/* Writes everything (retrying short writes) and folds what was written into crc. */
static int write_all(int fd, const void *p, size_t n, uLong *crc) {
    const uint8_t *b = p;
    for (size_t at = 0; at < n;) {
        size_t chunk = n - at > (1u << 30) ? (1u << 30) : n - at;
        ssize_t w = write(fd, b + at, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        *crc = crc32(*crc, b + at, (uInt)w);
        at += (size_t)w;
    }
    return 0;
}

int checkpoint_write(const char *path, const CheckpointInfo *info, const char *config_text, const CheckpointData *d,
                     Err *err) {
    if (!d->m != !d->v) return err_set(err, "checkpoint: m and v go together");
    size_t tmp_len = strlen(path) + 8;
    char *tmp = xmalloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, "%s: cannot write checkpoint (%s)", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    CheckpointInfo h = *info;
    h.has_ema = d->ema != NULL;
    uint64_t config_bytes = config_text ? strlen(config_text) : 0;
    Buf header = {0};
    encode_header(&header, &h, config_bytes);
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n = (size_t)h.n_params * sizeof(float);
    int rc = write_all(fd, header.data, header.len, &crc);
    if (rc == 0 && config_bytes) rc = write_all(fd, config_text, config_bytes, &crc);
    if (rc == 0) rc = write_all(fd, d->params, n, &crc);
    if (rc == 0 && d->m) rc = write_all(fd, d->m, n, &crc);
    if (rc == 0 && d->m) rc = write_all(fd, d->v, n, &crc);
    if (rc == 0 && d->ema) rc = write_all(fd, d->ema, n, &crc);
    uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    uLong ignored = 0;
    if (rc == 0) rc = write_all(fd, trailer, 4, &ignored);
    if (rc == 0 && fsync(fd) != 0) rc = -1;
    const char *why = rc != 0 ? strerror(errno) : NULL;
    if (close(fd) != 0 && rc == 0) rc = -1, why = strerror(errno);
    buf_free(&header);
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, why = strerror(errno);
    if (rc != 0) {
        err_set(err, "%s: cannot write checkpoint (%s)", path, why);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Reads the whole file, checks size and CRC, returns the bytes (malloc'd). */
static uint8_t *read_verified(const char *path, size_t *n_out, CheckpointInfo *info, uint64_t *config_bytes,
                              int *with_moments, Err *err) {
    Buf b = {0};
    if (fs_read_file(path, &b, (size_t)1 << 40, err) != 0) {
        err_prefix(err, "%s", path);
        buf_free(&b);
        return NULL;
    }
    if (b.len < CKPT_HEADER_BYTES + 4 || decode_header(b.data, b.len, info, config_bytes, err) != 0) {
        if (b.len < CKPT_HEADER_BYTES + 4) err_set(err, "checkpoint of %zu bytes is truncated", b.len);
        err_prefix(err, "%s", path);
        buf_free(&b);
        return NULL;
    }
    /* Sizes from the header are checked against the file before any arithmetic on them,
     * so a corrupted header cannot wrap the expected size around. */
    if (*config_bytes > b.len || info->n_params > b.len / sizeof(float)) {
        err_set(err, "%s: checkpoint header claims more bytes than the file's %zu: truncated or corrupted", path, b.len);
        buf_free(&b);
        return NULL;
    }
    uint64_t without = expected_size(info, *config_bytes, 0), with = expected_size(info, *config_bytes, 1);
    if (b.len != without && b.len != with) {
        err_set(err, "%s: checkpoint is %zu bytes, its header says %llu: truncated or corrupted; delete it to resume "
                     "from the one before",
                path, b.len, (unsigned long long)with);
        buf_free(&b);
        return NULL;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < b.len - 4;) {
        size_t chunk = b.len - 4 - at > (1u << 30) ? (1u << 30) : b.len - 4 - at;
        crc = crc32(crc, b.data + at, (uInt)chunk);
        at += chunk;
    }
    const uint8_t *t = b.data + b.len - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (stored != (uint32_t)crc) {
        err_set(err, "%s: checkpoint checksum mismatch: the file is corrupted; delete it to resume from the one before",
                path);
        buf_free(&b);
        return NULL;
    }
    info->checksum = stored;
    *with_moments = b.len == with;
    *n_out = b.len;
    return b.data;
}

int checkpoint_inspect(const char *path, CheckpointInfo *info, char **config_text, Err *err) {
    size_t n;
    uint64_t config_bytes;
    int with_moments;
    uint8_t *bytes = read_verified(path, &n, info, &config_bytes, &with_moments, err);
    if (!bytes) return -1;
    if (config_text) {
        *config_text = xmalloc(config_bytes + 1);
        memcpy(*config_text, bytes + CKPT_HEADER_BYTES, config_bytes);
        (*config_text)[config_bytes] = 0;
    }
    free(bytes);
    return 0;
}

int checkpoint_load(const char *path, const CheckpointInfo *expect, CheckpointInfo *info, CheckpointData *d,
                    Err *err) {
    size_t n;
    uint64_t config_bytes;
    int with_moments;
    uint8_t *bytes = read_verified(path, &n, info, &config_bytes, &with_moments, err);
    if (!bytes) return -1;
    int rc = 0;
    if (strcmp(info->model, expect->model) != 0) {
        rc = err_set(err, "%s: is a checkpoint of model '%s', not '%s'", path, info->model, expect->model);
    } else if (info->n_dims != expect->n_dims || memcmp(info->dims, expect->dims, sizeof info->dims) != 0) {
        rc = err_set(err, "%s: was trained with other model dimensions than this config asks for", path);
    } else if (info->n_params != expect->n_params) {
        rc = err_set(err, "%s: holds %llu parameters, this model has %llu", path, (unsigned long long)info->n_params,
                     (unsigned long long)expect->n_params);
    } else if (d->m && !with_moments) {
        rc = err_set(err, "%s: holds no optimizer state (an export, not a training checkpoint)", path);
    }
    if (rc == 0) {
        size_t sz = (size_t)info->n_params * sizeof(float);
        const uint8_t *p = bytes + CKPT_HEADER_BYTES + config_bytes;
        memcpy(d->params, p, sz);
        p += sz;
        if (with_moments) {
            if (d->m) memcpy(d->m, p, sz), memcpy(d->v, p + sz, sz);
            p += 2 * sz;
        }
        if (info->has_ema && d->ema) memcpy(d->ema, p, sz);
    }
    free(bytes);
    return rc;
}

char *checkpoint_path(const char *run_dir, uint64_t step) {
    char name[64];
    snprintf(name, sizeof name, "ckpt_%08llu.bin", (unsigned long long)step);
    return fs_join(run_dir, name);
}

static int by_name_desc(const struct dirent **a, const struct dirent **b) { return strcmp((*b)->d_name, (*a)->d_name); }

static int is_checkpoint_name(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n == 17 && strncmp(e->d_name, "ckpt_", 5) == 0 && strcmp(e->d_name + 13, ".bin") == 0;
}

int checkpoint_load_weights(const char *path, const CheckpointInfo *expect, float *params, CheckpointInfo *info,
                            Err *err) {
    float *ema = xmalloc((expect->n_params ? expect->n_params : 1) * sizeof *ema);
    CheckpointData d = {params, NULL, NULL, ema};
    int rc = checkpoint_load(path, expect, info, &d, err);
    if (rc == 0 && info->has_ema) memcpy(params, ema, expect->n_params * sizeof *ema);
    free(ema);
    return rc;
}

char *checkpoint_find_newest(const char *run_dir) {
    struct dirent **list;
    int n = scandir(run_dir, &list, is_checkpoint_name, by_name_desc);
    if (n < 0) return NULL;
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        char *path = fs_join(run_dir, list[i]->d_name);
        CheckpointInfo info;
        Err err;
        if (!found && checkpoint_inspect(path, &info, NULL, &err) == 0) {
            found = path;
        } else {
            if (!found) fprintf(stderr, "tessera: skipping %s\n", err.msg);
            free(path);
        }
        free(list[i]);
    }
    free(list);
    return found;
}
