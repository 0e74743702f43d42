/* metrics: run_dir/metrics.jsonl, one JSON object per logged step, written by rank 0:
 *   {"step": 100, "epoch": 0, "loss": 2.31, "lr": 0.0003, "grad_norm": 0.8, ...}
 * "step" is always the first key. A resumed run first drops the lines past the step of
 * the checkpoint it resumes from, so no step is logged twice. */
#ifndef TESSERA_METRICS_H
#define TESSERA_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../core/err.h"

typedef struct {
    FILE *f;
    Buf line;
    int fields;
} MetricsLog;

/* Opens run_dir/metrics.jsonl for appending, keeping only lines with step <= keep_until
 * (pass UINT64_MAX to keep everything, 0 on a fresh run to start empty). */
int metrics_open(MetricsLog *m, const char *run_dir, uint64_t keep_until, Err *err);
void metrics_begin(MetricsLog *m, uint64_t step);
void metrics_int(MetricsLog *m, const char *key, long long v);
void metrics_num(MetricsLog *m, const char *key, double v);
/* Writes the line and flushes it, so a crash loses nothing logged. */
int metrics_end(MetricsLog *m, Err *err);
void metrics_close(MetricsLog *m);

#endif
