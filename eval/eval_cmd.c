/* eval_cmd: `tessera eval METRIC ...` finds the metric's own command (see eval_cmd.h). */
#include "eval_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} EvalCommand;

static const EvalCommand COMMANDS[] = {
    {"fd", cmd_eval_distribution, "Fréchet distance of feature-network features (not Inception FID)"},
    {"kid", cmd_eval_distribution, "unbiased kernel distance (KID), cubic kernel, over subsets"},
    {"is", cmd_eval_distribution, "classifier Inception Score of the fake images, over splits"},
    {"prdc", cmd_eval_distribution, "precision and recall (k = 3), density and coverage (k = 5)"},
    {"cas", cmd_eval_distribution, "classification accuracy of class-conditional samples"},
    {"recon", cmd_eval_recon, "PSNR and SSIM between record i of two pixel stores"},
    {"probe", cmd_eval_probe, "linear probe: logistic regression on a model's frozen features"},
    {"report", cmd_eval_report, "report.md of a run directory: metrics, sample grids, curves"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *out) {
    fputs("usage: tessera eval METRIC ... (tessera eval METRIC --help for each)\n\n", out);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

static void names(char *out, size_t cap) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < N_COMMANDS && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", COMMANDS[i].name);
}

int eval_parse_count(const char *flag, const char *text, int zero_ok, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || (v == 0 && !zero_ok)) {
        report_error("%s: expected a %s integer, got '%s'", flag, zero_ok ? "non-negative" : "positive", text);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int cmd_eval(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return EXIT_OK;
    }
    for (int i = 0; argc >= 2 && i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    char all[256];
    names(all, sizeof all);
    if (argc < 2)
        report_error("eval: which metric? (%s)", all);
    else
        report_error("eval: unknown metric '%s' (%s)", argv[1], all);
    usage(stderr);
    return EXIT_USAGE;
}
