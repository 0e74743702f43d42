/* test_config: typed INI configs — defaults, overrides, and every kind of bad key or
 * value is an error naming the key and where it came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../core/config.h"

static const ConfigKey SHARED[] = {
    {"model", CFG_ENUM, NULL, 0, -1, "igpt|vqvae", "which model"},
    {"steps", CFG_INT, "100", 1, 1e9, NULL, "optimizer steps"},
    {"lr", CFG_FLOAT, "3e-4", 0, 10, NULL, "peak learning rate"},
    {"run_dir", CFG_STRING, "runs/x", 0, -1, NULL, "output folder"},
    {"ema", CFG_BOOL, "false", 0, -1, NULL, "keep an EMA"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const ConfigKey MODEL[] = {
    {"layers", CFG_INT, "4", 1, 64, NULL, "transformer layers"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const ConfigKey *const SCHEMAS[] = {SHARED, MODEL, NULL};

static char *write_ini(const char *text) {
    static char path[64];
    strcpy(path, "/tmp/tessera-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

static void test_defaults_file_and_overrides(void **state) {
    char *path = write_ini("# a run\nmodel = igpt\nsteps = 200   # short\nlayers=6\n\nema = true\n");
    char *over[] = {"lr=1e-3", "steps=300"};
    Config c;
    Err err;
    assert_int_equal(config_load(&c, SCHEMAS, path, over, 2, &err), 0);
    assert_string_equal(config_str(&c, "model"), "igpt");
    assert_int_equal(config_int(&c, "steps"), 300);     /* override wins */
    assert_true(config_float(&c, "lr") == 1e-3);
    assert_int_equal(config_int(&c, "layers"), 6);
    assert_true(config_bool(&c, "ema"));
    assert_string_equal(config_str(&c, "run_dir"), "runs/x"); /* default */
    Buf out = {0};
    config_format(&c, &out);
    buf_put_u8(&out, 0);
    assert_non_null(strstr((char *)out.data, "steps = 300  # override\n"));
    assert_non_null(strstr((char *)out.data, "run_dir = runs/x  # default\n"));
    assert_non_null(strstr((char *)out.data, "layers = 6  # /tmp/"));

    /* The resolved text loads back to the same values. */
    char *again = write_ini((char *)out.data);
    Config d;
    assert_int_equal(config_load(&d, SCHEMAS, again, NULL, 0, &err), 0);
    for (size_t i = 0; i < c.n; i++) assert_string_equal(c.values[i], d.values[i]);
    config_free(&d);
    unlink(again);
    buf_free(&out);
    config_free(&c);
    unlink(path);
}

static void expect_error(const char *text, char **over, int n_over, const char *words) {
    char *path = write_ini(text);
    Config c;
    Err err = {{0}};
    assert_int_equal(config_load(&c, SCHEMAS, path, over, n_over, &err), -1);
    if (!strstr(err.msg, words)) fail_msg("message '%s' lacks '%s'", err.msg, words);
    unlink(path);
}

static void test_bad_configs_name_the_key(void **state) {
    expect_error("model = igpt\nstepz = 3\n", NULL, 0, ":2: unknown key 'stepz'");
    expect_error("model = igpt\nsteps = many\n", NULL, 0, "steps must be an integer, got 'many'");
    expect_error("model = igpt\nsteps = 0\n", NULL, 0, "steps = 0 is out of range");
    expect_error("model = igpt\nlr = 1e99\n", NULL, 0, "lr = 1e99 is out of range");
    expect_error("model = igpt\nlr = nan\n", NULL, 0, "lr must be a number");
    expect_error("model = gan\n", NULL, 0, "model must be one of igpt|vqvae, got 'gan'");
    expect_error("model = igpt\nema = maybe\n", NULL, 0, "ema must be true or false");
    expect_error("model = igpt\nsteps = 3\nsteps = 4\n", NULL, 0, ":3: steps is given twice");
    expect_error("steps = 3\n", NULL, 0, "model is required");
    expect_error("[train]\nmodel = igpt\n", NULL, 0, ":1: sections are not used");
    expect_error("model igpt\n", NULL, 0, ":1: expected 'key = value'");
    char *bad_over[] = {"layers=99"};
    expect_error("model = igpt\n", bad_over, 1, "override: layers = 99 is out of range");
    char *no_eq[] = {"layers"};
    expect_error("model = igpt\n", no_eq, 1, "override 'layers': expected key=value");
    Config c;
    Err err;
    assert_int_equal(config_load(&c, SCHEMAS, "/nonexistent/run.ini", NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/run.ini: cannot open config"));
}

static void test_peek_finds_a_key_before_the_schema_is_known(void **state) {
    char *path = write_ini("model = vqvae\nsteps = 5\n");
    Err err;
    char *m = config_peek(path, NULL, 0, "model", &err);
    assert_string_equal(m, "vqvae");
    free(m);
    char *over[] = {"model=igpt"};
    m = config_peek(path, over, 1, "model", &err);
    assert_string_equal(m, "igpt");
    free(m);
    assert_null(config_peek(path, NULL, 0, "absent", &err));
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_file_and_overrides),
        cmocka_unit_test(test_bad_configs_name_the_key),
        cmocka_unit_test(test_peek_finds_a_key_before_the_schema_is_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
