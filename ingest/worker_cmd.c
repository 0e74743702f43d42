/* worker_cmd: `tessera worker --connect ENDPOINT`, a pool worker for any job. */
#include "worker_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "pool.h"

static const char *USAGE =
    "usage: tessera worker --connect ENDPOINT [--idle-timeout S] [--heartbeat-timeout S]\n"
    "\n"
    "Joins the pool of a running `tessera ingest --bind ENDPOINT` (or tokenize) from any host\n"
    "and works until that job ends. The job and its options come from the coordinator.\n"
    "  --idle-timeout S   exit after S seconds without a coordinator (default 60)\n";

static int parse_seconds(const char *flag, const char *v, double *out) {
    char *end;
    double t = strtod(v, &end);
    if (!*v || *end || t < 0.5 || t > 86400) {
        report_error("%s: expected seconds in 0.5..86400, got '%s'", flag, v);
        return -1;
    }
    *out = t;
    return 0;
}

int cmd_worker(int argc, char **argv) {
    WorkerOptions o = {.heartbeat_timeout = 5.0, .idle_timeout = 60.0};
    static const struct option longs[] = {{"connect", required_argument, 0, 'c'},
                                          {"local", no_argument, 0, 'l'},
                                          {"heartbeat-timeout", required_argument, 0, 'H'},
                                          {"idle-timeout", required_argument, 0, 'i'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': o.connect = optarg; break;
        case 'l': o.local = 1; break;
        case 'H': if (parse_seconds("--heartbeat-timeout", optarg, &o.heartbeat_timeout)) return EXIT_USAGE; break;
        case 'i': if (parse_seconds("--idle-timeout", optarg, &o.idle_timeout)) return EXIT_USAGE; break;
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (!o.connect || optind != argc) {
        report_error("worker: needs --connect ENDPOINT and nothing else");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    return pool_worker_run(&o);
}
