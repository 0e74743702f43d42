/* source_options: the shared flags of ingest and tokenize (see source_options.h). */
#include "source_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"

static const struct option SHARED[] = {
    {"output", required_argument, 0, 'o'}, {"size", required_argument, 0, 's'},
    {"channels", required_argument, 0, 'c'}, {"resize", required_argument, 0, 'r'},
    {"crop", required_argument, 0, 'C'}, {"workers", required_argument, 0, 'w'},
    {"bind", required_argument, 0, 'b'}, {"max-pixels", required_argument, 0, 'm'},
    {"label-names", required_argument, 0, 'L'}, {"exact-dct", no_argument, 0, 'x'},
    {"heartbeat-timeout", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'}};
enum { N_SHARED = sizeof SHARED / sizeof *SHARED, MAX_EXTRA = 16 };

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        report_error("%s: expected an integer in %ld..%ld, got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* 0 handled, -1 bad value (reported). */
static int shared_option(SourceOptions *o, int opt, const char *arg) {
    long v;
    switch (opt) {
    case 'o': o->out_path = arg; return 0;
    case 's':
        if (parse_int("--size", arg, 1, 4096, &v)) return -1;
        o->pre.size = (int)v;
        o->size_given = 1;
        return 0;
    case 'c':
        if (parse_int("--channels", arg, 1, 3, &v) || v == 2) {
            report_error("--channels: expected 1 or 3");
            return -1;
        }
        o->pre.channels = (int)v;
        o->channels_given = 1;
        return 0;
    case 'r':
        if (!strcmp(arg, "area")) o->pre.filter = RESIZE_AREA;
        else if (!strcmp(arg, "bilinear")) o->pre.filter = RESIZE_BILINEAR;
        else return report_error("--resize: expected area or bilinear, got '%s'", arg), -1;
        return 0;
    case 'C':
        if (!strcmp(arg, "center")) o->pre.crop_center = 1;
        else if (!strcmp(arg, "none")) o->pre.crop_center = 0;
        else return report_error("--crop: expected center or none, got '%s'", arg), -1;
        return 0;
    case 'w':
        if (parse_int("--workers", arg, 0, 1024, &v)) return -1;
        o->pool.local_workers = (int)v;
        return 0;
    case 'b': o->pool.bind = arg; return 0;
    case 'm': {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(arg, &end, 10);
        if (!*arg || *end || errno || x == 0)
            return report_error("--max-pixels: expected a positive integer, got '%s'", arg), -1;
        o->pre.max_pixels = x;
        return 0;
    }
    case 'L': o->label_names = arg; return 0;
    case 'x': o->pre.fast_dct = 0; return 0;
    case 'H': {
        char *end;
        double t = strtod(arg, &end);
        if (!*arg || *end || t < 0.5 || t > 3600)
            return report_error("--heartbeat-timeout: expected seconds in 0.5..3600, got '%s'", arg), -1;
        o->pool.heartbeat_timeout = t;
        return 0;
    }
    }
    return 1;
}

int source_options_parse(SourceOptions *o, int argc, char **argv, const char *command, const char *usage,
                         const ExtraOptions *extra) {
    memset(o, 0, sizeof *o);
    preprocess_defaults(&o->pre);
    pool_config_defaults(&o->pool);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->pool.local_workers = cores > 0 ? (int)cores : 1;
    struct option longs[N_SHARED + MAX_EXTRA + 1];
    size_t n = 0;
    for (; n < N_SHARED; n++) longs[n] = SHARED[n];
    for (const struct option *e = extra ? extra->extra : NULL; e && e->name && n < N_SHARED + MAX_EXTRA; e++)
        longs[n++] = *e;
    memset(&longs[n], 0, sizeof longs[n]);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        int rc = opt == '?' ? -1 : shared_option(o, opt, optarg);
        if (rc == 1) rc = extra && extra->handle ? extra->handle(opt, optarg, extra->ctx) : -1;
        if (rc != 0) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->out_path || optind >= argc) {
        report_error(!o->out_path ? "%s: missing -o STORE" : "%s: no sources given", command);
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (o->pool.local_workers == 0 && !o->pool.bind) {
        report_error("%s: --workers 0 needs --bind, or nothing would do the work", command);
        return EXIT_USAGE;
    }
    o->first_source = optind;
    return -1;
}
