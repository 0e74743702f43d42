/* store: opening, validating and reading a Tessera LMDB store (see store.h). */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "../core/buf.h"
#include "../core/fs.h"
#include "../core/xalloc.h"

static const size_t INITIAL_MAP_BYTES = (size_t)1 << 30; /* reserved address space, not disk */

static int folder_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

static int check_path(const char *path, int create, Err *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && create) return fs_mkdirs(path, err);
        if (errno == ENOENT) return err_set(err, "%s: no such store", path);
        return err_set(err, "%s: cannot open store (%s)", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return err_set(err, "%s: is a file, not a store (a store is a folder)", path);
    char *data = fs_join(path, "data.mdb");
    int has_data = fs_exists(data);
    free(data);
    if (!has_data && !(create && folder_is_empty(path)))
        return err_set(err, "%s: is not a Tessera store (a folder without data.mdb)", path);
    return 0;
}

int store_open(Store *s, const char *path, int writable, int create, Err *err) {
    memset(s, 0, sizeof *s);
    if (check_path(path, create, err) != 0) return -1;
    int rc = mdb_env_create(&s->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 8);
    if (rc == 0) rc = mdb_env_set_maxreaders(s->env, 1024);
    if (rc == 0 && writable) rc = mdb_env_set_mapsize(s->env, INITIAL_MAP_BYTES);
    /* NOSYNC: a killed process loses nothing committed (the page cache has it);
     * the writer syncs every few seconds and at the end so an OS crash loses at
     * most those seconds, and a re-run redoes them. */
    unsigned flags = MDB_NOTLS | (writable ? MDB_NOSYNC : MDB_RDONLY);
    if (rc == 0) rc = mdb_env_open(s->env, path, flags, 0664);
    if (rc != 0) {
        err_set(err, "%s: cannot open store (%s)", path, mdb_strerror(rc));
        mdb_env_close(s->env);
        s->env = NULL;
        return -1;
    }
    /* A reader killed mid-transaction leaves a stale slot; clear those first. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, writable ? 0 : MDB_RDONLY, &txn);
    if (rc != 0) {
        err_set(err, "%s: %s", path, mdb_strerror(rc));
        goto fail;
    }
    /* Tables are created only in an empty environment (new, or killed before its first
     * commit); someone else's LMDB without Tessera's tables is refused, not extended. */
    MDB_dbi main_db;
    MDB_stat main_stat;
    int is_empty = mdb_dbi_open(txn, NULL, 0, &main_db) == 0 && mdb_stat(txn, main_db, &main_stat) == 0 &&
                   main_stat.ms_entries == 0;
    unsigned dbflags = writable && create && is_empty ? MDB_CREATE : 0;
    MDB_dbi *dbis[] = {&s->meta, &s->records, &s->sources, &s->rejects};
    const char *names[] = {"meta", "records", "sources", "rejects"};
    for (int i = 0; i < 4; i++) {
        rc = mdb_dbi_open(txn, names[i], dbflags, dbis[i]);
        if (rc != 0) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) err_set(err, "%s: is an LMDB environment but not a Tessera store (no %s table)", path, names[i]);
            else err_set(err, "%s: cannot open table %s (%s)", path, names[i], mdb_strerror(rc));
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        err_set(err, "%s: %s", path, mdb_strerror(rc));
        goto fail;
    }
    s->path = xstrdup(path);
    s->writable = writable;
    return 0;
fail:
    mdb_env_close(s->env);
    s->env = NULL;
    return -1;
}

void store_close(Store *s) {
    if (s->env) {
        if (s->writable) mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    free(s->path);
    memset(s, 0, sizeof *s);
}

int store_meta_load(Store *s, Meta *out, Err *err) {
    *out = (Meta){0};
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return err_set(err, "%s: %s", s->path, mdb_strerror(rc));
    rc = mdb_cursor_open(txn, s->meta, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return err_set(err, "%s: %s", s->path, mdb_strerror(rc));
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char *key = xmalloc(k.mv_size + 1), *val = xmalloc(v.mv_size + 1);
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        memcpy(val, v.mv_data, v.mv_size);
        val[v.mv_size] = 0;
        meta_set(out, key, val);
        free(key);
        free(val);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return 0;
}

static uint64_t table_entries(Store *s, MDB_dbi dbi) {
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) return 0;
    uint64_t n = mdb_stat(txn, dbi, &st) == 0 ? st.ms_entries : 0;
    mdb_txn_abort(txn);
    return n;
}

uint64_t store_record_count(Store *s) { return table_entries(s, s->records); }
uint64_t store_reject_count(Store *s) { return table_entries(s, s->rejects); }

int store_read_begin(Store *s, StoreRead *r, Err *err) {
    r->store = s;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) return err_set(err, "%s: %s", s->path, mdb_strerror(rc));
    return 0;
}

int store_read_record(StoreRead *r, uint64_t index, RecordView *out, Err *err) {
    uint8_t key[8];
    be64_put(key, index);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(r->txn, r->store->records, &k, &v);
    if (rc == MDB_NOTFOUND) return err_set(err, "%s: no record %llu", r->store->path, (unsigned long long)index);
    if (rc != 0) return err_set(err, "%s: record %llu: %s", r->store->path, (unsigned long long)index, mdb_strerror(rc));
    if (record_decode(v.mv_data, v.mv_size, out, err) != 0)
        return err_prefix(err, "%s: record %llu", r->store->path, (unsigned long long)index);
    return 0;
}

int store_source_state(StoreRead *r, const char *source_id) {
    char key[SOURCE_KEY_MAX + 1];
    MDB_val k = {store_source_key(source_id, key), key}, v;
    if (mdb_get(r->txn, r->store->sources, &k, &v) == 0) return 1;
    if (mdb_get(r->txn, r->store->rejects, &k, &v) == 0) return 2;
    return 0;
}

void store_read_end(StoreRead *r) {
    if (r->txn) mdb_txn_abort(r->txn);
    r->txn = NULL;
}

size_t store_source_key(const char *source_id, char *out) {
    size_t n = strlen(source_id);
    if (n <= SOURCE_KEY_MAX) {
        memcpy(out, source_id, n);
        return n;
    }
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)source_id[i]) * 1099511628211ull;
    size_t keep = SOURCE_KEY_MAX - 17;
    memcpy(out, source_id, keep);
    snprintf(out + keep, 18, "#%016llx", (unsigned long long)h);
    return SOURCE_KEY_MAX;
}
