/* config: typed INI configs (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = 0;
    return s;
}

/* Splits "key = value" (comments already removed). Returns 0 and points into line. */
static int split_pair(char *line, char **key, char **value) {
    char *eq = strchr(line, '=');
    if (!eq) return -1;
    *eq = 0;
    *key = trim(line);
    *value = trim(eq + 1);
    return **key ? 0 : -1;
}

static void strip_comment(char *line) {
    for (char *p = line; *p; p++) {
        if ((*p == '#' || *p == ';') && (p == line || isspace((unsigned char)p[-1]))) {
            *p = 0;
            return;
        }
    }
}

typedef int (*PairFn)(void *ctx, const char *key, const char *value, const char *origin, Err *err);

/* The pairs of a file (or, with text, of that text, named path in messages), then the overrides. */
static int each_pair(const char *path, const char *text, char **overrides, int n_overrides, PairFn fn, void *ctx,
                     Err *err) {
    if (path) {
        FILE *f = text ? fmemopen((void *)text, strlen(text), "r") : fopen(path, "r");
        if (!f) return err_set(err, "%s: cannot open config (%s)", path, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        int line_no = 0, rc = 0;
        while (rc == 0 && getline(&line, &cap, f) >= 0) {
            line_no++;
            strip_comment(line);
            char *s = trim(line), *key, *value;
            if (!*s) continue;
            char origin[512];
            snprintf(origin, sizeof origin, "%s:%d", path, line_no);
            if (*s == '[') {
                rc = err_set(err, "%s: sections are not used in run configs; write 'key = value' lines", origin);
            } else if (split_pair(s, &key, &value) != 0) {
                rc = err_set(err, "%s: expected 'key = value', got '%s'", origin, s);
            } else {
                rc = fn(ctx, key, value, origin, err);
            }
        }
        free(line);
        fclose(f);
        if (rc != 0) return rc;
    }
    for (int i = 0; i < n_overrides; i++) {
        char *copy = xstrdup(overrides[i]), *key, *value;
        int rc = split_pair(copy, &key, &value) != 0
                     ? err_set(err, "override '%s': expected key=value", overrides[i])
                     : fn(ctx, key, value, "override", err);
        free(copy);
        if (rc != 0) return rc;
    }
    return 0;
}

typedef struct {
    const char *key;
    char *value;
} Peek;

static int peek_pair(void *ctx, const char *key, const char *value, const char *origin, Err *err) {
    (void)origin;
    (void)err;
    Peek *p = ctx;
    if (strcmp(key, p->key) == 0) {
        free(p->value);
        p->value = xstrdup(value);
    }
    return 0;
}

char *config_peek(const char *path, char **overrides, int n_overrides, const char *key, Err *err) {
    Peek p = {key, NULL};
    if (each_pair(path, NULL, overrides, n_overrides, peek_pair, &p, err) != 0) {
        free(p.value);
        return NULL;
    }
    return p.value;
}

static int find_key(const Config *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i]->key, key) == 0) return (int)i;
    return -1;
}

/* Checks a value against its key's type and range; the message names key and origin. */
static int check_value(const ConfigKey *k, const char *value, const char *origin, Err *err) {
    char *end;
    errno = 0;
    switch (k->type) {
    case CFG_INT: {
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno) return err_set(err, "%s: %s must be an integer, got '%s'", origin, k->key, value);
        if (k->min <= k->max && ((double)v < k->min || (double)v > k->max))
            return err_set(err, "%s: %s = %s is out of range [%g, %g]", origin, k->key, value, k->min, k->max);
        return 0;
    }
    case CFG_FLOAT: {
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v))
            return err_set(err, "%s: %s must be a number, got '%s'", origin, k->key, value);
        if (k->min <= k->max && (v < k->min || v > k->max))
            return err_set(err, "%s: %s = %s is out of range [%g, %g]", origin, k->key, value, k->min, k->max);
        return 0;
    }
    case CFG_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false") || !strcmp(value, "1") || !strcmp(value, "0")) return 0;
        return err_set(err, "%s: %s must be true or false, got '%s'", origin, k->key, value);
    case CFG_ENUM: {
        size_t n = strlen(value);
        for (const char *p = k->choices; p && *p;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, value, n) == 0) return 0;
            p = bar ? bar + 1 : p + len;
        }
        return err_set(err, "%s: %s must be one of %s, got '%s'", origin, k->key, k->choices, value);
    }
    case CFG_STRING: return 0;
    }
    return 0;
}

typedef struct {
    Config *c;
    const char *path;
    char *seen_in_file; /* per key: set once the file gave it */
} Loader;

static int set_pair(void *ctx, const char *key, const char *value, const char *origin, Err *err) {
    Loader *l = ctx;
    Config *c = l->c;
    int i = find_key(c, key);
    if (i < 0) return err_set(err, "%s: unknown key '%s' (see docs/CONFIG.md for the keys of each model)", origin, key);
    if (strcmp(origin, "override") != 0) {
        if (l->seen_in_file[i]) return err_set(err, "%s: %s is given twice", origin, key);
        l->seen_in_file[i] = 1;
    }
    return config_set(c, key, value, origin, err);
}

static int load(Config *c, const ConfigKey *const *schemas, const char *path, const char *text, char **overrides,
                int n_overrides, Err *err) {
    memset(c, 0, sizeof *c);
    for (size_t s = 0; schemas[s]; s++) {
        for (const ConfigKey *k = schemas[s]; k->key; k++) {
            c->keys = xrealloc(c->keys, (c->n + 1) * sizeof *c->keys);
            c->keys[c->n++] = k;
        }
    }
    c->values = xcalloc(c->n ? c->n : 1, sizeof *c->values);
    c->origins = xcalloc(c->n ? c->n : 1, sizeof *c->origins);
    for (size_t i = 0; i < c->n; i++) {
        if (c->keys[i]->fallback) {
            c->values[i] = xstrdup(c->keys[i]->fallback);
            c->origins[i] = xstrdup("default");
        }
    }
    Loader l = {c, path, xcalloc(c->n ? c->n : 1, 1)};
    int rc = each_pair(path, text, overrides, n_overrides, set_pair, &l, err);
    free(l.seen_in_file);
    for (size_t i = 0; rc == 0 && i < c->n; i++)
        if (!c->values[i]) rc = err_set(err, "%s: %s is required and not given", path ? path : "config", c->keys[i]->key);
    if (rc != 0) config_free(c);
    return rc;
}

int config_set(Config *c, const char *key, const char *value, const char *origin, Err *err) {
    int i = find_key(c, key);
    if (i < 0) return err_set(err, "%s: unknown key '%s'", origin, key);
    if (check_value(c->keys[i], value, origin, err) != 0) return -1;
    free(c->values[i]);
    free(c->origins[i]);
    c->values[i] = xstrdup(value);
    c->origins[i] = xstrdup(origin);
    return 0;
}

int config_load(Config *c, const ConfigKey *const *schemas, const char *path, char **overrides, int n_overrides,
                Err *err) {
    return load(c, schemas, path, NULL, overrides, n_overrides, err);
}

int config_load_text(Config *c, const ConfigKey *const *schemas, const char *text, const char *name, Err *err) {
    return load(c, schemas, name, text, NULL, 0, err);
}

void config_free(Config *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->values[i]);
        free(c->origins[i]);
    }
    free(c->values);
    free(c->origins);
    free(c->keys);
    memset(c, 0, sizeof *c);
}

/* Lookups of keys the schema does not have are programming errors: say so loudly. */
static const char *value_of(const Config *c, const char *key) {
    int i = find_key(c, key);
    if (i < 0) {
        fprintf(stderr, "tessera: internal error: config key '%s' is not in the schema\n", key);
        abort();
    }
    return c->values[i];
}

long config_int(const Config *c, const char *key) { return strtol(value_of(c, key), NULL, 10); }
double config_float(const Config *c, const char *key) { return strtod(value_of(c, key), NULL); }
const char *config_str(const Config *c, const char *key) { return value_of(c, key); }

int config_int_list(const Config *c, const char *key, int *out, int cap, int lo, int hi, Err *err) {
    const char *list = value_of(c, key);
    int n = 0;
    for (const char *p = list; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < lo || v > hi || n == cap || (*end && *end != ','))
            return err_set(err, "%s = %s: expected at most %d comma-separated integers in %d..%d", key, list, cap, lo, hi);
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

int config_bool(const Config *c, const char *key) {
    const char *v = value_of(c, key);
    return !strcmp(v, "true") || !strcmp(v, "1");
}

void config_format(const Config *c, Buf *out) {
    for (size_t i = 0; i < c->n; i++) buf_printf(out, "%s = %s  # %s\n", c->keys[i]->key, c->values[i], c->origins[i]);
}
