/* tessera: one binary, one subcommand per arrow of the pipeline (docs/CLI.md). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "eval/eval_cmd.h"
#include "ingest/ingest_cmd.h"
#include "ingest/job_ingest.h"
#include "ingest/pool.h"
#include "ingest/worker_cmd.h"
#include "store/export_cmd.h"
#include "store/info_cmd.h"
#include "store/store.h"
#include "tokenize/job_tokenize.h"
#include "tokenize/tokenize_cmd.h"
#include "tokenize/vqvae_model.h"
#include "eval/evalnet_model.h"
#include "eval/sample_cmd.h"
#include "train/ar.h"
#include "train/model.h"
#include "train/train_cmd.h"


static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} COMMANDS[] = {
    {"ingest", cmd_ingest, "decode JPEG sources into a pixel store (ZeroMQ worker pool)"},
    {"worker", cmd_worker, "join a running pool from any host"},
    {"info", cmd_info, "print a store's meta and counts"},
    {"export", cmd_export, "draw a store as a PNG grid, or write its records as image files"},
    {"train", cmd_train, "train a model on a store (mpirun -np N for N ranks)"},
    {"tokenize", cmd_tokenize, "encode a pixel store or JPEG sources into a token store (worker pool)"},
    {"detokenize", cmd_detokenize, "decode a token store back to a pixel store (worker pool)"},
    {"sample", cmd_sample, "draw images from a generative checkpoint into a pixel store (mpirun -np N)"},
    {"eval", cmd_eval, "score pixel stores: fd, kid, is, prdc, cas, recon, probe; report a run"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tessera COMMAND [options]   (tessera COMMAND --help for more)\n\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].what);
    fprintf(f, "\ntessera %s\n", TESSERA_VERSION);
}

int main(int argc, char **argv) {
    /* The jobs a pool worker can run; later stages add theirs here. */
    pool_register_job(&INGEST_JOB);
    pool_register_job(&TOKENIZE_JOB);
    pool_register_job(&DETOKENIZE_JOB);
    /* The model families `tessera train` knows. */
    train_register_model(&AR_MODEL);
    train_register_model(&IGPT_MODEL);
    train_register_model(&VQVAE_MODEL);
    train_register_model(&EVALNET_MODEL);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tessera %s\n", TESSERA_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    report_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
