/* recon_cmd: `tessera eval recon REAL FAKE` (docs/CLI.md): PSNR and SSIM
 * (eval/recon_metrics.h) between record i of two pixel stores, for every i — how far a
 * tokenizer's reconstructions (`tessera detokenize`) are from their originals. */
#include "eval_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "../core/json.h"
#include "../store/store.h"
#include "recon_metrics.h"

static const char *USAGE =
    "usage: tessera eval recon REAL FAKE [--limit N] [--json OUT]\n"
    "\n"
    "Mean PSNR and SSIM between record i of two pixel stores of the same shape (e.g. a test\n"
    "split and its `tessera detokenize` reconstruction). PSNR: 10·log10(255²/MSE) per image,\n"
    "capped at 100 dB; SSIM: 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03 (docs/RESULTS.md).\n"
    "\n"
    "  --limit N     only the first N records (both stores must hold N)\n"
    "  --json OUT    also write the table as JSON (docs/EVAL.md) to OUT\n"
    "  -h, --help    this text\n";

typedef struct {
    Store store;
    int open;
    StoreRead read;
    int reading;
    uint64_t count;
    int height, width, channels;
} Side;

static int open_side(Side *s, const char *path, Err *err) {
    if (store_open(&s->store, path, 0, 0, err) != 0) return -1;
    s->open = 1;
    Meta m;
    if (store_meta_load(&s->store, &m, err) != 0) return -1;
    const char *kind = meta_get(&m, "kind"), *h = meta_get(&m, "height"), *w = meta_get(&m, "width");
    const char *c = meta_get(&m, "channels");
    int rc = !kind || strcmp(kind, "pixels") != 0
                 ? err_set(err, "%s: is a %s store; eval recon compares pixel stores", path, kind ? kind : "unknown")
                 : 0;
    s->height = h ? atoi(h) : 0;
    s->width = w ? atoi(w) : 0;
    s->channels = c ? atoi(c) : 0;
    meta_free(&m);
    if (rc != 0) return -1;
    s->count = store_record_count(&s->store);
    if (store_read_begin(&s->store, &s->read, err) != 0) return -1;
    s->reading = 1;
    return 0;
}

static void close_side(Side *s) {
    if (s->reading) store_read_end(&s->read);
    if (s->open) store_close(&s->store);
}

static int read_image(Side *s, const char *path, uint64_t i, const uint8_t **out, Err *err) {
    RecordView r;
    if (store_read_record(&s->read, i, &r, err) != 0) return err_prefix(err, "%s: record %llu", path, (unsigned long long)i);
    if (r.dtype != DTYPE_U8 || r.height != s->height || r.width != s->width || r.channels != s->channels)
        return err_set(err, "%s: record %llu is %u×%u×%u, the store says %d×%d×%d", path, (unsigned long long)i,
                       r.height, r.width, r.channels, s->height, s->width, s->channels);
    *out = r.payload;
    return 0;
}

static int recon(const char *real_path, const char *fake_path, uint64_t limit, const char *json, Err *err) {
    Side real = {0}, fake = {0};
    int rc = open_side(&real, real_path, err) != 0 || open_side(&fake, fake_path, err) != 0 ? -1 : 0;
    if (rc == 0 && (real.height != fake.height || real.width != fake.width || real.channels != fake.channels))
        rc = err_set(err, "%s holds %d×%d×%d images, %s %d×%d×%d: nothing to compare", real_path, real.height,
                     real.width, real.channels, fake_path, fake.height, fake.width, fake.channels);
    uint64_t n = limit ? limit : real.count;
    if (rc == 0 && limit && (real.count < limit || fake.count < limit))
        rc = err_set(err, "--limit %llu: %s holds %llu records, %s %llu", (unsigned long long)limit, real_path,
                     (unsigned long long)real.count, fake_path, (unsigned long long)fake.count);
    if (rc == 0 && !limit && real.count != fake.count)
        rc = err_set(err, "%s holds %llu records, %s %llu: record i must be the reconstruction of record i",
                     real_path, (unsigned long long)real.count, fake_path, (unsigned long long)fake.count);
    if (rc == 0 && n == 0) rc = err_set(err, "%s: no records to compare", real_path);
    double psnr = 0, ssim = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *a, *b;
        if ((rc = read_image(&real, real_path, i, &a, err)) != 0 || (rc = read_image(&fake, fake_path, i, &b, err)) != 0)
            break;
        psnr += recon_psnr(a, b, real.height, real.width, real.channels);
        ssim += recon_ssim(a, b, real.height, real.width, real.channels);
    }
    close_side(&real);
    close_side(&fake);
    if (rc != 0) return rc;
    psnr /= (double)n;
    ssim /= (double)n;
    printf("| metric | value |\n|---|---:|\n| images | %llu |\n| PSNR (dB) | %.4f |\n| SSIM | %.5f |\n",
           (unsigned long long)n, psnr, ssim);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) return err_set(err, "--json %s: cannot write (%s)", json, strerror(errno));
        Buf b = {0}; /* the schema of docs/EVAL.md, with the flat keys besides */
        buf_printf(&b, "{\"metric\": \"recon\", \"real\": ");
        json_string(&b, real_path);
        buf_printf(&b, ", \"fake\": ");
        json_string(&b, fake_path);
        buf_printf(&b, ", \"n_real\": %llu, \"n_fake\": %llu, \"images\": %llu, \"psnr\": %.17g, \"ssim\": %.17g, "
                       "\"rows\": [{\"name\": \"PSNR (dB)\", \"value\": %.17g}, {\"name\": \"SSIM\", \"value\": %.17g}]}\n",
                   (unsigned long long)n, (unsigned long long)n, (unsigned long long)n, psnr, ssim, psnr, ssim);
        fwrite(b.data, 1, b.len, f);
        buf_free(&b);
        if (fclose(f) != 0) return err_set(err, "--json %s: cannot write (%s)", json, strerror(errno));
    }
    return 0;
}

int cmd_eval_recon(int argc, char **argv) {
    static const struct option longs[] = {
        {"limit", required_argument, 0, 'l'}, {"json", required_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *json = NULL;
    uint64_t limit = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'l': {
            size_t x;
            if (eval_parse_count("--limit", optarg, 0, &x) != 0) return EXIT_USAGE;
            limit = x;
            break;
        }
        case 'j': json = optarg; break;
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        report_error("eval recon: give REAL and FAKE pixel stores");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    Err err;
    if (recon(argv[optind], argv[optind + 1], limit, json, &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}
