/* report_evals: the "Metrics" section of report.md: one table of the rows of every
 * RUN_DIR/eval/NAME.json that `tessera eval METRIC ... --json` wrote (the schema is in
 * docs/EVAL.md), files in name order and rows in file order; then where the
 * feature nets and floors came from and the evaluations' own warnings. */
#include "report_sections.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fs.h"
#include "../core/json_read.h"

/* Eval JSON files are a few kilobytes; anything far larger is not one. */
enum { EVAL_JSON_MAX_BYTES = 16 << 20 };

typedef struct {
    Buf table;    /* the rows under the table's header */
    Buf sources;  /* list: feature net and floor store per file */
    Buf warnings; /* list: the evaluations' own warnings */
    Buf skipped;  /* list: files and rows that could not be read */
    size_t rows;
} MetricsParts;

static int is_json_name(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static void text_cell(Buf *md, const char *s) {
    if (s && *s) md_text(md, s);
    else buf_printf(md, "—");
}

/* "12.3 ± 0.4", "12.3", or "—" when the row has no such number. */
static void number_cell(Buf *md, const JsonValue *row, const char *key, const char *std_key) {
    double v, s;
    if (!json_read_number(row, key, &v)) {
        buf_printf(md, "—");
        return;
    }
    buf_printf(md, "%.6g", v);
    if (json_read_number(row, std_key, &s)) buf_printf(md, " ± %.6g", s);
}

static void count_cell(Buf *md, const JsonValue *doc, const char *key) {
    double x;
    if (!json_read_number(doc, key, &x)) buf_printf(md, "?");
    else if (x == floor(x) && fabs(x) < 1e15) buf_printf(md, "%.0f", x);
    else buf_printf(md, "%.6g", x);
}

static void add_rows(MetricsParts *parts, const char *file, const JsonValue *doc) {
    const JsonValue *rows = json_read_member(doc, "rows");
    if (!rows || rows->type != JSON_ARRAY) {
        report_warning(&parts->skipped, "eval/%s: has no \"rows\" array; file skipped", file);
        return;
    }
    const char *real = json_read_string(doc, "real"), *fake = json_read_string(doc, "fake");
    for (size_t i = 0; i < rows->count; i++) {
        const JsonValue *row = &rows->items[i];
        const char *name = json_read_string(row, "name");
        double value;
        if (!name) {
            report_warning(&parts->skipped, "eval/%s: rows[%zu] has no string \"name\"; row skipped", file, i);
            continue;
        }
        if (!json_read_number(row, "value", &value))
            report_warning(&parts->skipped, "eval/%s: rows[%zu] (%s) has no numeric \"value\"", file, i, name);
        Buf *t = &parts->table;
        buf_printf(t, "| ");
        md_text(t, name);
        buf_printf(t, " | ");
        number_cell(t, row, "value", "std");
        buf_printf(t, " | ");
        number_cell(t, row, "floor", "floor_std");
        buf_printf(t, " | ");
        text_cell(t, real);
        buf_printf(t, " vs ");
        text_cell(t, fake);
        buf_printf(t, " | ");
        count_cell(t, doc, "n_real");
        buf_printf(t, " / ");
        count_cell(t, doc, "n_fake");
        buf_printf(t, " | ");
        text_cell(t, json_read_string(doc, "net_checksum"));
        buf_printf(t, " |\n");
        parts->rows++;
    }
}

static void add_sources_and_warnings(MetricsParts *parts, const char *file, const JsonValue *doc) {
    const char *net = json_read_string(doc, "net"), *floor_store = json_read_string(doc, "floor_store");
    if (net || floor_store) {
        buf_printf(&parts->sources, "- eval/");
        md_text(&parts->sources, file);
        if (net) {
            buf_printf(&parts->sources, ": feature net ");
            md_code(&parts->sources, net);
        }
        if (floor_store) {
            buf_printf(&parts->sources, "%s floors from ", net ? "," : ":");
            md_code(&parts->sources, floor_store);
        }
        buf_printf(&parts->sources, "\n");
    }
    const JsonValue *warnings = json_read_member(doc, "warnings");
    for (size_t i = 0; warnings && warnings->type == JSON_ARRAY && i < warnings->count; i++) {
        if (warnings->items[i].type != JSON_STRING) continue;
        buf_printf(&parts->warnings, "- eval/");
        md_text(&parts->warnings, file);
        buf_printf(&parts->warnings, ": ");
        md_text(&parts->warnings, warnings->items[i].string);
        buf_printf(&parts->warnings, "\n");
    }
}

static void read_eval_file(MetricsParts *parts, const char *dir, const char *file) {
    char *path = fs_join(dir, file);
    Buf bytes = {0};
    Err err;
    JsonValue *doc = NULL;
    if (fs_read_file(path, &bytes, EVAL_JSON_MAX_BYTES, &err) != 0)
        report_warning(&parts->skipped, "eval/%s: %s; file skipped", file, err.msg);
    else if (!(doc = json_read((const char *)bytes.data, bytes.len, &err)))
        report_warning(&parts->skipped, "eval/%s: not JSON: %s; file skipped", file, err.msg);
    else if (doc->type != JSON_OBJECT)
        report_warning(&parts->skipped, "eval/%s: is %s, not an object; file skipped", file, json_read_type_name(doc->type));
    else {
        add_rows(parts, file, doc);
        add_sources_and_warnings(parts, file, doc);
    }
    json_read_free(doc);
    buf_free(&bytes);
    free(path);
}

static void put_list(Buf *md, const char *title, const Buf *list) {
    if (!list->len) return;
    buf_printf(md, "%s\n\n", title);
    buf_put(md, list->data, list->len);
    buf_printf(md, "\n");
}

void report_metrics_section(Buf *md, const char *run_dir) {
    MetricsParts parts = {0};
    char *dir = fs_join(run_dir, "eval");
    struct dirent **names = NULL;
    int n = fs_is_dir(dir) ? scandir(dir, &names, is_json_name, alphasort) : 0;
    if (n < 0) {
        report_warning(&parts.skipped, "eval/: cannot be listed; no evaluations read");
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        read_eval_file(&parts, dir, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    buf_printf(md, "## Metrics\n\n");
    if (parts.rows) {
        buf_printf(md, "| metric | value | floor | real vs fake | n real / fake | feature net CRC-32 |\n"
                       "|---|---:|---:|---|---:|---|\n");
        buf_put(md, parts.table.data, parts.table.len);
        buf_printf(md, "\n");
    } else {
        Buf example = {0};
        buf_printf(&example, "tessera eval METRIC ... --json %s/METRIC.json", dir);
        buf_put_u8(&example, 0);
        buf_printf(md, "%s: run ", n ? "No readable evaluations in eval/" : "No evaluations yet");
        md_code(md, (const char *)example.data);
        buf_printf(md, " (`tessera eval --help` lists the metrics).\n\n");
        buf_free(&example);
    }
    put_list(md, "Sources:", &parts.sources);
    put_list(md, "Warnings of the evaluations:", &parts.warnings);
    put_list(md, "Skipped:", &parts.skipped);
    free(dir);
    buf_free(&parts.table);
    buf_free(&parts.sources);
    buf_free(&parts.warnings);
    buf_free(&parts.skipped);
}
