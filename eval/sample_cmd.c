/* sample_cmd: `tessera sample --ckpt CKPT --n N -o STORE` (docs/CLI.md).
 *
 * Draws N code grids from an AR checkpoint (train/ar_sample.h), decodes them with the
 * tokenizer the checkpoint names, and writes the images to a new pixel store, labels =
 * the requested classes, plus an optional PNG grid with one row per class. Under mpirun
 * each rank samples and decodes a contiguous share of the images and rank 0 writes them;
 * image i is the same whatever the number of ranks (each image has its own random stream).
 *
 * The store is built under STORE.partial and renamed to STORE only when complete, so a
 * failed or interrupted run never leaves a partial store where one is expected; an
 * existing STORE is refused rather than overwritten or continued. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/fs.h"
#include "../core/grid.h"
#include "../core/progress.h"
#include "../core/xalloc.h"
#include "../store/store.h"
#include "../store/writer.h"
#include "../train/ar.h"
#include "../train/ar_sample.h"
#include "../train/dist.h"
#include "eval_cmd.h"
#include "sample_cmd.h"

static const char *USAGE =
    "usage: tessera sample --ckpt CKPT --n N -o STORE [options]\n"
    "\n"
    "Draws N images from an autoregressive checkpoint (model = ar), decoded by the tokenizer\n"
    "it names, into a new pixel store (labels = the classes asked for). Under mpirun the\n"
    "ranks share the work; the images do not depend on the number of ranks.\n"
    "\n"
    "  --ckpt CKPT            the model checkpoint (required)\n"
    "  --n N                  images to draw (required, at least 1)\n"
    "  -o, --output STORE     the pixel store to create (must not exist)\n"
    "  --class K|all          every image of class K, or the classes in turn (default: all;\n"
    "                         a model of an unlabelled store samples unconditionally)\n"
    "  --cfg S                classifier-free guidance scale (default 1: none)\n"
    "  --cfg-schedule const|powcos   the scale at every step, or RAR's pow-cosine ramp from 1\n"
    "                         to S (default const)\n"
    "  --cfg-power P          the ramp's power (default 1)\n"
    "  --temperature T        softmax temperature (default 1)\n"
    "  --top-k K              draw only among the K likeliest codes (default 0: all)\n"
    "  --seed S               (default 1)\n"
    "  --grid FILE.png        also draw a grid: one row per class, up to 10 images each\n"
    "  --batch B              images per forward batch on each rank (default 250)\n"
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 written; 1 bad input; 2 bad usage.\n";

typedef struct {
    const char *ckpt, *out, *grid, *class_arg;
    size_t n, batch;
    ArSampleOptions so;
} SampleArgs;

static int parse_double(const char *flag, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi)) {
        report_error("sample: %s %s: expected a number in [%g, %g]", flag, text, lo, hi);
        return 1;
    }
    *out = v;
    return 0;
}

/* -1: parsed; else the exit status to leave with. */
static int parse_args(SampleArgs *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->so = ar_sample_defaults();
    a->so.cfg_power = 1;
    a->batch = 250;
    a->class_arg = "all";
    enum { O_CKPT = 256, O_N, O_CLASS, O_CFG, O_SCHED, O_POWER, O_TEMP, O_TOPK, O_SEED, O_GRID, O_BATCH };
    static const struct option longs[] = {
        {"ckpt", required_argument, 0, O_CKPT},         {"n", required_argument, 0, O_N},
        {"output", required_argument, 0, 'o'},          {"class", required_argument, 0, O_CLASS},
        {"cfg", required_argument, 0, O_CFG},           {"cfg-schedule", required_argument, 0, O_SCHED},
        {"cfg-power", required_argument, 0, O_POWER},   {"temperature", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK},        {"seed", required_argument, 0, O_SEED},
        {"grid", required_argument, 0, O_GRID},         {"batch", required_argument, 0, O_BATCH},
        {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", longs, NULL)) != -1) {
        size_t v = 0;
        int bad = 0;
        switch (opt) {
        case O_CKPT: a->ckpt = optarg; break;
        case O_N: bad = eval_parse_count("--n", optarg, 0, &a->n); break;
        case 'o': a->out = optarg; break;
        case O_CLASS: a->class_arg = optarg; break;
        case O_CFG: bad = parse_double("--cfg", optarg, 0, 1000, &a->so.cfg); break;
        case O_SCHED:
            if (!strcmp(optarg, "const")) a->so.schedule = GUIDANCE_CONST;
            else if (!strcmp(optarg, "powcos")) a->so.schedule = GUIDANCE_POWCOS;
            else bad = (report_error("sample: --cfg-schedule %s: expected const or powcos", optarg), 1);
            break;
        case O_POWER: bad = parse_double("--cfg-power", optarg, 0, 100, &a->so.cfg_power); break;
        case O_TEMP: bad = parse_double("--temperature", optarg, 1e-3, 100, &a->so.temperature); break;
        case O_TOPK: bad = eval_parse_count("--top-k", optarg, 1, &a->so.top_k); break;
        case O_SEED: bad = eval_parse_count("--seed", optarg, 1, &v), a->so.seed = v; break;
        case O_GRID: a->grid = optarg; break;
        case O_BATCH: bad = eval_parse_count("--batch", optarg, 0, &a->batch); break;
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
        if (bad) return EXIT_USAGE;
    }
    const char *missing = !a->ckpt ? "--ckpt CKPT" : !a->n ? "--n N" : !a->out ? "-o STORE" : NULL;
    if (missing || optind != argc) {
        if (missing) report_error("sample: missing %s", missing);
        else report_error("sample: unexpected argument '%s'", argv[optind]);
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    return -1;
}

/* The class of every image: K, or the classes in turn; -1 (null) for an unlabelled model. */
static int plan_classes(const SampleArgs *a, const ArShape *s, int32_t *classes, Err *err) {
    long k = -1;
    if (strcmp(a->class_arg, "all") != 0) {
        char *end;
        k = strtol(a->class_arg, &end, 10);
        if (end == a->class_arg || *end || k < 0)
            return err_set(err, "--class %s: expected a class id or all", a->class_arg);
        if (!s->classes) return err_set(err, "--class %ld: the model was trained on an unlabelled store", k);
        if ((size_t)k >= s->classes)
            return err_set(err, "--class %ld is out of range: the model knows classes 0..%zu", k, s->classes - 1);
    }
    if (!s->classes && !(a->so.schedule == GUIDANCE_CONST && a->so.cfg == 1.0))
        return err_set(err, "--cfg %g: guidance needs classes, and the model was trained on an unlabelled store",
                       a->so.cfg);
    if (a->so.top_k > s->K) return err_set(err, "--top-k %zu: the model has %zu codes", a->so.top_k, s->K);
    for (size_t i = 0; i < a->n; i++)
        classes[i] = !s->classes ? -1 : k >= 0 ? (int32_t)k : (int32_t)(i % s->classes);
    return 0;
}

/* Images [lo, hi) sampled and decoded into pixels (relative to lo). */
static void sample_share(ArModel *m, Tokenizer *tok, const SampleArgs *a, const int32_t *classes, size_t lo, size_t hi,
                         uint8_t *pixels, int show) {
    size_t N = ar_seq(&m->shape), image = (size_t)tok->height * tok->width * tok->channels;
    int32_t *codes = xmalloc(a->batch * N * sizeof *codes);
    Progress p;
    if (show) progress_start(&p, "sample", hi - lo);
    for (size_t at = lo; at < hi; at += a->batch) {
        size_t n = hi - at < a->batch ? hi - at : a->batch;
        ar_sample_codes(&m->gpt, &m->shape, classes + at, n, at, &a->so, codes);
        vqvae_detokenize(&tok->net, codes, n, pixels + (at - lo) * image);
        if (show) progress_update(&p, at + n - lo, 0, NULL);
    }
    if (show) progress_finish(&p);
    free(codes);
}

/* Removes the partial store directory (an LMDB environment: data.mdb, lock.mdb). */
static void remove_partial(const char *dir) {
    char *data = fs_join(dir, "data.mdb"), *lock = fs_join(dir, "lock.mdb");
    unlink(data);
    unlink(lock);
    rmdir(dir);
    free(data);
    free(lock);
}

/* The label names of the training store, when it is still there. */
static char *class_names(const ArModel *m, size_t *n_out) {
    Config cfg;
    Err err;
    const ConfigKey *const schemas[] = {TRAIN_SHARED_KEYS, AR_KEYS, NULL};
    char *names = NULL;
    *n_out = 0;
    if (config_load_text(&cfg, schemas, m->config_text, m->path, &err) != 0) return xstrdup("");
    Store s;
    Meta meta;
    if (store_open(&s, config_str(&cfg, "store"), 0, 0, &err) == 0) {
        if (store_meta_load(&s, &meta, &err) == 0) {
            const char *ln = meta_get(&meta, "label_names"), *nl = meta_get(&meta, "num_labels");
            if (ln && nl && strtoul(nl, NULL, 10) == m->shape.classes) names = xstrdup(ln), *n_out = m->shape.classes;
            meta_free(&meta);
        }
        store_close(&s);
    }
    config_free(&cfg);
    if (!names && m->shape.classes) { /* "0\n1\n…": numbered classes */
        Buf b = {0};
        for (size_t k = 0; k < m->shape.classes; k++) buf_printf(&b, "%s%zu", k ? "\n" : "", k);
        buf_put_u8(&b, 0);
        names = (char *)b.data;
        *n_out = m->shape.classes;
    }
    return names ? names : xstrdup("");
}

/* Fills the store opened (empty) before sampling, and closes it. */
static int write_store(Store *s, ArModel *m, const Tokenizer *tok, const SampleArgs *a, const int32_t *classes,
                       const uint8_t *pixels, Err *err) {
    StoreWriter w;
    if (writer_open(&w, s, err) != 0) {
        store_close(s);
        return -1;
    }
    char v[512], tokid[64];
    size_t n_names;
    char *names = class_names(m, &n_names);
    writer_set_standard_meta(&w, "pixels", "uint8");
    snprintf(v, sizeof v, "%d", tok->height);
    if (tok->height == tok->width) writer_set_meta(&w, "size", v);
    writer_set_meta(&w, "height", v);
    snprintf(v, sizeof v, "%d", tok->width);
    writer_set_meta(&w, "width", v);
    snprintf(v, sizeof v, "%d", tok->channels);
    writer_set_meta(&w, "channels", v);
    writer_set_meta(&w, "resize", "none");
    writer_set_meta(&w, "crop", "none");
    writer_set_meta(&w, "label_names", names);
    snprintf(v, sizeof v, "%zu", n_names);
    writer_set_meta(&w, "num_labels", v);
    char *abs = realpath(m->path, NULL);
    snprintf(v, sizeof v, "sample of %s (ar:%08x, step %llu)", abs ? abs : m->path, m->checksum,
             (unsigned long long)m->step);
    writer_set_meta(&w, "source", v);
    snprintf(v, sizeof v, "class=%s cfg=%g cfg_schedule=%s cfg_power=%g temperature=%g top_k=%zu seed=%llu",
             a->class_arg, a->so.cfg, a->so.schedule == GUIDANCE_POWCOS ? "powcos" : "const", a->so.cfg_power,
             a->so.temperature, a->so.top_k, (unsigned long long)a->so.seed);
    writer_set_meta(&w, "sampler", v);
    tokenizer_identity(tok, tokid, sizeof tokid);
    writer_set_meta(&w, "tokenizer", tokid);
    size_t image = (size_t)tok->height * tok->width * tok->channels;
    uint8_t header[RECORD_HEADER_BYTES];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        char id[64];
        snprintf(id, sizeof id, "sample#%zu", i);
        record_encode_header(header, classes[i], tok->height, tok->width, tok->channels, DTYPE_U8, 0, image);
        writer_add_record_parts(&w, id, header, sizeof header, pixels + i * image, image);
        rc = writer_maybe_commit(&w, err);
    }
    if (writer_close(&w, rc == 0 ? err : &(Err){0}) != 0) rc = -1;
    store_close(s);
    free(names);
    free(abs);
    return rc;
}

static int write_grid(const char *png, const Tokenizer *tok, const SampleArgs *a, const int32_t *classes,
                      const uint8_t *pixels, size_t n_classes, Err *err) {
    enum { PER_ROW = 10 };
    size_t rows = n_classes ? n_classes : 1, image = (size_t)tok->height * tok->width * tok->channels;
    const uint8_t **tiles = xcalloc(rows * PER_ROW, sizeof *tiles);
    size_t *filled = xcalloc(rows, sizeof *filled), cols = 0;
    for (size_t i = 0; i < a->n; i++) {
        size_t r = classes[i] >= 0 ? (size_t)classes[i] : 0;
        if (filled[r] < PER_ROW) tiles[r * PER_ROW + filled[r]++] = pixels + i * image;
        if (filled[r] > cols) cols = filled[r];
    }
    /* Rows of classes that were not asked for are left out. */
    size_t used = 0;
    for (size_t r = 0; r < rows; r++) {
        if (!filled[r]) continue;
        for (size_t c = 0; c < cols; c++) tiles[used * cols + c] = tiles[r * PER_ROW + c];
        used++;
    }
    /* Short rows are padded with blank tiles. */
    uint8_t *blank = xcalloc(image, 1);
    for (size_t k = 0; k < used * cols; k++)
        if (!tiles[k]) tiles[k] = blank;
    int rc = grid_write_png(png, tiles, used, cols, tok->height, tok->width, tok->channels,
                            grid_auto_scale(tok->height, 56), err);
    free(blank);
    free(filled);
    free(tiles);
    return rc;
}

static int run(const SampleArgs *a, const Dist *d, Err *err) {
    ArModel m;
    Tokenizer tok = {0};
    Store out = {0};
    if (ar_model_open(&m, a->ckpt, err) != 0) return -1;
    int32_t *classes = xmalloc(a->n * sizeof *classes);
    uint8_t *pixels = NULL;
    size_t need = strlen(a->out) + 16;
    char *partial = xmalloc(need);
    snprintf(partial, need, "%s.partial", a->out);
    int rc = plan_classes(a, &m.shape, classes, err);
    if (rc == 0 && ar_open_tokenizer(&tok, m.tokenizer_path, &m.shape, err) != 0)
        rc = err_prefix(err, "%s: its tokenizer", m.path);
    if (rc == 0 && fs_exists(a->out))
        rc = err_set(err, "%s: exists; sample writes a new store (remove it or give another -o)", a->out);
    /* Rank 0 creates the (hidden) store before the work, so a place it cannot write is
     * refused at once; every rank learns whether it could. */
    if (rc == 0 && d->rank == 0) {
        remove_partial(partial); /* a leftover of an interrupted run */
        if (store_open(&out, partial, 1, 1, err) != 0) rc = err_prefix(err, "-o %s", a->out);
    }
    if (dist_max(rc != 0) > 0) {
        if (rc == 0) rc = -1;
        goto done;
    }
    size_t image = (size_t)tok.height * tok.width * tok.channels;
    size_t lo = a->n * (size_t)d->rank / (size_t)d->size, hi = a->n * (size_t)(d->rank + 1) / (size_t)d->size;
    /* Rank 0 holds every image (it writes the store); the others only their share. */
    pixels = xmalloc((d->rank == 0 ? a->n : hi - lo) * image);
    uint8_t *share = d->rank == 0 ? pixels + lo * image : pixels;
    if (d->rank == 0)
        fprintf(stderr, "tessera: sampling %zu images from %s (step %llu) on %d rank%s\n", a->n, a->ckpt,
                (unsigned long long)m.step, d->size, d->size == 1 ? "" : "s");
    sample_share(&m, &tok, a, classes, lo, hi, share, d->rank == 0);
    dist_gather_bytes(d->rank == 0 ? pixels : NULL, share, lo * image, (hi - lo) * image);
    if (d->rank != 0) goto done;
    rc = write_store(&out, &m, &tok, a, classes, pixels, err);
    out.env = NULL;
    if (rc == 0 && rename(partial, a->out) != 0)
        rc = err_set(err, "%s: cannot rename %s to it (%s)", a->out, partial, strerror(errno));
    if (rc == 0 && a->grid) rc = write_grid(a->grid, &tok, a, classes, pixels, m.shape.classes, err);
    if (rc == 0)
        fprintf(stderr, "tessera: %zu images in %s%s%s\n", a->n, a->out, a->grid ? ", grid " : "", a->grid ? a->grid : "");
done:
    if (out.env) store_close(&out);
    if (d->rank == 0) remove_partial(partial); /* gone after the rename; removed after any failure */
    free(partial);
    free(pixels);
    free(classes);
    tokenizer_close(&tok);
    ar_model_close(&m);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    SampleArgs a;
    int status = parse_args(&a, argc, argv);
    if (status >= 0) return status;
    Dist d;
    dist_init(&d, &argc, &argv);
    Err err = {0};
    /* Every rank checks the same inputs, so all fail together; rank 0 says why. */
    int rc = run(&a, &d, &err);
    if (rc != 0 && d.rank == 0) report_error("%s", err.msg);
    dist_finalize();
    return rc == 0 ? EXIT_OK : EXIT_BAD_INPUT;
}
