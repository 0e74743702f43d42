/* info_cmd: `tessera info STORE [--json]`: a store's meta and counts. */
#include "info_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fs.h"
#include "../core/json.h"
#include "store.h"

static const char *USAGE = "usage: tessera info STORE [--json]\n"
                           "Prints the store's meta and counts as 'key: value' lines, or one JSON object.\n";

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(USAGE, stdout); return EXIT_OK; }
        else if (argv[i][0] == '-' || path) { fputs(USAGE, stderr); return EXIT_USAGE; }
        else path = argv[i];
    }
    if (!path) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    Err err;
    Store s;
    Meta m;
    if (store_open(&s, path, 0, 0, &err) != 0 || store_meta_load(&s, &m, &err) != 0) {
        report_error("%s", err.msg);
        return EXIT_BAD_INPUT;
    }
    if (!meta_get(&m, "kind")) {
        report_error("%s: is not a Tessera store (no kind in meta)", path);
        meta_free(&m);
        store_close(&s);
        return EXIT_BAD_INPUT;
    }
    char counts[3][32];
    snprintf(counts[0], sizeof counts[0], "%llu", (unsigned long long)store_record_count(&s));
    snprintf(counts[1], sizeof counts[1], "%llu", (unsigned long long)store_reject_count(&s));
    char *data = fs_join(path, "data.mdb");
    struct stat st;
    snprintf(counts[2], sizeof counts[2], "%lld", stat(data, &st) == 0 ? (long long)st.st_size : 0LL);
    free(data);
    const char *count_keys[3] = {"records", "rejects", "file_bytes"};

    size_t n_names;
    char **names = meta_label_names(&m, &n_names);
    Buf out = {0};
    if (json) buf_put_u8(&out, '{');
    int first = 1;
    for (size_t i = 0; i < m.n + 3; i++) {
        const char *k = i < m.n ? m.keys[i] : count_keys[i - m.n];
        const char *v = i < m.n ? m.values[i] : counts[i - m.n];
        if (json) {
            buf_printf(&out, "%s\n  ", first ? "" : ",");
            json_string(&out, k);
            buf_put(&out, ": ", 2);
            if (!strcmp(k, "label_names")) {
                buf_put_u8(&out, '[');
                for (size_t j = 0; j < n_names; j++) {
                    if (j) buf_put(&out, ", ", 2);
                    json_string(&out, names[j]);
                }
                buf_put_u8(&out, ']');
            } else {
                json_scalar(&out, v);
            }
        } else if (!strcmp(k, "label_names")) {
            buf_printf(&out, "%s: ", k);
            for (size_t j = 0; j < n_names; j++) buf_printf(&out, "%s%s", j ? ", " : "", names[j]);
            buf_put_u8(&out, '\n');
        } else if (strchr(v, '\n')) { /* one line per key: a long text (a tokenizer's config) is cut */
            size_t lines = 1;
            for (const char *p = v; *p; p++) lines += *p == '\n' && p[1];
            buf_printf(&out, "%s: %.*s … (%zu lines; --json gives the whole value)\n", k, (int)strcspn(v, "\n"), v,
                       lines);
        } else {
            buf_printf(&out, "%s: %s\n", k, v);
        }
        first = 0;
    }
    if (json) buf_put(&out, "\n}\n", 3);
    fwrite(out.data, 1, out.len, stdout);
    buf_free(&out);
    free_strings(names, n_names);
    meta_free(&m);
    store_close(&s);
    return EXIT_OK;
}
