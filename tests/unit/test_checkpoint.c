/* test_checkpoint: round trip of every field; truncated, corrupted, foreign and
 * mismatched checkpoints are refused with a message; the newest valid one is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../train/checkpoint.h"

enum { N = 1000 };

static void fill(float *p, float base) {
    for (int i = 0; i < N; i++) p[i] = base + (float)i * 0.001f;
}

static CheckpointInfo sample_info(uint64_t step) {
    CheckpointInfo info = {.model = "igpt", .n_dims = 3, .dims = {4, 128, 196}, .step = step, .epoch = 2,
                           .next_batch = 17, .rng = {1, 2, 3, 4}, .n_params = N};
    return info;
}

static char *tmpdir(void) {
    char *d = strdup("/tmp/tessera-ckpt-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void write_sample(const char *path, uint64_t step, int with_ema) {
    static float p[N], m[N], v[N], e[N];
    fill(p, 1), fill(m, 2), fill(v, 3), fill(e, 4);
    CheckpointInfo info = sample_info(step);
    CheckpointData d = {p, m, v, with_ema ? e : NULL};
    Err err;
    assert_int_equal(checkpoint_write(path, &info, "model = igpt\nsteps = 10\n", &d, &err), 0);
}

static void test_round_trip(void **state) {
    char *dir = tmpdir();
    char *path = checkpoint_path(dir, 42);
    write_sample(path, 42, 1);
    float p[N], m[N], v[N], e[N], want[N];
    CheckpointData d = {p, m, v, e};
    CheckpointInfo expect = sample_info(0), got;
    Err err;
    assert_int_equal(checkpoint_load(path, &expect, &got, &d, &err), 0);
    assert_int_equal(got.step, 42);
    assert_int_equal(got.epoch, 2);
    assert_int_equal(got.next_batch, 17);
    assert_true(got.rng[3] == 4 && got.has_ema);
    fill(want, 1);
    assert_memory_equal(p, want, sizeof p);
    fill(want, 3);
    assert_memory_equal(v, want, sizeof v);
    fill(want, 4);
    assert_memory_equal(e, want, sizeof e);
    char *config;
    assert_int_equal(checkpoint_inspect(path, &got, &config, &err), 0);
    assert_string_equal(config, "model = igpt\nsteps = 10\n");
    free(config);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
}

static void expect_load_error(const char *path, CheckpointInfo expect, const char *words) {
    float p[N], m[N], v[N];
    CheckpointData d = {p, m, v, NULL};
    CheckpointInfo got;
    Err err = {{0}};
    assert_int_equal(checkpoint_load(path, &expect, &got, &d, &err), -1);
    if (!strstr(err.msg, words)) fail_msg("'%s' lacks '%s'", err.msg, words);
}

static void test_bad_checkpoints_are_refused(void **state) {
    char *dir = tmpdir();
    char *path = checkpoint_path(dir, 1);
    write_sample(path, 1, 0);
    CheckpointInfo other = sample_info(0);
    strcpy(other.model, "vqvae");
    expect_load_error(path, other, "is a checkpoint of model 'igpt', not 'vqvae'");
    CheckpointInfo dims = sample_info(0);
    dims.dims[1] = 256;
    expect_load_error(path, dims, "other model dimensions");

    /* Truncated: cut the last 100 bytes. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 100), 0);
    expect_load_error(path, sample_info(0), "truncated or corrupted");

    /* Corrupted: flip one byte of the parameters. */
    write_sample(path, 1, 0);
    f = fopen(path, "r+b");
    fseek(f, 300, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    expect_load_error(path, sample_info(0), "checksum mismatch");

    /* Not a checkpoint at all. */
    f = fopen(path, "wb");
    for (int i = 0; i < 400; i++) fputc(i, f);
    fclose(f);
    expect_load_error(path, sample_info(0), "not a Tessera checkpoint");
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
}

static void test_newest_valid_checkpoint_is_found(void **state) {
    char *dir = tmpdir();
    assert_null(checkpoint_find_newest(dir));
    char *a = checkpoint_path(dir, 10), *b = checkpoint_path(dir, 20), *c = checkpoint_path(dir, 30);
    write_sample(a, 10, 0);
    write_sample(b, 20, 0);
    write_sample(c, 30, 0);
    assert_int_equal(truncate(c, 500), 0); /* the newest is broken: fall back to 20 */
    char *found = checkpoint_find_newest(dir);
    assert_non_null(found);
    assert_string_equal(found, b);
    free(found);
    unlink(a), unlink(b), unlink(c);
    free(a), free(b), free(c);
    rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_checkpoints_are_refused),
        cmocka_unit_test(test_newest_valid_checkpoint_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
