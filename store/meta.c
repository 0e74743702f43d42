/* meta: ordered key → value text pairs (see meta.h). */
#include "meta.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

void meta_set(Meta *m, const char *key, const char *value) {
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            free(m->values[i]);
            m->values[i] = xstrdup(value);
            return;
        }
    }
    m->keys = xrealloc(m->keys, (m->n + 1) * sizeof *m->keys);
    m->values = xrealloc(m->values, (m->n + 1) * sizeof *m->values);
    m->keys[m->n] = xstrdup(key);
    m->values[m->n] = xstrdup(value);
    m->n++;
}

void meta_setf(Meta *m, const char *key, const char *fmt, ...) {
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    meta_set(m, key, value);
}

const char *meta_get(const Meta *m, const char *key) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return m->values[i];
    return NULL;
}

void meta_free(Meta *m) {
    free_strings(m->keys, m->n);
    free_strings(m->values, m->n);
    *m = (Meta){0};
}

char **meta_label_names(const Meta *m, size_t *count) {
    *count = 0;
    const char *v = meta_get(m, "label_names");
    if (!v || !*v) return NULL;
    size_t n = 1;
    for (const char *p = v; *p; p++) n += *p == '\n';
    char **names = xcalloc(n, sizeof *names);
    const char *start = v;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(start, '\n');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        names[i] = xmalloc(len + 1);
        memcpy(names[i], start, len);
        names[i][len] = 0;
        start = end ? end + 1 : start + len;
    }
    *count = n;
    return names;
}

void free_strings(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
