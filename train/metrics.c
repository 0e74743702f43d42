/* metrics: the metrics.jsonl log (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fs.h"
#include "../core/xalloc.h"

/* Rewrites the log without lines past keep_until (or without everything, for 0). */
static int trim_log(const char *path, uint64_t keep_until, Err *err) {
    Buf old = {0};
    if (fs_read_file(path, &old, (size_t)1 << 34, err) != 0) {
        buf_free(&old);
        return errno == ENOENT || !fs_exists(path) ? 0 : err_prefix(err, "%s", path);
    }
    size_t tmp_len = strlen(path) + 8;
    char *tmp = xmalloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f) {
        rc = err_set(err, "%s: cannot write (%s)", tmp, strerror(errno));
    } else {
        size_t at = 0;
        while (at < old.len) {
            size_t end = at;
            while (end < old.len && old.data[end] != '\n') end++;
            unsigned long long step = 0;
            int has_step = sscanf((const char *)old.data + at, "{\"step\": %llu", &step) == 1;
            if (keep_until > 0 && has_step && step <= keep_until && end < old.len)
                fwrite(old.data + at, 1, end - at + 1, f);
            at = end + 1;
        }
        if (fclose(f) != 0 || rename(tmp, path) != 0) rc = err_set(err, "%s: cannot rewrite (%s)", path, strerror(errno));
    }
    free(tmp);
    buf_free(&old);
    return rc;
}

int metrics_open(MetricsLog *m, const char *run_dir, uint64_t keep_until, Err *err) {
    memset(m, 0, sizeof *m);
    char *path = fs_join(run_dir, "metrics.jsonl");
    int rc = keep_until == UINT64_MAX ? 0 : trim_log(path, keep_until, err);
    if (rc == 0) {
        m->f = fopen(path, "a");
        if (!m->f) rc = err_set(err, "%s: cannot open (%s)", path, strerror(errno));
    }
    free(path);
    return rc;
}

void metrics_begin(MetricsLog *m, uint64_t step) {
    buf_clear(&m->line);
    buf_printf(&m->line, "{\"step\": %llu", (unsigned long long)step);
    m->fields = 1;
}

void metrics_int(MetricsLog *m, const char *key, long long v) { buf_printf(&m->line, ", \"%s\": %lld", key, v); }

void metrics_num(MetricsLog *m, const char *key, double v) {
    if (isfinite(v)) buf_printf(&m->line, ", \"%s\": %.7g", key, v);
    else buf_printf(&m->line, ", \"%s\": null", key); /* JSON has no NaN */
}

int metrics_end(MetricsLog *m, Err *err) {
    buf_put(&m->line, "}\n", 2);
    if (fwrite(m->line.data, 1, m->line.len, m->f) != m->line.len || fflush(m->f) != 0)
        return err_set(err, "metrics.jsonl: cannot write (%s)", strerror(errno));
    return 0;
}

void metrics_close(MetricsLog *m) {
    if (m->f) fclose(m->f);
    buf_free(&m->line);
    memset(m, 0, sizeof *m);
}
