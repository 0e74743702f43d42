/* distribution_cmd: `tessera eval fd|kid|is|prdc|cas REAL FAKE...` (docs/EVAL.md): a
 * distribution metric between the images of pixel stores, measured in the feature space of
 * a trained evalnet (eval/feature_net.h).
 *
 * Each FAKE store (several: one per sampling seed) is scored against REAL; with more than
 * one, the table shows the mean ± sample standard deviation over them. With one, ± is the
 * metric's own spread where it has one (KID over subsets, IS over splits). Every table also
 * states the floor: the same metric with a random subset of the training store, as large
 * as the FAKE store, in place of the FAKE one — what a perfect generator would score at this
 * sample count. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/fs.h"
#include "../core/json.h"
#include "../core/xalloc.h"
#include "../store/store.h"
#include "eval_cmd.h"
#include "feature_net.h"
#include "frechet.h"
#include "inception_score.h"
#include "kid.h"
#include "prdc.h"

enum { MAX_ROWS = 4, MAX_FAKES = 16, MAX_WARNINGS = 8 };

typedef struct {
    const char *net, *floor, *json, *dump;
    int no_floor;
    size_t n, kid_subsets, kid_size, splits;
    uint64_t seed;
} Options;

/* One metric's numbers for one (REAL, other) pair. */
typedef struct {
    size_t n;
    double value[MAX_ROWS], spread[MAX_ROWS];
    int has_spread;
} Score;

typedef struct {
    const char *name, *summary;
    const char *rows[MAX_ROWS];
    int (*compute)(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                   Err *err);
} Metric;

static int fd_compute(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                      Err *err) {
    (void)o;
    int singular = 0;
    if (frechet_distance(real->features, real->n, other->features, other->n, real->dim, &out->value[0], &singular,
                         err) != 0)
        return -1;
    if (singular)
        snprintf(warning, 256, "a covariance is singular (%zu and %zu samples, %zu features): FD is a poor estimate",
                 real->n, other->n, real->dim);
    return 0;
}

static int kid_compute(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                       Err *err) {
    size_t m = o->kid_size;
    if (m > real->n) m = real->n;
    if (m > other->n) m = other->n;
    if (m < o->kid_size) snprintf(warning, 256, "KID subsets of %zu samples, fewer than --kid-size %zu", m, o->kid_size);
    out->has_spread = 1;
    return kid(real->features, real->n, other->features, other->n, real->dim, o->kid_subsets, m, o->seed,
               &out->value[0], &out->spread[0], err);
}

static int is_compute(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                      Err *err) {
    (void)real;
    (void)warning;
    out->has_spread = 1;
    return inception_score(other->probs, other->n, (int)other->classes, o->splits, &out->value[0], &out->spread[0],
                           err);
}

static int prdc_compute(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                        Err *err) {
    (void)o;
    (void)warning;
    Prdc pr, dc; /* k = 3 for precision and recall (Kynkäänniemi), 5 for density and coverage (Naeem) */
    if (prdc(real->features, real->n, other->features, other->n, real->dim, 3, &pr, err) != 0 ||
        prdc(real->features, real->n, other->features, other->n, real->dim, 5, &dc, err) != 0)
        return -1;
    out->value[0] = pr.precision;
    out->value[1] = pr.recall;
    out->value[2] = dc.density;
    out->value[3] = dc.coverage;
    return 0;
}

static int cas_compute(const FeatureSet *real, const FeatureSet *other, const Options *o, Score *out, char *warning,
                       Err *err) {
    (void)real;
    (void)o;
    (void)warning;
    size_t correct = 0;
    for (size_t i = 0; i < other->n; i++) {
        int32_t y = other->labels[i];
        if (y < 0 || (size_t)y >= other->classes)
            return err_set(err, "%s: record %zu has label %d; cas needs the class each sample was asked for (0..%zu)",
                           other->path, i, y, other->classes - 1);
        const double *p = other->probs + i * other->classes;
        size_t best = 0;
        for (size_t k = 1; k < other->classes; k++)
            if (p[k] > p[best]) best = k;
        correct += best == (size_t)y;
    }
    out->value[0] = (double)correct / (double)other->n;
    return 0;
}

static const Metric METRICS[] = {
    {"fd", "Fréchet distance of evalnet features (not Inception FID)", {"FD (evalnet features)"}, fd_compute},
    {"kid", "unbiased KID, cubic kernel, mean ± std over subsets", {"KID (evalnet features)"}, kid_compute},
    {"is", "classifier Inception Score of FAKE, mean ± std over splits", {"IS"}, is_compute},
    {"prdc", "precision, recall (k = 3), density, coverage (k = 5)", {"precision", "recall", "density", "coverage"},
     prdc_compute},
    {"cas", "accuracy of evalnet at the class each FAKE image was asked for", {"CAS"}, cas_compute},
};

static const Metric *find_metric(const char *name) {
    for (size_t i = 0; i < sizeof METRICS / sizeof METRICS[0]; i++)
        if (!strcmp(METRICS[i].name, name)) return &METRICS[i];
    return NULL;
}

static int row_count(const Metric *m) {
    int n = 0;
    while (n < MAX_ROWS && m->rows[n]) n++;
    return n;
}

/* ------------------------------------------------------------------ data */

/* ------------------------------------------------------------------ the run */

typedef struct {
    const Metric *metric;
    const Options *o;
    FeatureNet net;
    FeatureSet real;
    const char *real_path, *floor_path;
    char *const *fakes;
    int n_fakes;
    Score fake[MAX_FAKES], floor[MAX_FAKES];
    char warnings[MAX_WARNINGS][256];
    int n_warnings;
} Run;

static void warn_once(Run *r, const char *w) {
    if (!w[0]) return;
    for (int i = 0; i < r->n_warnings; i++)
        if (!strcmp(r->warnings[i], w)) return;
    if (r->n_warnings < MAX_WARNINGS) snprintf(r->warnings[r->n_warnings++], 256, "%s", w);
    fprintf(stderr, "tessera: warning: %s\n", w);
}

static int score_store(Run *r, const char *path, size_t n, uint64_t seed, const char *dump_name, Score *out, Err *err) {
    FeatureSet s;
    FeatureSource src = feature_net_source(&r->net);
    if (feature_set_load(&s, &src, path, n, seed, err) != 0) return -1;
    char warning[256] = "";
    int rc = r->metric->compute(&r->real, &s, r->o, out, warning, err);
    out->n = s.n;
    warn_once(r, warning);
    if (rc == 0 && r->o->dump) rc = feature_set_dump(&s, r->o->dump, dump_name, err);
    feature_set_free(&s);
    return rc;
}

/* Mean and ± of row k over the scores: the spread over stores, or the metric's own. */
static void summarize(const Score *s, int n, int k, double *mean, double *pm, int *has_pm) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += s[i].value[k];
    *mean = sum / n;
    for (int i = 0; i < n; i++) sq += (s[i].value[k] - *mean) * (s[i].value[k] - *mean);
    *has_pm = n > 1 || s[0].has_spread;
    *pm = n > 1 ? sqrt(sq / (n - 1)) : s[0].spread[k];
}

static void format_value(char *out, size_t cap, double v, double pm, int has_pm) {
    if (has_pm)
        snprintf(out, cap, "%.6g ± %.2g", v, pm);
    else
        snprintf(out, cap, "%.6g", v);
}

static void print_table(const Run *r) {
    int has_floor = r->floor_path != NULL, rows = row_count(r->metric);
    printf("feature network: %s (evalnet, step %llu, crc32 %08x)\n", r->net.path, (unsigned long long)r->net.step,
           r->net.checksum);
    printf("real: %s (%zu images); fake: %d store%s (%zu images%s)\n", r->real_path, r->real.n, r->n_fakes,
           r->n_fakes == 1 ? "" : "s", r->fake[0].n, r->n_fakes == 1 ? "" : " each, ± over stores");
    if (has_floor) printf("floor: random subsets of %s, as large as each fake store\n", r->floor_path);
    printf("\n| metric | fake |%s\n|---|---:|%s\n", has_floor ? " floor |" : "", has_floor ? "---:|" : "");
    for (int k = 0; k < rows; k++) {
        double v, pm;
        int has;
        char a[64], b[64] = "";
        summarize(r->fake, r->n_fakes, k, &v, &pm, &has);
        format_value(a, sizeof a, v, pm, has);
        if (has_floor) {
            summarize(r->floor, r->n_fakes, k, &v, &pm, &has);
            format_value(b, sizeof b, v, pm, has);
        }
        printf("| %s | %s |%s%s%s\n", r->metric->rows[k], a, has_floor ? " " : "", b, has_floor ? " |" : "");
    }
}

static void json_number(Buf *b, const char *key, double v) {
    buf_printf(b, ", ");
    json_string(b, key);
    buf_printf(b, ": %.17g", v);
}

static int write_json(const Run *r, Err *err) {
    Buf b = {0};
    buf_printf(&b, "{\"metric\": ");
    json_string(&b, r->metric->name);
    buf_printf(&b, ", \"real\": ");
    json_string(&b, r->real_path);
    buf_printf(&b, ", \"fake\": ");
    json_string(&b, r->fakes[0]);
    buf_printf(&b, ", \"fakes\": [");
    for (int i = 0; i < r->n_fakes; i++) {
        buf_printf(&b, i ? ", " : "");
        json_string(&b, r->fakes[i]);
    }
    buf_printf(&b, "], \"net\": ");
    json_string(&b, r->net.path);
    buf_printf(&b, ", \"net_checksum\": \"%08x\", \"n_real\": %zu, \"n_fake\": %zu, \"seed\": %llu", r->net.checksum,
               r->real.n, r->fake[0].n, (unsigned long long)r->o->seed);
    if (r->floor_path) {
        buf_printf(&b, ", \"floor_store\": ");
        json_string(&b, r->floor_path);
    }
    buf_printf(&b, ", \"rows\": [");
    for (int k = 0; k < row_count(r->metric); k++) {
        double v, pm;
        int has;
        buf_printf(&b, "%s{\"name\": ", k ? ", " : "");
        json_string(&b, r->metric->rows[k]);
        summarize(r->fake, r->n_fakes, k, &v, &pm, &has);
        json_number(&b, "value", v);
        if (has) json_number(&b, "std", pm);
        if (r->floor_path) {
            summarize(r->floor, r->n_fakes, k, &v, &pm, &has);
            json_number(&b, "floor", v);
            if (has) json_number(&b, "floor_std", pm);
        }
        buf_printf(&b, ", \"per_store\": [");
        for (int i = 0; i < r->n_fakes; i++) buf_printf(&b, "%s%.17g", i ? ", " : "", r->fake[i].value[k]);
        buf_printf(&b, "]}");
    }
    buf_printf(&b, "], \"warnings\": [");
    for (int i = 0; i < r->n_warnings; i++) {
        buf_printf(&b, i ? ", " : "");
        json_string(&b, r->warnings[i]);
    }
    buf_printf(&b, "]}\n");
    FILE *f = fopen(r->o->json, "w");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0) ok = 0;
    buf_free(&b);
    return ok ? 0 : err_set(err, "--json %s: cannot write (%s)", r->o->json, strerror(errno));
}

/* The default floor store: the one the network was trained on, unless it is REAL itself. */
static const char *choose_floor(const Options *o, const FeatureNet *net, const char *real) {
    if (o->no_floor) return NULL;
    if (o->floor) return o->floor;
    if (!net->train_store || !fs_exists(net->train_store)) return NULL;
    char *a = realpath(net->train_store, NULL), *b = realpath(real, NULL);
    int same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return same ? NULL : net->train_store;
}

static int run_metric(Run *r, Err *err) {
    const Options *o = r->o;
    if (feature_net_open(&r->net, o->net, err) != 0) return -1;
    if (!strcmp(r->metric->name, "cas") && r->net.net.s.task != EVALNET_LABELS)
        return err_set(err, "%s: learned rotations, not classes; cas needs a network trained with task = labels", o->net);
    if (o->dump && fs_mkdirs(o->dump, err) != 0) return -1;
    FeatureSource src = feature_net_source(&r->net);
    if (feature_set_load(&r->real, &src, r->real_path, o->n, o->seed, err) != 0) return -1;
    if (o->dump && feature_set_dump(&r->real, o->dump, "real", err) != 0) return -1;
    r->floor_path = choose_floor(o, &r->net, r->real_path);
    if (!r->floor_path && !o->no_floor)
        warn_once(r, "no floor: the network's training store is missing or is REAL; give --floor STORE");
    for (int i = 0; i < r->n_fakes; i++) {
        char name[32];
        snprintf(name, sizeof name, "fake%d", i);
        if (score_store(r, r->fakes[i], o->n, o->seed + 1 + (uint64_t)i, name, &r->fake[i], err) != 0) return -1;
        if (!r->floor_path) continue;
        snprintf(name, sizeof name, "floor%d", i);
        if (score_store(r, r->floor_path, r->fake[i].n, o->seed + 1001 + (uint64_t)i, name, &r->floor[i], err) != 0)
            return err_prefix(err, "floor");
    }
    print_table(r);
    return o->json ? write_json(r, err) : 0;
}

/* ------------------------------------------------------------------ options */

static void usage(FILE *out, const Metric *m) {
    fprintf(out,
            "usage: tessera eval %s REAL FAKE [FAKE...] --net CKPT [--n N] [--floor STORE | --no-floor]\n"
            "                    [--seed S] [--json OUT] [--dump-features DIR]%s\n"
            "\n%s, between pixel stores, in the feature space of a trained evalnet (docs/EVAL.md).\n"
            "Several FAKE stores (one per sampling seed): mean ± sample std over them.\n"
            "\n"
            "  --net CKPT            the feature network (model = evalnet); default $TESSERA_EVALNET\n"
            "  --n N                 a seeded random subset of N records of each store (default: all)\n"
            "  --floor STORE         the floor: the metric with a subset of STORE as large as FAKE in its\n"
            "                        place (default: the store the network was trained on)\n"
            "  --no-floor            skip it\n"
            "  --seed S              subsets and KID's draws (default 0)\n"
            "  --json OUT            also write the table as JSON (docs/EVAL.md)\n"
            "  --dump-features DIR   write features, probabilities and labels of every set as .npy\n"
            "  -h, --help            this text\n",
            m->name,
            !strcmp(m->name, "kid")  ? "\n                    [--kid-subsets 100] [--kid-size 1000]"
            : !strcmp(m->name, "is") ? " [--splits 10]"
                                     : "",
            m->summary);
}

int cmd_eval_distribution(int argc, char **argv) {
    const Metric *metric = find_metric(argv[0]);
    Options o = {.net = getenv("TESSERA_EVALNET"), .kid_subsets = 100, .kid_size = 1000, .splits = 10};
    static const struct option longs[] = {
        {"net", required_argument, 0, 'N'},        {"n", required_argument, 0, 'n'},
        {"floor", required_argument, 0, 'f'},      {"no-floor", no_argument, 0, 'F'},
        {"seed", required_argument, 0, 's'},       {"json", required_argument, 0, 'j'},
        {"dump-features", required_argument, 0, 'd'}, {"kid-subsets", required_argument, 0, 'K'},
        {"kid-size", required_argument, 0, 'M'},   {"splits", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        size_t v = 0;
        int bad = 0;
        switch (opt) {
        case 'N': o.net = optarg; break;
        case 'n': bad = eval_parse_count("--n", optarg, 0, &o.n); break;
        case 'f': o.floor = optarg; break;
        case 'F': o.no_floor = 1; break;
        case 's': bad = eval_parse_count("--seed", optarg, 1, &v), o.seed = v; break;
        case 'j': o.json = optarg; break;
        case 'd': o.dump = optarg; break;
        case 'K': bad = eval_parse_count("--kid-subsets", optarg, 0, &o.kid_subsets); break;
        case 'M': bad = eval_parse_count("--kid-size", optarg, 0, &o.kid_size); break;
        case 'S': bad = eval_parse_count("--splits", optarg, 0, &o.splits); break;
        case 'h': usage(stdout, metric); return EXIT_OK;
        default: usage(stderr, metric); return EXIT_USAGE;
        }
        if (bad) return EXIT_USAGE;
    }
    int n_fakes = argc - optind - 1;
    if (n_fakes < 1 || n_fakes > MAX_FAKES) {
        report_error(n_fakes < 1 ? "eval %s: give REAL and at least one FAKE pixel store"
                                 : "eval %s: at most 16 FAKE stores",
                     metric->name);
        return EXIT_USAGE;
    }
    if (!o.net || !*o.net) {
        report_error("eval %s: which feature network? give --net CKPT (a model = evalnet checkpoint; `make demo` "
                     "trains one) or set TESSERA_EVALNET",
                     metric->name);
        return EXIT_USAGE;
    }
    if (o.floor && o.no_floor) {
        report_error("eval %s: --floor and --no-floor together", metric->name);
        return EXIT_USAGE;
    }
    Run *r = xcalloc(1, sizeof *r);
    *r = (Run){.metric = metric, .o = &o, .real_path = argv[optind], .fakes = argv + optind + 1, .n_fakes = n_fakes};
    Err err;
    int rc = run_metric(r, &err);
    if (rc != 0) report_error("%s", err.msg);
    feature_set_free(&r->real);
    feature_net_close(&r->net);
    free(r);
    return rc == 0 ? EXIT_OK : EXIT_BAD_INPUT;
}
