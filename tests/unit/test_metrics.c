/* test_metrics: metrics.jsonl lines are JSON objects starting with "step"; NaN becomes
 * null; a resumed run drops the lines past its checkpoint's step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>

#include "../../train/metrics.h"

static char *read_all(const char *path) {
    FILE *f = fopen(path, "r");
    static char text[4096];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f) fclose(f);
    return text;
}

static void log_steps(const char *dir, uint64_t keep, int from, int to) {
    MetricsLog m;
    Err err;
    assert_int_equal(metrics_open(&m, dir, keep, &err), 0);
    for (int s = from; s <= to; s++) {
        metrics_begin(&m, (uint64_t)s);
        metrics_int(&m, "epoch", 0);
        metrics_num(&m, "loss", s == 3 ? NAN : 1.5);
        assert_int_equal(metrics_end(&m, &err), 0);
    }
    metrics_close(&m);
}

static void test_lines_and_resume(void **state) {
    char dir[] = "/tmp/tessera-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    log_steps(dir, 0, 1, 5);
    assert_string_equal(read_all(path),
                        "{\"step\": 1, \"epoch\": 0, \"loss\": 1.5}\n{\"step\": 2, \"epoch\": 0, \"loss\": 1.5}\n"
                        "{\"step\": 3, \"epoch\": 0, \"loss\": null}\n{\"step\": 4, \"epoch\": 0, \"loss\": 1.5}\n"
                        "{\"step\": 5, \"epoch\": 0, \"loss\": 1.5}\n");
    log_steps(dir, 2, 3, 4); /* resumed from a checkpoint at step 2: 3..5 are redone */
    assert_string_equal(read_all(path),
                        "{\"step\": 1, \"epoch\": 0, \"loss\": 1.5}\n{\"step\": 2, \"epoch\": 0, \"loss\": 1.5}\n"
                        "{\"step\": 3, \"epoch\": 0, \"loss\": null}\n{\"step\": 4, \"epoch\": 0, \"loss\": 1.5}\n");
    log_steps(dir, 0, 7, 7); /* a fresh run starts empty */
    assert_string_equal(read_all(path), "{\"step\": 7, \"epoch\": 0, \"loss\": 1.5}\n");
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lines_and_resume)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
