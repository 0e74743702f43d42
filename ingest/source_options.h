/* source_options: the command-line options of the commands that read image sources
 * through a worker pool (ingest, tokenize): the output store, how JPEGs become pixels
 * (--size, --channels, --resize, --crop, --max-pixels, --exact-dct, --label-names) and
 * the pool (--workers, --bind, --heartbeat-timeout). One parser, so the commands agree
 * on every flag, its range and its message. */
#ifndef TESSERA_SOURCE_OPTIONS_H
#define TESSERA_SOURCE_OPTIONS_H

#include <getopt.h>

#include "pool.h"
#include "preprocess.h"

typedef struct {
    PreprocessOptions pre;
    PoolConfig pool;
    const char *out_path, *label_names;
    int size_given, channels_given;
    int first_source; /* argv index of the first SRC */
} SourceOptions;

/* A command's own options: `extra` (ended by a zero entry) and a handler returning 0, or
 * non-zero after reporting a usage error. */
typedef struct {
    const struct option *extra;
    int (*handle)(int opt, const char *arg, void *ctx);
    void *ctx;
} ExtraOptions;

/* Parses argv; returns -1 to go on, else the exit status (0 after --help, 2 on bad usage,
 * with the message and usage printed). Every command needs -o and at least one SRC. */
int source_options_parse(SourceOptions *o, int argc, char **argv, const char *command, const char *usage,
                         const ExtraOptions *extra);

#endif
