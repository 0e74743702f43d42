/* probe_cmd: `tessera eval probe TRAIN TEST --net CKPT` (docs/EVAL.md): how linearly the
 * frozen features of a model separate the classes — the protocol of eval/probe.h on the
 * features of a labelled training and test pixel store.
 *
 * Models that expose features: the feature network (model = evalnet, its penultimate
 * layer) and the VQ tokenizer (model = vqvae: its encoder's output before quantization,
 * mean-pooled over the token grid, as iGPT-style probes pool over positions). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/fs.h"
#include "../core/json.h"
#include "../core/xalloc.h"
#include "../tokenize/tokenizer.h"
#include "../train/checkpoint.h"
#include "eval_cmd.h"
#include "feature_net.h"
#include "probe.h"

/* ------------------------------------------------------------------ the tokenizer's features */

static void tokenizer_embed(void *ctx, const uint8_t *const *images, size_t n, double *features, double *probs) {
    (void)probs;
    VqVae *v = &((Tokenizer *)ctx)->net;
    size_t cells = (size_t)v->grid_h * v->grid_w, D = (size_t)v->s.q.D;
    vqvae_reserve(v, n);
    vqvae_encode_forward(v, images, n);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) {
            double sum = 0;
            for (size_t c = 0; c < cells; c++) sum += v->z[(i * cells + c) * D + d];
            features[i * D + d] = sum / (double)cells;
        }
}

typedef struct {
    FeatureNet net;
    Tokenizer tok;
    FeatureSource src;
    char kind[CKPT_KIND_BYTES];
    uint32_t checksum;
} Source;

static int open_source(Source *s, const char *path, Err *err) {
    CheckpointInfo info;
    if (checkpoint_inspect(path, &info, NULL, err) != 0) return -1;
    snprintf(s->kind, sizeof s->kind, "%s", info.model);
    if (!strcmp(info.model, "evalnet")) {
        if (feature_net_open(&s->net, path, err) != 0) return -1;
        s->src = feature_net_source(&s->net);
        s->checksum = s->net.checksum;
        return 0;
    }
    if (!strcmp(info.model, "vqvae")) {
        if (tokenizer_open(&s->tok, path, 0, 0, err) != 0) return -1;
        s->src = (FeatureSource){.ctx = &s->tok, .path = s->tok.path, .height = s->tok.height, .width = s->tok.width,
                                 .channels = s->tok.channels, .dim = (size_t)s->tok.net.s.q.D, .chunk = 64,
                                 .embed = tokenizer_embed};
        s->checksum = s->tok.checksum;
        return 0;
    }
    return err_set(err, "%s: is a checkpoint of model '%s', which exposes no features (evalnet and vqvae do)", path,
                   info.model);
}

static void close_source(Source *s) {
    feature_net_close(&s->net);
    tokenizer_close(&s->tok);
}

/* ------------------------------------------------------------------ the run */

typedef struct {
    const char *net, *json, *dump;
    size_t n_train, n_test;
    uint64_t seed;
} Options;

static int check_labels(const FeatureSet *s, int *classes, Err *err) {
    for (size_t i = 0; i < s->n; i++) {
        if (s->labels[i] < 0)
            return err_set(err, "%s: record %zu has no label; the probe needs labelled stores", s->path, i);
        if (s->labels[i] + 1 > *classes) *classes = s->labels[i] + 1;
    }
    return 0;
}

static int write_json(const Options *o, const Source *src, const char *train, const char *test, const ProbeResult *r,
                      Err *err) {
    Buf b = {0};
    buf_printf(&b, "{\"metric\": \"probe\", \"real\": ");
    json_string(&b, test);
    buf_printf(&b, ", \"fake\": ");
    json_string(&b, train);
    buf_printf(&b, ", \"net\": ");
    json_string(&b, o->net);
    buf_printf(&b, ", \"net_kind\": ");
    json_string(&b, src->kind);
    buf_printf(&b, ", \"net_checksum\": \"%08x\", \"n_real\": %zu, \"n_fake\": %zu, \"lambda\": %.17g, \"trials\": [",
               src->checksum, r->n_test, r->n_train, r->lambda);
    for (size_t i = 0; i < r->n_trials; i++)
        buf_printf(&b, "%s{\"lambda\": %.17g, \"val_accuracy\": %.17g}", i ? ", " : "", r->trials[i].lambda,
                   r->trials[i].val_accuracy);
    buf_printf(&b, "], \"rows\": [{\"name\": \"probe test accuracy (%s features)\", \"value\": %.17g}, "
                   "{\"name\": \"probe train accuracy\", \"value\": %.17g}], \"warnings\": []}\n",
               src->kind, r->test_accuracy, r->train_accuracy);
    FILE *f = fopen(o->json, "w");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0) ok = 0;
    buf_free(&b);
    return ok ? 0 : err_set(err, "--json %s: cannot write (%s)", o->json, strerror(errno));
}

static int probe(const Options *o, const char *train, const char *test, Err *err) {
    Source src = {0};
    FeatureSet tr = {0}, te = {0};
    ProbeResult r;
    int classes = 0;
    int rc = open_source(&src, o->net, err);
    if (rc == 0) rc = feature_set_load(&tr, &src.src, train, o->n_train, o->seed, err);
    if (rc == 0) rc = feature_set_load(&te, &src.src, test, o->n_test, o->seed + 1, err);
    if (rc == 0) rc = check_labels(&tr, &classes, err);
    if (rc == 0) rc = check_labels(&te, &classes, err);
    if (rc == 0 && o->dump && (rc = fs_mkdirs(o->dump, err)) == 0 &&
        (rc = feature_set_dump(&tr, o->dump, "train", err)) == 0)
        rc = feature_set_dump(&te, o->dump, "test", err);
    ProbeOptions po;
    probe_default_options(&po);
    po.seed = o->seed;
    if (rc == 0)
        rc = linear_probe(tr.features, tr.labels, tr.n, te.features, te.labels, te.n, tr.dim, classes, &po, &r, err);
    if (rc == 0) {
        printf("features: %s (%s, %zu dimensions, crc32 %08x)\n", o->net, src.kind, tr.dim, src.checksum);
        printf("train: %s (%zu images, %zu held out to choose λ); test: %s (%zu images)\n\n", train, r.n_train,
               r.n_val, test, r.n_test);
        printf("| λ | held-out accuracy |\n|---:|---:|\n");
        for (size_t i = 0; i < r.n_trials; i++)
            printf("| %g | %.4f%s |\n", r.trials[i].lambda, r.trials[i].val_accuracy,
                   r.trials[i].lambda == r.lambda ? " (chosen)" : "");
        printf("\n| metric | value |\n|---|---:|\n| probe test accuracy | %.4f |\n| probe train accuracy | %.4f |\n",
               r.test_accuracy, r.train_accuracy);
        if (o->json) rc = write_json(o, &src, train, test, &r, err);
    }
    feature_set_free(&tr);
    feature_set_free(&te);
    close_source(&src);
    return rc;
}

static const char *USAGE =
    "usage: tessera eval probe TRAIN TEST --net CKPT [--n-train N] [--n-test N] [--seed S]\n"
    "                          [--json OUT] [--dump-features DIR]\n"
    "\n"
    "Linear probe: multinomial logistic regression on the frozen features of CKPT's model\n"
    "(evalnet: its penultimate layer; vqvae: its encoder output, mean-pooled), standardized;\n"
    "the L2 strength chosen on 10% of TRAIN held out, accuracy on TEST (docs/EVAL.md).\n"
    "\n"
    "  --net CKPT            the model whose features are probed; default $TESSERA_EVALNET\n"
    "  --n-train N, --n-test N   seeded random subsets (default: all records)\n"
    "  --seed S              subsets and the held-out rows (default 0)\n"
    "  --json OUT            also write the result as JSON (docs/EVAL.md)\n"
    "  --dump-features DIR   train_* and test_* features and labels as .npy\n"
    "  -h, --help            this text\n";

int cmd_eval_probe(int argc, char **argv) {
    Options o = {.net = getenv("TESSERA_EVALNET")};
    static const struct option longs[] = {
        {"net", required_argument, 0, 'N'},  {"n-train", required_argument, 0, 'a'},
        {"n-test", required_argument, 0, 'b'}, {"seed", required_argument, 0, 's'},
        {"json", required_argument, 0, 'j'}, {"dump-features", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        size_t v = 0;
        int bad = 0;
        switch (opt) {
        case 'N': o.net = optarg; break;
        case 'a': bad = eval_parse_count("--n-train", optarg, 0, &o.n_train); break;
        case 'b': bad = eval_parse_count("--n-test", optarg, 0, &o.n_test); break;
        case 's': bad = eval_parse_count("--seed", optarg, 1, &v), o.seed = v; break;
        case 'j': o.json = optarg; break;
        case 'd': o.dump = optarg; break;
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
        if (bad) return EXIT_USAGE;
    }
    if (argc - optind != 2) {
        report_error("eval probe: give a labelled TRAIN and TEST pixel store");
        return EXIT_USAGE;
    }
    if (!o.net || !*o.net) {
        report_error("eval probe: whose features? give --net CKPT (an evalnet or vqvae checkpoint) or set TESSERA_EVALNET");
        return EXIT_USAGE;
    }
    Err err;
    if (probe(&o, argv[optind], argv[optind + 1], &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}
