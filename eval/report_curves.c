/* report_curves: the "Curves" section of report.md. RUN_DIR/metrics.jsonl becomes one
 * series (step, value) per numeric key, each written to REPORT_FOLDER/curve_KEY.tsv and,
 * when worth a curve, drawn by gnuplot (report_gnuplot.c) into curve_KEY.png: the loss with
 * the learning rate on a second axis, then every other key in order of first appearance,
 * except step and epoch (the axis and a counter) and keys that never change (a flat line
 * says nothing; they are listed with their value instead). val_* keys are always drawn.
 * A line that is no JSON object with a numeric "step" is skipped with a warning naming
 * file:line; a key missing from a line, or logged as null (non-finite), is a gap. */
#include "report_sections.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fs.h"
#include "../core/json_read.h"
#include "../core/xalloc.h"

enum {
    METRICS_MAX_BYTES = 1 << 30,
    MAX_SERIES = 128,    /* more distinct keys than any model logs: the rest are not plotted */
    MAX_KEY_LENGTH = 100,
    FEW_POINTS = 50,     /* up to this many, each point is marked */
};

typedef struct {
    char *key;
    int safe;            /* key can name a file (see key_is_safe) */
    double *steps, *values;
    size_t n, cap;
    size_t nulls;
} Series;

typedef struct {
    Series *items;
    size_t n, cap;
    int full;            /* MAX_SERIES reached and warned about */
    size_t lines;        /* lines read */
} SeriesSet;

/* Keys become file names and gnuplot strings: letters, digits and _ . - only. */
static int key_is_safe(const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > MAX_KEY_LENGTH) return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
            return 0;
    return 1;
}

static Series *series_for(SeriesSet *set, const char *key, size_t line_no, Buf *skipped) {
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].key, key) == 0) return &set->items[i];
    if (set->n == MAX_SERIES) {
        if (!set->full)
            report_warning(skipped, "metrics.jsonl:%zu: more than %d keys; the rest are not plotted", line_no, MAX_SERIES);
        set->full = 1;
        return NULL;
    }
    if (set->n == set->cap) {
        set->cap = set->cap ? 2 * set->cap : 16;
        set->items = xrealloc(set->items, set->cap * sizeof *set->items);
    }
    Series *s = &set->items[set->n++];
    memset(s, 0, sizeof *s);
    s->key = xstrdup(key);
    s->safe = key_is_safe(key);
    if (!s->safe)
        report_warning(skipped, "metrics.jsonl:%zu: key \"%.60s\" is not made of letters, digits, _ . -; not plotted",
                       line_no, key);
    return s;
}

static void series_append(Series *s, double step, double value) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->steps = xrealloc(s->steps, s->cap * sizeof *s->steps);
        s->values = xrealloc(s->values, s->cap * sizeof *s->values);
    }
    s->steps[s->n] = step;
    s->values[s->n++] = value;
}

static void read_line(SeriesSet *set, size_t line_no, const char *text, size_t len, Buf *skipped) {
    Err err;
    double step;
    JsonValue *v = json_read(text, len, &err);
    if (!v) report_warning(skipped, "metrics.jsonl:%zu: %s; line skipped", line_no, err.msg);
    else if (v->type != JSON_OBJECT) report_warning(skipped, "metrics.jsonl:%zu: not a JSON object; line skipped", line_no);
    else if (!json_read_number(v, "step", &step))
        report_warning(skipped, "metrics.jsonl:%zu: no numeric \"step\"; line skipped", line_no);
    else {
        set->lines++;
        for (size_t i = 0; i < v->count; i++) {
            const JsonValue *item = &v->items[i];
            if (!strcmp(v->keys[i], "step") || !strcmp(v->keys[i], "epoch")) continue;
            if (item->type != JSON_NUMBER && item->type != JSON_NULL) continue; /* not something to draw */
            Series *s = series_for(set, v->keys[i], line_no, skipped);
            if (s && item->type == JSON_NULL) s->nulls++;
            else if (s) series_append(s, step, item->number);
        }
    }
    json_read_free(v);
}

/* Returns 0 without reading when the run has no metrics.jsonl yet. */
static int read_metrics_log(SeriesSet *set, const char *run_dir, Buf *skipped) {
    char *path = fs_join(run_dir, "metrics.jsonl");
    Buf log = {0};
    Err err;
    int found = fs_exists(path);
    if (found && fs_read_file(path, &log, METRICS_MAX_BYTES, &err) != 0)
        report_warning(skipped, "metrics.jsonl: %s; no curves", err.msg);
    size_t line_no = 0;
    for (size_t at = 0; at < log.len; at++) {
        size_t end = at;
        while (end < log.len && log.data[end] != '\n') end++;
        line_no++;
        size_t first = at;
        while (first < end && log.data[first] && strchr(" \t\r", log.data[first])) first++;
        if (first < end) read_line(set, line_no, (const char *)log.data + at, end - at, skipped);
        at = end;
    }
    buf_free(&log);
    free(path);
    return found;
}

static int write_tsv(const char *report_dir, const Series *s, Err *err) {
    char name[160], number[40];
    snprintf(name, sizeof name, "curve_%s.tsv", s->key);
    char *path = fs_join(report_dir, name);
    Buf tsv = {0};
    buf_printf(&tsv, "step\t%s\n", s->key);
    for (size_t i = 0; i < s->n; i++) {
        format_round_trip(number, sizeof number, s->steps[i]);
        buf_printf(&tsv, "%s\t", number);
        format_round_trip(number, sizeof number, s->values[i]);
        buf_printf(&tsv, "%s\n", number);
    }
    FILE *f = fopen(path, "w");
    int written = f && fwrite(tsv.data, 1, tsv.len, f) == tsv.len;
    int closed = f && fclose(f) == 0;
    int rc = written && closed ? 0 : err_set(err, "%s: cannot write (%s)", path, strerror(errno));
    buf_free(&tsv);
    free(path);
    return rc;
}

static int is_constant(const Series *s) {
    for (size_t i = 1; i < s->n; i++)
        if (s->values[i] != s->values[0]) return 0;
    return 1;
}

static const Series *find(const SeriesSet *set, const char *key) {
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->items[i].key, key) && set->items[i].safe && set->items[i].n) return &set->items[i];
    return NULL;
}

/* The plots worth drawing (see the top of this file); the others are noted in `notes`. */
static size_t choose_plots(const SeriesSet *set, Plot *plots, Buf *notes) {
    size_t n = 0;
    const Series *loss = find(set, "loss"), *lr = find(set, "lr");
    if (loss) plots[n++] = (Plot){loss->key, lr ? lr->key : NULL, loss->n <= FEW_POINTS};
    for (size_t i = 0; i < set->n; i++) {
        const Series *s = &set->items[i];
        char value[40];
        if (!s->safe || s == loss || (s == lr && loss)) continue;
        if (s->n == 0) {
            buf_printf(notes, "- ");
            md_code(notes, s->key);
            buf_printf(notes, ": always null (not finite), not plotted\n");
        } else if (is_constant(s) && strncmp(s->key, "val_", 4) != 0) {
            format_round_trip(value, sizeof value, s->values[0]);
            buf_printf(notes, "- ");
            md_code(notes, s->key);
            buf_printf(notes, ": %s at every step, not plotted\n", value);
        } else {
            plots[n++] = (Plot){s->key, NULL, s->n <= FEW_POINTS};
        }
    }
    for (size_t i = 0; i < set->n; i++) {
        const Series *s = &set->items[i];
        if (!s->nulls || !s->n) continue;
        buf_printf(notes, "- ");
        md_code(notes, s->key);
        buf_printf(notes, ": null (not finite) at %zu step%s, left out of the curve\n", s->nulls, s->nulls == 1 ? "" : "s");
    }
    return n;
}

static int draw(Buf *md, const SeriesSet *set, const char *report_dir, Err *err) {
    Plot *plots = xcalloc(set->n + 1, sizeof *plots);
    Buf notes = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < set->n; i++)
        if (set->items[i].safe && set->items[i].n) rc = write_tsv(report_dir, &set->items[i], err);
    size_t n = choose_plots(set, plots, &notes);
    if (rc == 0 && n) rc = report_gnuplot(report_dir, plots, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        buf_printf(md, "![%s%s%s](" REPORT_FOLDER "/curve_%s.png)\n\n", plots[i].key, plots[i].y2_key ? " and " : "",
                   plots[i].y2_key ? plots[i].y2_key : "", plots[i].key);
    }
    if (rc == 0 && !n) buf_printf(md, "metrics.jsonl holds no numeric keys to draw.\n\n");
    if (rc == 0 && notes.len) {
        buf_printf(md, "Not drawn:\n\n");
        buf_put(md, notes.data, notes.len);
        buf_printf(md, "\n");
    }
    if (rc == 0)
        buf_printf(md, "The data of each key is " REPORT_FOLDER "/curve_KEY.tsv (step, value; tab-separated); "
                       "`gnuplot curves.gp` in " REPORT_FOLDER "/ redraws the curves.\n\n");
    buf_free(&notes);
    free(plots);
    return rc;
}

int report_curves_section(Buf *md, const char *run_dir, const char *report_dir, Err *err) {
    SeriesSet set = {0};
    Buf skipped = {0};
    int rc = 0;
    buf_printf(md, "## Curves\n\n");
    if (!read_metrics_log(&set, run_dir, &skipped))
        buf_printf(md, "No metrics.jsonl yet: the curves appear once `tessera train` has logged steps.\n\n");
    else if (set.lines == 0)
        buf_printf(md, "metrics.jsonl holds no readable lines.\n\n");
    else
        rc = draw(md, &set, report_dir, err);
    if (rc == 0 && skipped.len) {
        buf_printf(md, "Skipped:\n\n");
        buf_put(md, skipped.data, skipped.len);
        buf_printf(md, "\n");
    }
    for (size_t i = 0; i < set.n; i++) {
        free(set.items[i].key);
        free(set.items[i].steps);
        free(set.items[i].values);
    }
    free(set.items);
    buf_free(&skipped);
    return rc;
}
