/* report_gnuplot: the curves of report.md are drawn by gnuplot, never by hand. The script
 * is kept as REPORT_FOLDER/curves.gp beside the TSVs it reads and runs in that folder, so
 * anyone can edit it and redraw there with `gnuplot curves.gp`. It picks pngcairo when
 * this gnuplot has it, else the libgd png terminal, both at 800×480. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include "report_sections.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/fs.h"

extern char **environ;

/* Enough of gnuplot's output to find its error message. */
enum { GNUPLOT_OUTPUT_KEEP = 64 << 10 };

static const char SCRIPT_HEAD[] =
    "# Written by `tessera eval report`; `gnuplot curves.gp` in this folder redraws the curves.\n"
    "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
    "    set terminal pngcairo size 800,480\n"
    "} else {\n"
    "    set terminal png size 800,480\n"
    "}\n"
    "set termoption noenhanced  # keys like val_psnr: '_' is no subscript\n"
    "set datafile separator \"\\t\"\n"
    "set grid\n"
    "set key top right\n"
    "set xlabel \"step\"\n";

static void script_plot(Buf *gp, const Plot *p) {
    const char *style = p->with_points ? "linespoints pointtype 7 pointsize 0.6" : "lines";
    buf_printf(gp, "\nset output \"curve_%s.png\"\nset ylabel \"%s\"\n", p->key, p->key);
    if (p->y2_key) buf_printf(gp, "set title \"%s (%s on the right axis)\"\n", p->key, p->y2_key);
    else buf_printf(gp, "set title \"%s\"\n", p->key);
    if (!p->y2_key) {
        buf_printf(gp, "plot \"curve_%s.tsv\" skip 1 using 1:2 with %s linewidth 2 title \"%s\"\n", p->key, style, p->key);
        return;
    }
    buf_printf(gp, "set ytics nomirror\nset y2tics\nset y2label \"%s\"\n", p->y2_key);
    buf_printf(gp,
               "plot \"curve_%s.tsv\" skip 1 using 1:2 with %s linewidth 2 title \"%s\", \\\n"
               "     \"curve_%s.tsv\" skip 1 using 1:2 axes x1y2 with %s title \"%s\"\n",
               p->key, style, p->key, p->y2_key, style, p->y2_key);
    buf_printf(gp, "unset y2tics\nunset y2label\nset ytics mirror\n");
}

static int write_script(const char *path, const Plot *plots, size_t n_plots, Err *err) {
    Buf gp = {0};
    buf_printf(&gp, "%s", SCRIPT_HEAD);
    for (size_t i = 0; i < n_plots; i++) script_plot(&gp, &plots[i]);
    buf_printf(&gp, "set output\n");
    FILE *f = fopen(path, "w");
    int written = f && fwrite(gp.data, 1, gp.len, f) == gp.len;
    int closed = f && fclose(f) == 0;
    int rc = written && closed ? 0 : err_set(err, "%s: cannot write (%s)", path, strerror(errno));
    buf_free(&gp);
    return rc;
}

/* Runs `gnuplot curves.gp` in dir with stdout and stderr into output; *status as waitpid's. */
static int run_gnuplot(const char *dir, Buf *output, int *status, Err *err) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return err_set(err, "cannot start gnuplot: pipe (%s)", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, dir);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    char program[] = "gnuplot", script[] = "curves.gp";
    char *argv[] = {program, script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, program, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        if (rc == ENOENT)
            return err_set(err, "gnuplot not found on PATH: the curves need it (apt-get install gnuplot-nox, or "
                                "tools/install_deps.sh)");
        return err_set(err, "cannot start gnuplot (%s)", strerror(rc));
    }
    char chunk[4096];
    for (;;) {
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (output->len < GNUPLOT_OUTPUT_KEEP) buf_put(output, chunk, (size_t)got);
    }
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return err_set(err, "gnuplot: waitpid (%s)", strerror(errno));
    return 0;
}

/* gnuplot names the script line and what is wrong on the last line it prints. */
static void last_line(const Buf *output, char *out, size_t cap) {
    size_t end = output->len;
    while (end > 0 && (output->data[end - 1] == '\n' || output->data[end - 1] == ' ')) end--;
    size_t start = end;
    while (start > 0 && output->data[start - 1] != '\n') start--;
    snprintf(out, cap, "%.*s", (int)(end - start), (const char *)output->data + start);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

static int is_png(const char *path) {
    unsigned char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0;
}

int report_gnuplot(const char *report_dir, const Plot *plots, size_t n_plots, Err *err) {
    char *script = fs_join(report_dir, "curves.gp");
    Buf output = {0};
    int status = 0;
    int rc = write_script(script, plots, n_plots, err);
    if (rc == 0) rc = run_gnuplot(report_dir, &output, &status, err);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char said[512];
        last_line(&output, said, sizeof said);
        if (WIFSIGNALED(status)) rc = err_set(err, "gnuplot was killed by signal %d running %s", WTERMSIG(status), script);
        else rc = err_set(err, "gnuplot failed (exit status %d) running %s: %s", WEXITSTATUS(status), script, said);
    }
    for (size_t i = 0; rc == 0 && i < n_plots; i++) {
        char name[160];
        snprintf(name, sizeof name, "curve_%s.png", plots[i].key);
        char *png = fs_join(report_dir, name);
        if (!is_png(png)) rc = err_set(err, "gnuplot ran %s but wrote no PNG %s", script, png);
        free(png);
    }
    buf_free(&output);
    free(script);
    return rc;
}
