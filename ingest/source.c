/* source: planning and reading ingest sources (see source.h). */
#define _GNU_SOURCE
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fs.h"
#include "../core/xalloc.h"
#include "idx.h"

/* ------------------------------------------------------------------ planning state */

typedef struct {
    SourcePlan *plan;
    int32_t *name_of;      /* per item: index into names, or -1 */
    size_t name_of_cap;
    char **names;          /* class names as met, unsorted */
    size_t n_names;
    int has_numeric;
    uint64_t *id_hashes;   /* open-addressing set of (hash, item+1) for duplicates */
    size_t *id_slots;
    size_t set_cap;
} Planner;

static uint64_t hash_str(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void set_grow(Planner *p);

/* Returns 1 if the id was already planned. */
static int set_insert(Planner *p, const char *id, size_t item) {
    if ((p->plan->n_items + 1) * 2 > p->set_cap) set_grow(p);
    uint64_t h = hash_str(id);
    size_t mask = p->set_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (!p->id_slots[i]) {
            p->id_hashes[i] = h;
            p->id_slots[i] = item + 1;
            return 0;
        }
        if (p->id_hashes[i] == h && strcmp(p->plan->items[p->id_slots[i] - 1].id, id) == 0) return 1;
    }
}

static void set_grow(Planner *p) {
    size_t old_cap = p->set_cap;
    uint64_t *old_h = p->id_hashes;
    size_t *old_s = p->id_slots;
    p->set_cap = old_cap ? old_cap * 2 : 1024;
    p->id_hashes = xcalloc(p->set_cap, sizeof *p->id_hashes);
    p->id_slots = xcalloc(p->set_cap, sizeof *p->id_slots);
    size_t mask = p->set_cap - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (!old_s[j]) continue;
        size_t i = old_h[j] & mask;
        while (p->id_slots[i]) i = (i + 1) & mask;
        p->id_hashes[i] = old_h[j];
        p->id_slots[i] = old_s[j];
    }
    free(old_h);
    free(old_s);
}

static int32_t intern_name(Planner *p, const char *name) {
    for (size_t i = p->n_names; i-- > 0;)
        if (strcmp(p->names[i], name) == 0) return (int32_t)i;
    p->names = xrealloc(p->names, (p->n_names + 1) * sizeof *p->names);
    p->names[p->n_names] = xstrdup(name);
    return (int32_t)p->n_names++;
}

/* Adds an item; takes ownership of id. Returns the new item, or NULL for a duplicate. */
static SourceItem *add_item(Planner *p, char *id, ItemKind kind, int32_t label, int32_t name) {
    SourcePlan *plan = p->plan;
    if (plan->n_items == plan->cap_items) {
        plan->cap_items = plan->cap_items ? plan->cap_items * 2 : 1024;
        plan->items = xrealloc(plan->items, plan->cap_items * sizeof *plan->items);
    }
    if (set_insert(p, id, plan->n_items)) {
        plan->duplicates++;
        free(id);
        return NULL;
    }
    if (plan->n_items >= p->name_of_cap) {
        p->name_of_cap = plan->cap_items;
        p->name_of = xrealloc(p->name_of, p->name_of_cap * sizeof *p->name_of);
    }
    if (label >= 0) p->has_numeric = 1;
    p->name_of[plan->n_items] = name;
    SourceItem *it = &plan->items[plan->n_items++];
    *it = (SourceItem){.id = id, .label = label, .kind = (uint8_t)kind};
    return it;
}

static void add_broken(Planner *p, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_broken(Planner *p, const char *id, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    SourceItem *it = add_item(p, xstrdup(id), ITEM_BROKEN, -1, -1);
    if (it) it->reason = xstrdup(reason);
}

static char *absolute_path(const char *path) {
    char *abs = realpath(path, NULL);
    return abs ? abs : xstrdup(path);
}

static int has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* ------------------------------------------------------------------ folder trees */

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int not_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }

static int entry_is_dir(const char *dir, const struct dirent *e) {
    if (e->d_type == DT_DIR) return 1;
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK) return 0;
    char *full = fs_join(dir, e->d_name);
    int is_dir = fs_is_dir(full);
    free(full);
    return is_dir;
}

/* Like torchvision's ImageFolder (a sorted os.walk): a folder's files in name order,
 * then its sub-folders in name order. */
static void walk_files(Planner *p, const char *dir, int32_t name) {
    struct dirent **list;
    int n = scandir(dir, &list, not_hidden, by_name);
    if (n < 0) {
        add_broken(p, dir, "cannot read folder (%s)", strerror(errno));
        return;
    }
    char *is_dir = xmalloc((size_t)n + 1);
    for (int i = 0; i < n; i++) is_dir[i] = (char)entry_is_dir(dir, list[i]);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            if (is_dir[i] != pass) continue;
            char *full = fs_join(dir, list[i]->d_name);
            if (pass == 1) {
                walk_files(p, full, name);
                free(full);
                continue;
            }
            SourceItem *it = add_item(p, xstrdup(full), ITEM_FILE, -1, name);
            if (it) it->path = full;
            else free(full);
        }
    }
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    free(is_dir);
}

static void plan_folder(Planner *p, const char *root) {
    struct dirent **list;
    int n = scandir(root, &list, not_hidden, by_name);
    if (n < 0) {
        add_broken(p, root, "cannot read folder (%s)", strerror(errno));
        return;
    }
    int n_dirs = 0;
    for (int i = 0; i < n; i++) n_dirs += entry_is_dir(root, list[i]);
    for (int i = 0; i < n; i++) {
        char *full = fs_join(root, list[i]->d_name);
        if (n_dirs == 0) { /* flat: unlabelled */
            SourceItem *it = add_item(p, xstrdup(full), ITEM_FILE, -1, -1);
            if (it) it->path = full;
            else free(full);
        } else if (entry_is_dir(root, list[i])) {
            walk_files(p, full, intern_name(p, list[i]->d_name));
            free(full);
        } else {
            p->plan->skipped_loose_files++;
            free(full);
        }
        free(list[i]);
    }
    free(list);
}

/* ------------------------------------------------------------------ list files */

static int parse_label(const char *s, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || errno || v < 0 || v > INT32_MAX - 1) return 0;
    *out = (int32_t)v;
    return 1;
}

static void plan_list(Planner *p, const char *list_path) {
    FILE *f = fopen(list_path, "r");
    if (!f) {
        add_broken(p, list_path, "cannot open list file (%s)", strerror(errno));
        return;
    }
    char *abs = absolute_path(list_path);
    char *base = xstrdup(abs);
    char *slash = strrchr(base, '/');
    if (slash) *slash = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t line_no = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        int32_t label = -1, name = -1;
        if (tab) {
            *tab = 0;
            if (!parse_label(tab + 1, &label)) name = intern_name(p, tab + 1);
        }
        char *path = line[0] == '/' ? xstrdup(line) : fs_join(base, line);
        SourceItem *it = add_item(p, xstrdup(path), ITEM_FILE, label, name);
        if (it) it->path = path;
        else free(path);
    }
    free(line);
    free(base);
    free(abs);
    fclose(f);
}

/* ------------------------------------------------------------------ tar shards */

static int is_image_name(const char *name) {
    static const char *exts[] = {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp"};
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (has_suffix(name, exts[i])) return 1;
    return 0;
}

static struct archive *open_tar(const char *path) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_open_filename(a, path, 1 << 16); /* a failure shows at the first header read */
    return a;
}

typedef struct {
    char *stem;
    int32_t label;
} ClsEntry;

static int by_stem(const void *a, const void *b) { return strcmp(((const ClsEntry *)a)->stem, ((const ClsEntry *)b)->stem); }

static char *stem_of(const char *name) {
    char *s = xstrdup(name);
    char *dot = strrchr(s, '.'), *slash = strrchr(s, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    return s;
}

static void plan_tar(Planner *p, const char *path) {
    char *abs = absolute_path(path);
    SourcePlan *plan = p->plan;
    uint32_t container = (uint32_t)plan->n_containers;
    plan->containers = xrealloc(plan->containers, (plan->n_containers + 1) * sizeof *plan->containers);
    plan->containers[plan->n_containers++] = xstrdup(abs);

    /* First pass: labels from .cls members, which may come before or after their image. */
    ClsEntry *cls = NULL;
    size_t n_cls = 0;
    struct archive *a = open_tar(path);
    struct archive_entry *e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!name || archive_entry_filetype(e) != AE_IFREG || !has_suffix(name, ".cls")) continue;
        char text[64] = {0};
        la_ssize_t got = archive_read_data(a, text, sizeof text - 1);
        int32_t label;
        char *end = text + (got > 0 ? got : 0);
        while (end > text && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r')) *--end = 0;
        if (got > 0 && parse_label(text, &label)) {
            cls = xrealloc(cls, (n_cls + 1) * sizeof *cls);
            cls[n_cls++] = (ClsEntry){stem_of(name), label};
        }
    }
    archive_read_free(a);
    qsort(cls, n_cls, sizeof *cls, by_stem);

    /* Second pass: the image members, in archive order. */
    a = open_tar(path);
    uint64_t ordinal = 0;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        uint64_t pos = ordinal++;
        const char *name = archive_entry_pathname(e);
        if (!name || archive_entry_filetype(e) != AE_IFREG || !is_image_name(name)) continue;
        char *id = xmalloc(strlen(abs) + strlen(name) + 2);
        sprintf(id, "%s:%s", abs, name);
        int32_t label = -1, class_name = -1;
        char *stem = stem_of(name);
        ClsEntry key = {stem, 0};
        ClsEntry *hit = n_cls ? bsearch(&key, cls, n_cls, sizeof *cls, by_stem) : NULL;
        if (hit) {
            label = hit->label;
        } else {
            char *slash = strrchr(stem, '/');
            if (slash) {
                *slash = 0;
                char *folder = strrchr(stem, '/');
                class_name = intern_name(p, folder ? folder + 1 : stem);
            }
        }
        free(stem);
        SourceItem *it = add_item(p, id, ITEM_TAR_MEMBER, label, class_name);
        if (it) {
            it->container = container;
            it->position = pos;
        }
        /* A member whose data is cut short is that member's fault, reported once when
         * it is read; stop here so the cut is not reported again as a broken header. */
        if (archive_read_data_skip(a) != ARCHIVE_OK) {
            rc = ARCHIVE_EOF;
            break;
        }
    }
    if (rc != ARCHIVE_EOF) {
        char id[PATH_MAX + 64];
        snprintf(id, sizeof id, "%s:#%llu", abs, (unsigned long long)ordinal);
        add_broken(p, id, "broken tar: %s (members from here on are unreadable)", archive_error_string(a));
    }
    archive_read_free(a);
    for (size_t i = 0; i < n_cls; i++) free(cls[i].stem);
    free(cls);
    free(abs);
}

/* ------------------------------------------------------------------ IDX files */

static void plan_idx(Planner *p, const char *path) {
    char *abs = absolute_path(path);
    IdxData d;
    Err err;
    if (idx_load(path, &d, 0, &err) != 0) {
        add_broken(p, abs, "%s", err.msg);
        free(abs);
        return;
    }
    int32_t *labels = NULL;
    char *lpath = idx_labels_path_for(path);
    if (lpath && fs_exists(lpath) && idx_load_labels(lpath, d.count, &labels, &err) != 0) {
        add_broken(p, lpath, "%s", err.msg);
        labels = NULL;
    }
    free(lpath);
    SourcePlan *plan = p->plan;
    uint32_t container = (uint32_t)plan->n_containers;
    plan->containers = xrealloc(plan->containers, (plan->n_containers + 1) * sizeof *plan->containers);
    plan->containers[plan->n_containers++] = xstrdup(abs);
    for (uint32_t i = 0; i < d.count; i++) {
        char *id = xmalloc(strlen(abs) + 16);
        sprintf(id, "%s#%u", abs, i);
        SourceItem *it = add_item(p, id, ITEM_IDX, labels ? labels[i] : -1, -1);
        if (it) {
            it->container = container;
            it->position = i;
        }
    }
    free(labels);
    free(abs);
}

/* ------------------------------------------------------------------ the plan */

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int resolve_labels(Planner *p, const char *label_names, Err *err) {
    SourcePlan *plan = p->plan;
    if (p->n_names && p->has_numeric)
        return err_set(err, "sources mix integer labels and class names; use one kind of label");
    if (p->n_names) {
        if (label_names) return err_set(err, "--label-names applies to integer labels; these sources have class names");
        char **sorted = xmalloc(p->n_names * sizeof *sorted);
        memcpy(sorted, p->names, p->n_names * sizeof *sorted);
        qsort(sorted, p->n_names, sizeof *sorted, by_string);
        int32_t *rank = xmalloc(p->n_names * sizeof *rank);
        for (size_t i = 0; i < p->n_names; i++) {
            char **hit = bsearch(&p->names[i], sorted, p->n_names, sizeof *sorted, by_string);
            rank[i] = (int32_t)(hit - sorted);
        }
        for (size_t i = 0; i < plan->n_items; i++)
            if (p->name_of[i] >= 0) plan->items[i].label = rank[p->name_of[i]];
        plan->label_names = sorted;
        plan->n_labels = p->n_names;
        p->names = NULL; /* now owned by the plan */
        free(rank);
        return 0;
    }
    int32_t max_label = -1;
    for (size_t i = 0; i < plan->n_items; i++)
        if (plan->items[i].label > max_label) max_label = plan->items[i].label;
    size_t n_given = 0;
    char **given = NULL;
    if (label_names) {
        char *copy = xstrdup(label_names), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            given = xrealloc(given, (n_given + 1) * sizeof *given);
            given[n_given++] = xstrdup(tok);
        }
        free(copy);
        if ((int64_t)n_given < (int64_t)max_label + 1) {
            for (size_t i = 0; i < n_given; i++) free(given[i]);
            free(given);
            return err_set(err, "--label-names gives %zu names but the sources use labels up to %d", n_given, max_label);
        }
        plan->label_names = given;
        plan->n_labels = n_given;
        return 0;
    }
    plan->n_labels = (size_t)(max_label + 1);
    plan->label_names = xcalloc(plan->n_labels ? plan->n_labels : 1, sizeof *plan->label_names);
    for (size_t i = 0; i < plan->n_labels; i++) {
        char name[16];
        snprintf(name, sizeof name, "%zu", i);
        plan->label_names[i] = xstrdup(name);
    }
    return 0;
}

int source_plan(SourcePlan *plan, char **paths, int n_paths, const char *label_names, Err *err) {
    memset(plan, 0, sizeof *plan);
    Planner p = {.plan = plan};
    Buf desc = {0};
    for (int i = 0; i < n_paths; i++) {
        const char *path = paths[i];
        buf_printf(&desc, "%s%s", i ? " " : "", path);
        struct stat st;
        if (stat(path, &st) != 0) {
            add_broken(&p, path, "no such file or folder");
        } else if (S_ISDIR(st.st_mode)) {
            char *abs = absolute_path(path);
            plan_folder(&p, abs);
            free(abs);
        } else if (has_suffix(path, ".tar") || has_suffix(path, ".tar.gz") || has_suffix(path, ".tgz")) {
            plan_tar(&p, path);
        } else if (idx_looks_like_images(path)) {
            plan_idx(&p, path);
        } else if (is_image_name(path)) {
            char *abs = absolute_path(path);
            SourceItem *it = add_item(&p, xstrdup(abs), ITEM_FILE, -1, -1);
            if (it) it->path = abs;
            else free(abs);
        } else {
            plan_list(&p, path);
        }
    }
    buf_put_u8(&desc, 0);
    plan->description = (char *)desc.data;
    int rc = resolve_labels(&p, label_names, err);
    for (size_t i = 0; p.names && i < p.n_names; i++) free(p.names[i]);
    free(p.names);
    free(p.name_of);
    free(p.id_hashes);
    free(p.id_slots);
    return rc;
}

void source_plan_free(SourcePlan *plan) {
    for (size_t i = 0; i < plan->n_items; i++) {
        free(plan->items[i].id);
        free(plan->items[i].path);
        free(plan->items[i].reason);
    }
    free(plan->items);
    for (size_t i = 0; i < plan->n_labels; i++) free(plan->label_names[i]);
    free(plan->label_names);
    for (size_t i = 0; i < plan->n_containers; i++) free(plan->containers[i]);
    free(plan->containers);
    free(plan->description);
    memset(plan, 0, sizeof *plan);
}
