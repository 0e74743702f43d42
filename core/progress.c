/* progress: a redrawn line on a terminal, a plain line every few seconds otherwise. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"

enum { PLAIN_INTERVAL_S = 5 };
static const double TTY_INTERVAL_S = 0.25;

void progress_start(Progress *p, const char *what, uint64_t total) {
    *p = (Progress){.what = what, .total = total};
    p->start = p->last_print = p->rate_time = now_seconds();
    p->tty = isatty(STDERR_FILENO);
    const char *q = getenv("TESSERA_QUIET");
    p->quiet = q && *q && *q != '0';
}

static void format_duration(char *out, size_t n, double s) {
    if (s < 0 || s > 1e7) {
        snprintf(out, n, "--");
    } else if (s >= 3600) {
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    } else {
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    }
}

void progress_update(Progress *p, uint64_t done, uint64_t rejects, const char *note) {
    if (p->quiet) return;
    double t = now_seconds();
    double interval = p->tty ? TTY_INTERVAL_S : PLAIN_INTERVAL_S;
    if (t - p->last_print < interval) return;
    p->last_print = t;

    /* A rate over the recent window follows speed changes; fall back to the mean. */
    if (t - p->rate_time >= 1.0) {
        p->rate = (double)(done - p->rate_done) / (t - p->rate_time);
        p->rate_done = done;
        p->rate_time = t;
    }
    double rate = p->rate > 0 ? p->rate : (double)done / (t - p->start + 1e-9);
    char eta[32] = "--";
    if (p->total && rate > 0 && done <= p->total) format_duration(eta, sizeof eta, (double)(p->total - done) / rate);
    char line[256];
    int n = snprintf(line, sizeof line, "%s: %llu/%llu  %.0f img/s  rejects %llu  ETA %s%s%s", p->what,
                     (unsigned long long)done, (unsigned long long)p->total, rate, (unsigned long long)rejects, eta,
                     note ? "  " : "", note ? note : "");
    if (n < 0) return;
    if (p->tty) {
        fprintf(stderr, "\r%-100s", line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void progress_finish(Progress *p) {
    if (!p->quiet && p->tty) fprintf(stderr, "\r%-100s\r", "");
}
