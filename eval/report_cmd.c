/* report_cmd: `tessera eval report RUN_DIR` (docs/EVAL.md) writes RUN_DIR/report.md:
 * the newest checkpoint and its config, a table of the evaluations under eval/, every PNG
 * the trainer and the evaluations wrote, and curves of metrics.jsonl drawn by gnuplot into
 * RUN_DIR/report/. Links are relative, so the report renders wherever the folder moves. */
#include "eval_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/fs.h"
#include "../core/xalloc.h"
#include "../train/checkpoint.h"
#include "report_sections.h"

static const char *USAGE =
    "usage: tessera eval report RUN_DIR\n"
    "\n"
    "Writes RUN_DIR/report.md: the newest checkpoint (model, step, CRC-32, config), a table of\n"
    "every RUN_DIR/eval/*.json that `tessera eval METRIC ... --json` wrote, links to the run's\n"
    "PNGs, and curves of metrics.jsonl drawn by gnuplot into RUN_DIR/report/ (with their data\n"
    "as TSV). Malformed lines and files are skipped with a warning. docs/EVAL.md.\n"
    "\n"
    "  -h, --help    this text\n";

/* A fence longer than any run of backticks in the text, so the text cannot close it. */
static void fenced_block(Buf *md, const char *info, const char *text) {
    size_t longest = 0, run = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    size_t fence = longest < 3 ? 3 : longest + 1, n = strlen(text);
    for (size_t i = 0; i < fence; i++) buf_put_u8(md, '`');
    buf_printf(md, "%s\n%s%s", info, text, n && text[n - 1] == '\n' ? "" : "\n");
    for (size_t i = 0; i < fence; i++) buf_put_u8(md, '`');
    buf_printf(md, "\n\n");
}

static void checkpoint_section(Buf *md, const char *run_dir) {
    char *path = checkpoint_find_newest(run_dir); /* reports broken newer ones on stderr */
    CheckpointInfo info;
    char *config = NULL;
    Err err;
    if (!path) {
        buf_printf(md, "No checkpoint yet (no ckpt_*.bin that reads back whole).\n\n");
    } else if (checkpoint_inspect(path, &info, &config, &err) != 0) {
        buf_printf(md, "The newest checkpoint could not be read: ");
        md_text(md, err.msg);
        buf_printf(md, "\n\n");
    } else {
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        buf_printf(md, "Newest checkpoint ");
        md_code(md, name);
        buf_printf(md, ": model **");
        md_text(md, info.model);
        buf_printf(md, "**, step %llu, CRC-32 `%08x`. Its config:\n\n", (unsigned long long)info.step, info.checksum);
        fenced_block(md, "ini", config);
    }
    free(config);
    free(path);
}

static int is_png_name(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 && strcasecmp(e->d_name + n - 4, ".png") == 0;
}

/* Links to the PNG files of run_dir/sub (sub "" for run_dir itself); returns how many. */
static size_t link_pngs(Buf *md, const char *run_dir, const char *sub) {
    char *dir = *sub ? fs_join(run_dir, sub) : xstrdup(run_dir);
    struct dirent **names = NULL;
    int n = fs_is_dir(dir) ? scandir(dir, &names, is_png_name, alphasort) : 0;
    size_t linked = 0;
    for (int i = 0; i < n; i++) {
        char *path = fs_join(dir, names[i]->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            char *relative = *sub ? fs_join(sub, names[i]->d_name) : xstrdup(names[i]->d_name);
            buf_printf(md, "![");
            md_text(md, relative);
            buf_printf(md, "](");
            md_link_target(md, relative);
            buf_printf(md, ")\n\n");
            free(relative);
            linked++;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    free(dir);
    return linked;
}

void report_samples_section(Buf *md, const char *run_dir) {
    buf_printf(md, "## Samples\n\n");
    size_t linked = link_pngs(md, run_dir, "") + link_pngs(md, run_dir, "eval");
    if (!linked) buf_printf(md, "No PNG images in the run folder or its eval/ yet.\n\n");
}

/* s as one shell word: as it is when that is safe, else in single quotes. */
static void shell_word(Buf *out, const char *s) {
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+=:,@%") == strlen(s)) {
        buf_printf(out, "%s", s);
        return;
    }
    buf_put_u8(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'') buf_printf(out, "'\\''");
        else buf_put_u8(out, (uint8_t)*p);
    }
    buf_put_u8(out, '\'');
}

/* report.md is written whole to a temporary name and renamed, so a reader never sees
 * half of it. */
static int write_report(const char *run_dir, const Buf *md, Err *err) {
    char *path = fs_join(run_dir, "report.md"), *tmp = fs_join(run_dir, ".report.md.tmp");
    FILE *f = fopen(tmp, "w");
    int written = f && fwrite(md->data, 1, md->len, f) == md->len;
    int closed = f && fclose(f) == 0;
    int rc = 0;
    if (!written || !closed) rc = err_set(err, "%s: cannot write (%s)", tmp, strerror(errno));
    else if (rename(tmp, path) != 0) rc = err_set(err, "%s: cannot write (%s)", path, strerror(errno));
    if (rc != 0) remove(tmp);
    else printf("%s\n", path);
    free(tmp);
    free(path);
    return rc;
}

static int report(const char *run_dir, Err *err) {
    if (!fs_exists(run_dir)) return err_set(err, "%s: no such run folder", run_dir);
    if (!fs_is_dir(run_dir)) return err_set(err, "%s: is not a folder (give a run folder of tessera train)", run_dir);
    char *report_dir = fs_join(run_dir, REPORT_FOLDER);
    Buf md = {0};
    int rc = fs_mkdirs(report_dir, err);
    if (rc == 0) {
        buf_printf(&md, "# Run report: ");
        md_text(&md, run_dir);
        buf_printf(&md, "\n\n");
        checkpoint_section(&md, run_dir);
        report_metrics_section(&md, run_dir);
        report_samples_section(&md, run_dir);
        rc = report_curves_section(&md, run_dir, report_dir, err);
    }
    if (rc == 0) {
        Buf command = {0};
        buf_printf(&command, "tessera eval report ");
        shell_word(&command, run_dir);
        buf_put_u8(&command, 0);
        buf_printf(&md, "---\n\nRegenerate this report with ");
        md_code(&md, (const char *)command.data);
        buf_printf(&md, ".\n");
        buf_free(&command);
        rc = write_report(run_dir, &md, err);
    }
    buf_free(&md);
    free(report_dir);
    return rc;
}

int cmd_eval_report(int argc, char **argv) {
    static const struct option longs[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(USAGE, stdout); return EXIT_OK;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        report_error("eval report: give one RUN_DIR (a folder `tessera train` wrote)");
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    Err err;
    if (report(argv[optind], &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
}
