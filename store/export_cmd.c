/* export_cmd: `tessera export STORE --grid FILE.png [--n N]` or `--dir DIR`:
 * a picture of a store, or its records as image files. */
#include "export_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "../core/fs.h"
#include "../core/grid.h"
#include "../core/png_write.h"
#include "../core/xalloc.h"
#include "store.h"

static const char *USAGE =
    "usage: tessera export STORE --grid FILE.png [--n N] [--scale K]\n"
    "       tessera export STORE --dir DIR [--format png|jpg] [--quality Q] [--limit N]\n"
    "\n"
    "--grid draws up to N records (default 64) in label order: one row per class, the first\n"
    "records of each class, left to right (unlabelled stores: the first N records).\n"
    "--dir writes records as DIR/<label name>/<index>.<format> (DIR/<index>.<format> when\n"
    "unlabelled), so a store can be turned back into a folder tree of JPEGs.\n";

typedef struct {
    Store store;
    StoreRead read;
    Meta meta;
    char **names;
    size_t n_names;
    uint64_t count;
} Opened;

static int open_store(Opened *o, const char *path, Err *err) {
    memset(o, 0, sizeof *o);
    if (store_open(&o->store, path, 0, 0, err) != 0) return -1;
    if (store_meta_load(&o->store, &o->meta, err) != 0 || store_read_begin(&o->store, &o->read, err) != 0) {
        store_close(&o->store);
        return -1;
    }
    const char *kind = meta_get(&o->meta, "kind");
    if (!kind || strcmp(kind, "pixels") != 0) {
        err_set(err, "%s: export draws pixel stores; this is %s", path, kind ? kind : "not a Tessera store");
        store_read_end(&o->read);
        meta_free(&o->meta);
        store_close(&o->store);
        return -1;
    }
    o->names = meta_label_names(&o->meta, &o->n_names);
    o->count = store_record_count(&o->store);
    return 0;
}

static void close_store(Opened *o) {
    store_read_end(&o->read);
    free_strings(o->names, o->n_names);
    meta_free(&o->meta);
    store_close(&o->store);
}

static int export_grid(Opened *o, const char *png, size_t n, int scale, Err *err) {
    if (o->count == 0) return err_set(err, "%s: the store is empty", o->store.path);
    RecordView first;
    if (store_read_record(&o->read, 0, &first, err) != 0) return -1;
    size_t rows, cols;
    size_t classes = o->n_names;
    if (classes > 0 && classes <= 100) {
        rows = classes;
        cols = n / classes ? n / classes : 1;
    } else {
        classes = 0;
        cols = 1;
        while (cols * cols < n) cols++;
        rows = (n + cols - 1) / cols;
    }
    const uint8_t **tiles = xcalloc(rows * cols, sizeof *tiles);
    size_t *filled = xcalloc(rows, sizeof *filled);
    size_t placed = 0;
    for (uint64_t i = 0; i < o->count && placed < rows * cols; i++) {
        RecordView r;
        if (store_read_record(&o->read, i, &r, err) != 0) goto fail;
        if (r.height != first.height || r.width != first.width || r.channels != first.channels || r.dtype != DTYPE_U8) {
            err_set(err, "%s: record %llu is %ux%ux%u, record 0 is %ux%ux%u", o->store.path, (unsigned long long)i,
                    r.height, r.width, r.channels, first.height, first.width, first.channels);
            goto fail;
        }
        size_t row = classes ? (size_t)(r.label >= 0 ? r.label : 0) : placed / cols;
        if (classes && (r.label < 0 || (size_t)r.label >= classes)) continue;
        if (filled[row] >= cols) continue;
        tiles[row * cols + filled[row]++] = r.payload;
        placed++;
    }
    if (scale <= 0) scale = grid_auto_scale(first.height, 64);
    int rc = grid_write_png(png, tiles, rows, cols, first.height, first.width, first.channels, scale, err);
    free(tiles);
    free(filled);
    if (rc == 0 && classes) {
        printf("%s: %zu rows (one per class):", png, rows);
        for (size_t i = 0; i < rows; i++) printf(" %zu=%s", i, o->names[i]);
        printf("\n");
    } else if (rc == 0) {
        printf("%s: %zu records\n", png, placed);
    }
    return rc;
fail:
    free(tiles);
    free(filled);
    return -1;
}

static char *safe_name(const char *name) {
    char *s = xstrdup(*name ? name : "_");
    for (char *p = s; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20) *p = '_';
    if (!strcmp(s, ".") || !strcmp(s, "..")) s[0] = '_';
    return s;
}

static int write_jpeg(const char *path, const RecordView *r, int quality, Err *err) {
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    int pf = r->channels == 1 ? TJPF_GRAY : TJPF_RGB, ss = r->channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
    int rc = tjCompress2(tj, r->payload, r->width, 0, r->height, pf, &jpeg, &size, ss, quality, 0);
    if (rc != 0) {
        err_set(err, "%s: cannot encode JPEG (%s)", path, tjGetErrorStr2(tj));
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(jpeg, 1, size, f) != size || fclose(f) != 0) {
            rc = err_set(err, "%s: cannot write (%s)", path, strerror(errno));
        }
    }
    tjFree(jpeg);
    tjDestroy(tj);
    return rc;
}

static int export_dir(Opened *o, const char *dir, int jpg, int quality, uint64_t limit, Err *err) {
    if (fs_mkdirs(dir, err) != 0) return -1;
    char **folders = xcalloc(o->n_names ? o->n_names : 1, sizeof *folders);
    int rc = 0;
    for (size_t i = 0; i < o->n_names; i++) {
        char *name = safe_name(o->names[i]);
        folders[i] = fs_join(dir, name);
        free(name);
        if ((rc = fs_mkdirs(folders[i], err)) != 0) break;
    }
    uint64_t n = limit && limit < o->count ? limit : o->count;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        RecordView r;
        if ((rc = store_read_record(&o->read, i, &r, err)) != 0) break;
        int labelled = r.label >= 0 && (size_t)r.label < o->n_names;
        char file[64];
        snprintf(file, sizeof file, "%llu.%s", (unsigned long long)i, jpg ? "jpg" : "png");
        char *path = fs_join(labelled ? folders[r.label] : dir, file);
        rc = jpg ? write_jpeg(path, &r, quality, err) : png_write(path, r.payload, r.width, r.height, r.channels, err);
        free(path);
    }
    for (size_t i = 0; i < o->n_names; i++) free(folders[i]);
    free(folders);
    if (rc == 0) printf("%s: %llu files\n", dir, (unsigned long long)n);
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *grid = NULL, *dir = NULL, *format = "png";
    long n = 64, scale = 0, quality = 95, limit = 0;
    static const struct option longs[] = {{"grid", required_argument, 0, 'g'},  {"n", required_argument, 0, 'n'},
                                          {"scale", required_argument, 0, 's'}, {"dir", required_argument, 0, 'd'},
                                          {"format", required_argument, 0, 'f'}, {"quality", required_argument, 0, 'q'},
                                          {"limit", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'g': grid = optarg; break;
        case 'd': dir = optarg; break;
        case 'f': format = optarg; break;
        case 'n': n = strtol(optarg, &end, 10); break;
        case 's': scale = strtol(optarg, &end, 10); break;
        case 'q': quality = strtol(optarg, &end, 10); break;
        case 'l': limit = strtol(optarg, &end, 10); break;
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
        if (end && (*end || end == optarg)) {
            report_error("export: '%s' is not an integer", optarg);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || (!grid == !dir)) {
        report_error("export: give one STORE and either --grid FILE.png or --dir DIR");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    if (n < 1 || n > 100000 || scale < 0 || scale > 16 || quality < 1 || quality > 100 || limit < 0 ||
        (strcmp(format, "png") && strcmp(format, "jpg"))) {
        report_error("export: --n 1..100000, --scale 0..16, --quality 1..100, --format png|jpg");
        return EXIT_USAGE;
    }
    Err err;
    Opened o;
    if (open_store(&o, argv[optind], &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    int rc = grid ? export_grid(&o, grid, (size_t)n, (int)scale, &err)
                  : export_dir(&o, dir, !strcmp(format, "jpg"), (int)quality, (uint64_t)limit, &err);
    close_store(&o);
    if (rc != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}
