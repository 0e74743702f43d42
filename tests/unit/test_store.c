/* test_store: the LMDB store and its single writer (store/store.h, store/writer.h,
 * store/meta.h), in throw-away folders under /tmp.
 *
 * Checked: records, source ids, rejects and meta written through a StoreWriter read
 * back, byte for byte, from the store reopened read-only, and a second writer appends
 * after them; the "count" meta always equals the records table; source ids longer than
 * an LMDB key are hashed to a stable key that still tells ids apart; a full map is
 * grown and the batch replayed with nothing lost; and paths that are not stores (a
 * file, a folder holding something else, a missing path, an LMDB environment without
 * Tessera's tables) are refused with a message saying which. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/buf.h"
#include "../../core/fs.h"
#include "../../store/meta.h"
#include "../../store/record.h"
#include "../../store/store.h"
#include "../../store/writer.h"

/* ------------------------------------------------------------------ temp folders */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Each test gets a fresh folder in *state, removed afterwards with what it holds. */
static int make_temp_dir(void **state) {
    char *dir = strdup("/tmp/tessera-test-store-XXXXXX");
    if (!mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_temp_dir(void **state) {
    char *dir = *state;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    return 0;
}

/* A path inside the test's folder, in a caller's buffer (nothing to free when a
 * failing assertion leaves the test early). */
enum { PATH_CAP = 512 };
static char *path_in(void **state, const char *name, char out[PATH_CAP]) {
    snprintf(out, PATH_CAP, "%s/%s", (const char *)*state, name);
    return out;
}

/* ------------------------------------------------------------------ helpers */

/* Record i: an 8×8×3 image whose bytes depend on i, labelled i % 10. */
enum { SIDE = 8 };
static void make_record(Buf *out, uint64_t i) {
    uint8_t px[SIDE * SIDE * 3];
    for (size_t k = 0; k < sizeof px; k++) px[k] = (uint8_t)(k * 3 + i * 17);
    buf_clear(out);
    record_encode(out, (int32_t)(i % 10), SIDE, SIDE, 3, DTYPE_U8, 0, px, sizeof px);
}

static void check_record(StoreRead *r, uint64_t i) {
    RecordView v;
    Err err = {{0}};
    if (store_read_record(r, i, &v, &err) != 0) fail_msg("record %llu: %s", (unsigned long long)i, err.msg);
    Buf want = {0};
    make_record(&want, i);
    assert_int_equal(v.label, (int32_t)(i % 10));
    assert_int_equal(v.height, SIDE);
    assert_int_equal(v.payload_bytes, want.len - RECORD_HEADER_BYTES);
    assert_memory_equal(v.payload, want.data + RECORD_HEADER_BYTES, v.payload_bytes);
    buf_free(&want);
}

static void source_name(char *out, size_t cap, const char *kind, uint64_t i) {
    snprintf(out, cap, "%s/%06llu.jpg", kind, (unsigned long long)i);
}

static void open_ok(Store *s, const char *path, int writable, int create) {
    Err err = {{0}};
    if (store_open(s, path, writable, create, &err) != 0) fail_msg("store_open %s: %s", path, err.msg);
}

static const char *meta_value(Store *s, const char *key, Meta *m) {
    Err err = {{0}};
    meta_free(m);
    assert_int_equal(store_meta_load(s, m, &err), 0);
    return meta_get(m, key);
}

/* Writes records [from, to) and `rejects` rejects through one writer, committing
 * whenever the writer's thresholds say so. */
static void write_records(Store *s, uint64_t from, uint64_t to, int rejects, StoreWriter *w) {
    Err err = {{0}};
    assert_int_equal(writer_open(w, s, &err), 0);
    assert_true(w->committed_records == from);
    Buf rec = {0};
    char id[64];
    for (uint64_t i = from; i < to; i++) {
        assert_true(writer_next_index(w) == i);
        make_record(&rec, i);
        source_name(id, sizeof id, "good", i);
        writer_add_record(w, id, rec.data, rec.len);
        if (writer_maybe_commit(w, &err) != 0) fail_msg("commit: %s", err.msg);
    }
    for (int i = 0; i < rejects; i++) {
        source_name(id, sizeof id, "bad", from + (uint64_t)i);
        writer_add_reject(w, id, "corrupt or truncated JPEG (Premature end of JPEG file)");
    }
    writer_set_meta(w, "kind", "pixels");
    writer_set_meta(w, "shape", "8,8,3");
    if (writer_close(w, &err) != 0) fail_msg("writer_close: %s", err.msg);
    buf_free(&rec);
}

/* ------------------------------------------------------------------ tests */

static void test_write_reopen_read_back(void **state) {
    char path[PATH_CAP];
    path_in(state, "store", path); /* missing: created */
    Store s;
    StoreWriter w;
    open_ok(&s, path, 1, 1);
    write_records(&s, 0, 300, 3, &w);
    assert_true(w.committed_records == 300);
    assert_true(w.committed_rejects == 3);
    store_close(&s);

    open_ok(&s, path, 0, 0);
    assert_true(store_record_count(&s) == 300);
    assert_true(store_reject_count(&s) == 3);
    Meta m = {0};
    assert_string_equal(meta_value(&s, "count", &m), "300");
    assert_string_equal(meta_get(&m, "kind"), "pixels");
    assert_string_equal(meta_get(&m, "shape"), "8,8,3");
    meta_free(&m);

    StoreRead r;
    Err err = {{0}};
    assert_int_equal(store_read_begin(&s, &r, &err), 0);
    for (uint64_t i = 0; i < 300; i++) check_record(&r, i);
    RecordView v;
    assert_int_equal(store_read_record(&r, 300, &v, &err), -1);
    assert_non_null(strstr(err.msg, "no record"));
    char id[64];
    source_name(id, sizeof id, "good", 0);
    assert_int_equal(store_source_state(&r, id), 1);
    source_name(id, sizeof id, "good", 299);
    assert_int_equal(store_source_state(&r, id), 1);
    source_name(id, sizeof id, "bad", 2);
    assert_int_equal(store_source_state(&r, id), 2);
    source_name(id, sizeof id, "good", 300);
    assert_int_equal(store_source_state(&r, id), 0);
    assert_int_equal(store_source_state(&r, "never/seen.jpg"), 0);
    store_read_end(&r);

    /* Read-only: no writer. */
    assert_int_equal(writer_open(&w, &s, &err), -1);
    assert_non_null(strstr(err.msg, "read-only"));
    store_close(&s);
}

static void test_second_writer_appends(void **state) {
    char path[PATH_CAP];
    path_in(state, "store", path);
    Store s;
    StoreWriter w;
    open_ok(&s, path, 1, 1);
    write_records(&s, 0, 40, 1, &w);
    store_close(&s);

    open_ok(&s, path, 1, 0); /* existing store, no create */
    write_records(&s, 40, 55, 2, &w);
    store_close(&s);

    open_ok(&s, path, 0, 0);
    Meta m = {0};
    assert_string_equal(meta_value(&s, "count", &m), "55");
    meta_free(&m);
    assert_true(store_record_count(&s) == 55);
    assert_true(store_reject_count(&s) == 3);
    StoreRead r;
    Err err = {{0}};
    assert_int_equal(store_read_begin(&s, &r, &err), 0);
    for (uint64_t i = 0; i < 55; i++) check_record(&r, i);
    store_read_end(&r);
    store_close(&s);
}

/* "count" is written in the same transaction as the records: after every commit,
 * including one that adds only rejects or meta, it equals the records table. */
static void test_count_meta_tracks_every_commit(void **state) {
    char path[PATH_CAP];
    path_in(state, "store", path);
    Store s;
    StoreWriter w;
    Err err = {{0}};
    Meta m = {0};
    open_ok(&s, path, 1, 1);
    assert_int_equal(writer_open(&w, &s, &err), 0);
    Buf rec = {0};
    char id[64];
    for (uint64_t i = 0; i < 20; i++) {
        make_record(&rec, i);
        source_name(id, sizeof id, "good", i);
        writer_add_record(&w, id, rec.data, rec.len);
        if (i % 7 == 6) {
            assert_int_equal(writer_commit(&w, &err), 0);
            char want[16];
            snprintf(want, sizeof want, "%llu", (unsigned long long)(i + 1));
            assert_string_equal(meta_value(&s, "count", &m), want);
            assert_true(store_record_count(&s) == i + 1);
        }
    }
    assert_int_equal(writer_commit(&w, &err), 0);
    writer_add_reject(&w, "bad/1.jpg", "a PNG file");
    writer_set_meta(&w, "note", "rejects only");
    assert_int_equal(writer_commit(&w, &err), 0);
    assert_string_equal(meta_value(&s, "count", &m), "20");
    assert_string_equal(meta_get(&m, "note"), "rejects only");
    assert_int_equal(writer_close(&w, &err), 0);
    meta_free(&m);
    buf_free(&rec);
    store_close(&s);
}

static void test_long_source_ids_are_hashed(void **state) {
    char key[SOURCE_KEY_MAX + 1], again[SOURCE_KEY_MAX + 1], other[SOURCE_KEY_MAX + 1];
    /* Short ids are their own key. */
    assert_int_equal(store_source_key("a/b.jpg", key), 7);
    assert_memory_equal(key, "a/b.jpg", 7);
    char *id = malloc(2001), *id2 = malloc(2001);
    memset(id, 'p', 2000);
    id[2000] = 0;
    id[SOURCE_KEY_MAX] = 0; /* exactly SOURCE_KEY_MAX bytes: still itself */
    assert_int_equal(store_source_key(id, key), SOURCE_KEY_MAX);
    assert_memory_equal(key, id, SOURCE_KEY_MAX);
    id[SOURCE_KEY_MAX] = 'p';

    /* 2000 bytes: hashed, at most SOURCE_KEY_MAX, stable. */
    for (int i = 0; i < 2000; i++) id[i] = (char)('a' + i % 26);
    memcpy(id2, id, 2001);
    id2[1999] = '!'; /* differs only in the last byte, far past the kept prefix */
    size_t n = store_source_key(id, key);
    assert_true(n <= SOURCE_KEY_MAX && n > 0);
    assert_int_equal(store_source_key(id, again), n);
    assert_memory_equal(key, again, n);
    size_t n2 = store_source_key(id2, other);
    assert_true(n2 <= SOURCE_KEY_MAX);
    assert_false(n == n2 && memcmp(key, other, n) == 0);
    id2[1999] = id[1999];
    id2[1000] = '!'; /* and in the middle */
    n2 = store_source_key(id2, other);
    assert_false(n == n2 && memcmp(key, other, n) == 0);
    /* One byte past the limit is hashed too, and differs from the id cut to the limit. */
    char *edge = strndup(id, SOURCE_KEY_MAX + 1);
    n2 = store_source_key(edge, other);
    assert_true(n2 <= SOURCE_KEY_MAX);
    char cut[SOURCE_KEY_MAX + 1];
    memcpy(cut, id, SOURCE_KEY_MAX);
    cut[SOURCE_KEY_MAX] = 0;
    size_t n3 = store_source_key(cut, again);
    assert_false(n2 == n3 && memcmp(other, again, n2) == 0);
    free(edge);

    /* Through the store: the long id is found, its near twin is not. */
    char path[PATH_CAP];
    path_in(state, "store", path);
    Store s;
    StoreWriter w;
    Err err = {{0}};
    open_ok(&s, path, 1, 1);
    assert_int_equal(writer_open(&w, &s, &err), 0);
    Buf rec = {0};
    make_record(&rec, 0);
    writer_add_record(&w, id, rec.data, rec.len);
    id2[1000] = id[1000];
    id2[1999] = '!';
    assert_int_equal(writer_close(&w, &err), 0);
    StoreRead r;
    assert_int_equal(store_read_begin(&s, &r, &err), 0);
    assert_int_equal(store_source_state(&r, id), 1);
    assert_int_equal(store_source_state(&r, id2), 0);
    store_read_end(&r);
    buf_free(&rec);
    store_close(&s);
    free(id);
    free(id2);
}

/* The writer starts from a 1 MiB map here and is given ~5 MiB in one batch: every
 * MDB_MAP_FULL must grow the map and replay the whole batch, losing nothing. */
static void test_full_map_grows_and_replays(void **state) {
    char path[PATH_CAP];
    path_in(state, "store", path);
    Store s;
    StoreWriter w;
    Err err = {{0}};
    open_ok(&s, path, 1, 1);
    assert_int_equal(mdb_env_set_mapsize(s.env, (size_t)1 << 20), 0);
    assert_int_equal(writer_open(&w, &s, &err), 0);
    w.commit_every_records = (size_t)1 << 40;
    w.commit_every_bytes = (size_t)1 << 40;
    w.commit_every_seconds = 1e9;
    enum { N = 80, BIG = 128 }; /* 80 records of 128×128×4 = 64 KiB: 5 MiB */
    uint8_t *px = malloc(BIG * BIG * 4);
    Buf rec = {0};
    char id[64];
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < BIG * BIG * 4; k++) px[k] = (uint8_t)(k ^ (size_t)i * 29);
        buf_clear(&rec);
        record_encode(&rec, i, BIG, BIG, 4, DTYPE_U8, 0, px, BIG * BIG * 4);
        source_name(id, sizeof id, "big", (uint64_t)i);
        writer_add_record(&w, id, rec.data, rec.len);
        assert_int_equal(writer_maybe_commit(&w, &err), 0);
    }
    writer_add_reject(&w, "bad/0.jpg", "an empty file");
    writer_set_meta(&w, "kind", "pixels");
    if (writer_close(&w, &err) != 0) fail_msg("writer_close: %s", err.msg);
    printf("  map grown %llu times\n", (unsigned long long)w.map_growths);
    assert_true(w.map_growths > 0);
    store_close(&s);

    open_ok(&s, path, 0, 0);
    assert_true(store_record_count(&s) == N);
    assert_true(store_reject_count(&s) == 1);
    Meta m = {0};
    assert_string_equal(meta_value(&s, "count", &m), "80");
    assert_string_equal(meta_get(&m, "kind"), "pixels");
    meta_free(&m);
    StoreRead r;
    assert_int_equal(store_read_begin(&s, &r, &err), 0);
    for (int i = 0; i < N; i++) {
        RecordView v;
        assert_int_equal(store_read_record(&r, (uint64_t)i, &v, &err), 0);
        assert_int_equal(v.label, i);
        assert_int_equal(v.payload_bytes, BIG * BIG * 4);
        for (size_t k = 0; k < v.payload_bytes; k += 4093) assert_int_equal(v.payload[k], (uint8_t)(k ^ (size_t)i * 29));
        source_name(id, sizeof id, "big", (uint64_t)i);
        assert_int_equal(store_source_state(&r, id), 1);
    }
    store_read_end(&r);
    store_close(&s);
    buf_free(&rec);
    free(px);
}

static void expect_open_fails(const char *path, int writable, int create, const char *word) {
    Store s;
    Err err = {{0}};
    if (store_open(&s, path, writable, create, &err) == 0) {
        store_close(&s);
        fail_msg("%s (writable %d, create %d) opened as a store", path, writable, create);
    }
    if (!strstr(err.msg, word)) fail_msg("%s: message \"%s\" lacks \"%s\"", path, err.msg, word);
    assert_null(s.env);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_paths_that_are_not_stores_are_refused(void **state) {
    char file[PATH_CAP];
    path_in(state, "a-file.txt", file);
    write_file(file, "hello");
    for (int writable = 0; writable <= 1; writable++)
        for (int create = 0; create <= 1; create++) expect_open_fails(file, writable, create, "is a file");

    char folder[PATH_CAP];
    path_in(state, "photos", folder);
    assert_int_equal(mkdir(folder, 0755), 0);
    char inside[PATH_CAP];
    path_in(state, "photos/cat.jpg", inside);
    write_file(inside, "not really");
    for (int writable = 0; writable <= 1; writable++)
        for (int create = 0; create <= 1; create++) expect_open_fails(folder, writable, create, "not a Tessera store");

    char missing[PATH_CAP];
    path_in(state, "missing/store", missing);
    expect_open_fails(missing, 0, 0, "no such store");
    expect_open_fails(missing, 1, 0, "no such store");
    assert_false(fs_exists(missing)); /* nothing created on the way */

    char empty[PATH_CAP];
    path_in(state, "empty", empty);
    assert_int_equal(mkdir(empty, 0755), 0);
    expect_open_fails(empty, 0, 0, "not a Tessera store");
    /* ... but with create an empty folder becomes a store. */
    Store s;
    open_ok(&s, empty, 1, 1);
    store_close(&s);
    open_ok(&s, empty, 0, 0);
    store_close(&s);
}

/* An LMDB environment made by someone else (no meta/records/sources/rejects tables)
 * is not a store, however it is opened. */
static void test_foreign_lmdb_environment_is_refused(void **state) {
    char path[PATH_CAP];
    path_in(state, "foreign", path);
    assert_int_equal(mkdir(path, 0755), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0664), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "theirs", MDB_CREATE, &dbi), 0);
    MDB_val k = {3, "key"}, v = {5, "value"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    expect_open_fails(path, 0, 0, "not a Tessera store");
    expect_open_fails(path, 1, 0, "not a Tessera store");
    expect_open_fails(path, 1, 1, "not a Tessera store");
}

static void test_meta_in_memory(void **state) {
    (void)state;
    Meta m = {0};
    meta_set(&m, "kind", "pixels");
    meta_setf(&m, "count", "%d", 12);
    meta_set(&m, "kind", "tokens"); /* replaces, keeps the order */
    assert_int_equal(m.n, 2);
    assert_string_equal(m.keys[0], "kind");
    assert_string_equal(meta_get(&m, "kind"), "tokens");
    assert_string_equal(meta_get(&m, "count"), "12");
    assert_null(meta_get(&m, "shape"));
    size_t n;
    assert_null(meta_label_names(&m, &n));
    assert_int_equal(n, 0);
    meta_set(&m, "label_names", "cat\ndog\nbird");
    char **names = meta_label_names(&m, &n);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "cat");
    assert_string_equal(names[2], "bird");
    free_strings(names, n);
    meta_free(&m);
    assert_int_equal(m.n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_reopen_read_back, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_second_writer_appends, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_count_meta_tracks_every_commit, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_long_source_ids_are_hashed, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_full_map_grows_and_replays, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_paths_that_are_not_stores_are_refused, make_temp_dir, remove_temp_dir),
        cmocka_unit_test_setup_teardown(test_foreign_lmdb_environment_is_refused, make_temp_dir, remove_temp_dir),
        cmocka_unit_test(test_meta_in_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
