/* report_sections: the parts of `tessera eval report RUN_DIR` (eval/report_cmd.c,
 * docs/EVAL.md). Each section function appends one section of RUN_DIR/report.md
 * to a Buf. Input that is wrong but need not stop the report (a malformed line of
 * metrics.jsonl, a malformed file under eval/) becomes a warning: one line on stderr, a
 * line in the report, and the input is skipped. Only what stops the report (gnuplot
 * missing or failing, an unwritable folder) returns -1 with err set. */
#ifndef TESSERA_REPORT_SECTIONS_H
#define TESSERA_REPORT_SECTIONS_H

#include <stddef.h>

#include "../core/buf.h"
#include "../core/err.h"

/* "Metrics": a table of every eval/NAME.json (eval/report_evals.c). */
void report_metrics_section(Buf *md, const char *run_dir);
/* "Samples": every PNG in RUN_DIR and RUN_DIR/eval, linked (eval/report_cmd.c). */
void report_samples_section(Buf *md, const char *run_dir);
/* "Curves": metrics.jsonl drawn by gnuplot into RUN_DIR/report (eval/report_curves.c). */
int report_curves_section(Buf *md, const char *run_dir, const char *report_dir, Err *err);

/* The folder under RUN_DIR that holds the plots, their data and the gnuplot script. */
#define REPORT_FOLDER "report"

/* One PNG of the Curves section: REPORT_FOLDER/curve_KEY.png drawn from curve_KEY.tsv,
 * and from curve_Y2_KEY.tsv on a second y axis when y2_key is set. Keys hold only
 * [A-Za-z0-9_.-] (report_curves.c refuses others), so they are safe in file names and
 * in gnuplot's quoted strings. */
typedef struct {
    const char *key, *y2_key;
    int with_points; /* few points: mark each one */
} Plot;

/* Writes report_dir/curves.gp and runs gnuplot on it in report_dir (eval/report_gnuplot.c). */
int report_gnuplot(const char *report_dir, const Plot *plots, size_t n_plots, Err *err);

/* Markdown that renders as the text itself: the characters markdown would read as markup
 * are backslash-escaped and control characters become spaces, so that strings from
 * files anyone may have written can neither break a table nor inject HTML or links. */
void md_text(Buf *md, const char *s);
/* s as an inline code span (fenced by more backticks than s holds in a row). */
void md_code(Buf *md, const char *s);
/* A relative path as a link destination: bytes other than [A-Za-z0-9-._~/] are
 * percent-encoded, so spaces and parentheses in file names keep the link whole. */
void md_link_target(Buf *md, const char *path);

/* Prints "tessera: warning: MESSAGE" on stderr (control characters as spaces, so it is
 * one line) and appends "- MESSAGE" to list, for the report. */
void report_warning(Buf *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Shortest "%.*g" form that reads back as the same double. */
void format_round_trip(char *out, size_t cap, double x);

#endif
