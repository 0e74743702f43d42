/* test_idx: MNIST-format IDX files (ingest/idx.h).
 *
 * Checked on the fixtures (5 images of 7 rows × 9 columns, labels 3 1 4 1 5): plain
 * and gzipped files load with the expected pixels (tiny.idx.npy) and labels; a header
 * alone can be read without the pixels; a truncated file, a label count that
 * disagrees and files that are not IDX are errors; idx_labels_path_for finds the
 * labels file beside the images file. A header that claims far more pixels than the
 * file holds must be refused, not allocated: that case runs in a child process,
 * because allocation failure exits the process (xalloc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../ingest/idx.h"
#include "fixture_io.h"

static const int32_t LABELS[5] = {3, 1, 4, 1, 5};

static void check_loads(const char *images_name, const char *labels_name) {
    char *images = fixture_path(images_name), *labels = fixture_path(labels_name);
    Npy want;
    npy_load("tiny.idx.npy", &want); /* shape (5, 7, 9): height = count, width = rows, channels = cols */
    assert_int_equal(idx_looks_like_images(images), 1);
    IdxData d;
    Err err = {{0}};
    if (idx_load(images, &d, 1, &err) != 0) fail_msg("%s: %s", images_name, err.msg);
    assert_int_equal(d.count, 5);
    assert_int_equal(d.rows, 7);
    assert_int_equal(d.cols, 9);
    assert_non_null(d.pixels);
    assert_memory_equal(d.pixels, want.data, 5 * 7 * 9);

    char *beside = idx_labels_path_for(images);
    assert_non_null(beside);
    assert_string_equal(beside, labels);
    int32_t *got = NULL;
    if (idx_load_labels(beside, d.count, &got, &err) != 0) fail_msg("%s: %s", labels_name, err.msg);
    assert_memory_equal(got, LABELS, sizeof LABELS);
    free(got);
    free(beside);
    idx_free(&d);
    assert_null(d.pixels);

    /* The header alone. */
    assert_int_equal(idx_load(images, &d, 0, &err), 0);
    assert_int_equal(d.count, 5);
    assert_int_equal(d.rows, 7);
    assert_null(d.pixels);
    idx_free(&d);
    npy_free(&want);
    free(images);
    free(labels);
}

static void test_plain_idx_loads(void **state) { check_loads("tiny-images-idx3-ubyte", "tiny-labels-idx1-ubyte"); }

static void test_gzipped_idx_loads(void **state) {
    check_loads("tinygz-images-idx3-ubyte.gz", "tinygz-labels-idx1-ubyte.gz");
}

static void test_truncated_idx_fails(void **state) {
    char *path = fixture_path("truncated-images-idx3-ubyte");
    IdxData d;
    Err err = {{0}};
    assert_int_equal(idx_load(path, &d, 1, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_null(d.pixels);
    /* Even a header-only load refuses it: planning must not trust a header's count. */
    assert_int_equal(idx_load(path, &d, 0, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    free(path);
}

static void test_labels_must_agree(void **state) {
    char *labels = fixture_path("tiny-labels-idx1-ubyte"), *images = fixture_path("tiny-images-idx3-ubyte");
    int32_t *got = NULL;
    Err err = {{0}};
    assert_int_equal(idx_load_labels(labels, 4, &got, &err), -1); /* 5 labels for 4 images */
    assert_non_null(strstr(err.msg, "labels for"));
    assert_null(got);
    assert_int_equal(idx_load_labels(images, 5, &got, &err), -1); /* an images file is no labels file */
    assert_non_null(strstr(err.msg, "not an IDX label file"));
    free(labels);
    free(images);
}

static void test_not_idx_files(void **state) {
    const char *names[] = {"yuv420.jpg", "empty.jpg", "tiny-labels-idx1-ubyte", "no-such-file"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *path = fixture_path(names[i]);
        assert_int_equal(idx_looks_like_images(path), 0);
        IdxData d;
        Err err = {{0}};
        assert_int_equal(idx_load(path, &d, 1, &err), -1);
        assert_true(strlen(err.msg) > 0);
        assert_null(d.pixels);
        free(path);
    }
}

static void test_labels_path_for(void **state) {
    static const struct {
        const char *images, *labels; /* labels NULL: no labels file can be named */
    } cases[] = {
        {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
        {"/data/mnist/t10k-images-idx3-ubyte.gz", "/data/mnist/t10k-labels-idx1-ubyte.gz"},
        {"images-idx3-ubyte", "labels-idx1-ubyte"},
        {"train-images.idx3-ubyte", NULL},
        {"photo.jpg", NULL},
        {"", NULL},
        /* "Beside": only the file name changes, not a folder that happens to match. */
        {"/data/images-idx3/train-images-idx3-ubyte", "/data/images-idx3/train-labels-idx1-ubyte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = idx_labels_path_for(cases[i].images);
        if (!cases[i].labels) {
            assert_null(got);
            continue;
        }
        if (!got || strcmp(got, cases[i].labels) != 0) {
            char shown[512];
            snprintf(shown, sizeof shown, "%s", got ? got : "(null)");
            free(got);
            fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].images, shown, cases[i].labels);
        }
        free(got);
    }
}

/* 16 bytes claiming 2^30 images of 65535×65535 (all within the header checks): 4.6e18
 * bytes that the file does not hold. idx.h promises headers are checked before anything
 * is allocated, so this must be an error like any other corrupt file. It runs in a
 * child: an allocation that large fails, and xmalloc then exits the process. */
static void test_header_claiming_too_much_is_refused(void **state) {
    char dir[] = "/tmp/tessera-test-idx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/huge-images-idx3-ubyte", dir);
    const uint8_t header[16] = {0, 0, 8, 3, 0x40, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF};
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(header, 1, sizeof header, f), sizeof header);
    assert_int_equal(fwrite("0123456789", 1, 10, f), 10);
    fclose(f);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        IdxData d;
        Err err = {{0}};
        int rc = idx_load(path, &d, 1, &err);
        if (rc == 0) idx_free(&d);
        _exit(rc == -1 && err.msg[0] ? 0 : 2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(path);
    rmdir(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("idx_load on a 26-byte file claiming 2^30 images of 65535x65535 did not return an error: %s %d",
                 WIFEXITED(status) ? "child exited with" : "child killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_idx_loads),
        cmocka_unit_test(test_gzipped_idx_loads),
        cmocka_unit_test(test_truncated_idx_fails),
        cmocka_unit_test(test_labels_must_agree),
        cmocka_unit_test(test_not_idx_files),
        cmocka_unit_test(test_labels_path_for),
        cmocka_unit_test(test_header_claiming_too_much_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
