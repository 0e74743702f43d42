/* test_json_read: the JSON reader on the documents tessera reads (metrics.jsonl lines, eval
 * JSON) and on every kind of malformed input: each is refused with the byte offset where
 * reading stopped, nothing leaks, and nothing is read past the given length (every input
 * is copied into a buffer of exactly its size, so ASan sees an overread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../core/json_read.h"

static JsonValue *read_bytes(const char *text, size_t n, Err *err) {
    char *exact = malloc(n ? n : 1);
    memcpy(exact, text, n);
    JsonValue *v = json_read(exact, n, err);
    free(exact);
    return v;
}

static JsonValue *read_ok(const char *text) {
    Err err = {{0}};
    JsonValue *v = read_bytes(text, strlen(text), &err);
    if (!v) fail_msg("%s: %s", text, err.msg);
    return v;
}

/* Refused, with an error that holds `words` (an offset like "byte 3: " and what is wrong). */
static void refused_bytes(const char *text, size_t n, const char *words) {
    Err err = {{0}};
    JsonValue *v = read_bytes(text, n, &err);
    if (v) {
        json_read_free(v);
        fail_msg("accepted %.*s", (int)n, text);
    }
    if (!strstr(err.msg, words)) fail_msg("%.*s: error '%s' lacks '%s'", (int)n, text, err.msg, words);
    assert_memory_equal(err.msg, "byte ", 5);
}

static void refused(const char *text, const char *words) { refused_bytes(text, strlen(text), words); }

static double number_of(const char *text) {
    JsonValue *v = read_ok(text);
    assert_int_equal(v->type, JSON_NUMBER);
    double x = v->number;
    json_read_free(v);
    return x;
}

static void test_a_metrics_line(void **state) {
    JsonValue *v = read_ok("{\"step\": 50, \"epoch\": 0, \"loss\": 0.1017682, \"lr\": 0.0005, \"grad_norm\": 0.58, "
                           "\"val_psnr\": null, \"note\": \"ok\", \"done\": false}\n");
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(v->count, 8);
    assert_string_equal(v->keys[0], "step");
    double x = 0;
    assert_true(json_read_number(v, "step", &x) && x == 50);
    assert_true(json_read_number(v, "loss", &x) && x == 0.1017682);
    assert_false(json_read_number(v, "val_psnr", &x)); /* null is no number */
    assert_int_equal(json_read_member(v, "val_psnr")->type, JSON_NULL);
    assert_false(json_read_number(v, "missing", &x));
    assert_string_equal(json_read_string(v, "note"), "ok");
    assert_null(json_read_string(v, "step")); /* a number, not a string */
    const JsonValue *done = json_read_member(v, "done");
    assert_true(done->type == JSON_BOOL && done->boolean == 0);
    json_read_free(v);
}

static void test_the_eval_schema(void **state) {
    JsonValue *v = read_ok("{\"metric\": \"fd\", \"real\": \"a/test.lmdb\", \"n_real\": 10000,\n"
                           " \"rows\": [{\"name\": \"FD (evalnet features)\", \"value\": 12.3, \"std\": 0.4},\n"
                           "          {\"name\": \"FD (pixels)\", \"value\": 1e3}],\n"
                           " \"warnings\": [\"covariance is singular\"], \"extra\": {\"x\": [[], {}]}}");
    const JsonValue *rows = json_read_member(v, "rows");
    assert_int_equal(rows->type, JSON_ARRAY);
    assert_int_equal(rows->count, 2);
    assert_string_equal(json_read_string(&rows->items[0], "name"), "FD (evalnet features)");
    double x;
    assert_true(json_read_number(&rows->items[1], "value", &x) && x == 1000);
    assert_false(json_read_number(&rows->items[1], "std", &x));
    assert_null(json_read_member(rows, "name")); /* an array has no members */
    assert_string_equal(json_read_member(v, "warnings")->items[0].string, "covariance is singular");
    const JsonValue *extra = json_read_member(json_read_member(v, "extra"), "x");
    assert_true(extra->count == 2 && extra->items[0].type == JSON_ARRAY && extra->items[1].type == JSON_OBJECT);
    assert_int_equal(extra->items[1].count, 0);
    json_read_free(v);
}

static void test_scalars_and_whitespace(void **state) {
    assert_true(number_of("0") == 0);
    assert_true(number_of("-0") == 0);
    assert_true(number_of(" \t\r\n1.5e3 \n") == 1500);
    assert_true(number_of("-1E-2") == -0.01);
    assert_true(number_of("2e+2") == 200);
    assert_true(number_of("1e-400") == 0); /* underflow rounds to zero; only overflow is refused */
    assert_true(number_of("1.7976931348623157e308") > 1e308);
    assert_true(number_of("123456789012345678901234567890") > 1.2e29);
    char long_number[600] = "0.";
    memset(long_number + 2, '1', sizeof long_number - 3);
    long_number[sizeof long_number - 1] = 0;
    assert_true(number_of(long_number) > 0.111 && number_of(long_number) < 0.112);
    JsonValue *v = read_ok("true");
    assert_true(v->type == JSON_BOOL && v->boolean == 1);
    json_read_free(v);
    v = read_ok("null");
    assert_int_equal(v->type, JSON_NULL);
    json_read_free(v);
    v = read_ok("\"\"");
    assert_true(v->type == JSON_STRING && v->length == 0 && v->string[0] == 0);
    json_read_free(v);
}

static void reads_as_string(const char *json, const char *bytes, size_t n) {
    JsonValue *v = read_ok(json);
    assert_int_equal(v->type, JSON_STRING);
    assert_int_equal(v->length, n);
    assert_memory_equal(v->string, bytes, n + 1); /* and the terminating NUL */
    json_read_free(v);
}

static void test_string_escapes_become_utf8(void **state) {
    reads_as_string("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12);
    reads_as_string("\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9", 4);
    reads_as_string("\"\\u0041\\u07ff\\u20AC\\uffff\"", "A\xdf\xbf\xe2\x82\xac\xef\xbf\xbf", 9);
    reads_as_string("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4);  /* a surrogate pair */
    reads_as_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);  /* U+10FFFF */
    reads_as_string("\"x\\u0000y\"", "x\0y", 3);                   /* NUL inside, counted by length */
    reads_as_string("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
}

static void test_nesting_up_to_the_limit(void **state) {
    char deep[2 * JSON_READ_MAX_DEPTH + 3];
    for (int d = JSON_READ_MAX_DEPTH; d <= JSON_READ_MAX_DEPTH + 1; d++) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        deep[2 * d] = 0;
        if (d == JSON_READ_MAX_DEPTH) json_read_free(read_ok(deep));
        else refused(deep, "byte 64: nested deeper than 64 levels");
    }
    /* Far deeper than the limit: refused without recursing that deep. */
    size_t n = 100000;
    char *very = malloc(n);
    for (size_t i = 0; i < n; i++) very[i] = i % 2 ? '[' : '{';
    very[0] = '[';
    refused_bytes(very, n, "");
    free(very);
}

static void test_duplicate_keys_keep_the_first(void **state) {
    JsonValue *v = read_ok("{\"a\": 1, \"a\": 2}");
    double x;
    assert_int_equal(v->count, 2);
    assert_true(json_read_number(v, "a", &x) && x == 1);
    json_read_free(v);
}

/* No proper prefix of a document ending in '}' is a document: every truncation is refused. */
static void test_every_truncation_is_refused(void **state) {
    const char *doc = "{\"metric\": \"fd\", \"rows\": [{\"name\": \"FD \\u00e9\\uD83D\\uDE00\", \"value\": -12.5e-1, "
                      "\"ok\": true, \"no\": false, \"nothing\": null}], \"w\": [\"caf\xc3\xa9\"]}";
    json_read_free(read_ok(doc));
    for (size_t n = 0; n < strlen(doc); n++) refused_bytes(doc, n, "");
    refused_bytes(doc, 0, "byte 0: expected a value, found the end of the input");
    refused_bytes(doc, 1, "byte 1: expected a string key in the object opened at byte 0, found the end");
    refused_bytes(doc, 12, "byte 11: unterminated string");
}

static void test_malformed_structure(void **state) {
    refused("", "byte 0: expected a value");
    refused("   ", "byte 3: expected a value, found the end of the input");
    refused("[1 2]", "byte 3: expected ',' or ']' in the array opened at byte 0, found '2'");
    refused("[1,]", "byte 3: trailing comma before ']'");
    refused("{\"a\":1,}", "byte 7: trailing comma before '}'");
    refused("[,1]", "byte 1: expected a value, found ','");
    refused("{,}", "byte 1: expected a string key");
    refused("{\"a\" 1}", "byte 5: expected ':' after the key, found '1'");
    refused("{\"a\":}", "byte 5: expected a value, found '}'");
    refused("{a:1}", "byte 1: expected a string key in the object opened at byte 0, found 'a'");
    refused("{1:1}", "found '1'");
    refused("[1}", "byte 2: expected ',' or ']'");
    refused("{\"a\":1]", "byte 6: expected ',' or '}'");
    refused("]", "byte 0: expected a value, found ']'");
    refused("'a'", "found '''");
    refused("// comment\n1", "found '/'");
    refused("tru", "invalid literal");
    refused("nul", "invalid literal");
    refused("True", "found 'T'");
    refused("fals", "invalid literal");
}

static void test_trailing_garbage(void **state) {
    refused("{} x", "byte 3: 'x' after the end of the JSON value");
    refused("1 2", "byte 2: '2' after the end");
    refused("{}}", "byte 2: '}' after the end");
    refused("[1]]", "byte 3: ']' after the end");
    refused("\"a\"\"b\"", "byte 3: '\"' after the end");
    refused("truex", "byte 4: 'x' after the end");
    refused("0x10", "byte 1: 'x' after the end");
    refused("1.5.2", "byte 3: '.' after the end");
    refused_bytes("{}\0", 3, "byte 2: byte 0x00 after the end");
}

static void test_malformed_numbers(void **state) {
    refused("1e999", "byte 0: number out of the range of a double");
    refused("-1e999", "out of the range");
    refused("[1, 2e400]", "byte 4: number out of the range");
    refused("-", "byte 0: a number needs digits after its '-'");
    refused("-a", "digits after its '-'");
    refused("- 1", "digits after its '-'");
    refused("01", "byte 0: numbers may not have leading zeros");
    refused("-01", "leading zeros");
    refused("00", "leading zeros");
    refused("1.", "byte 2: expected a digit after the decimal point");
    refused("1.e5", "expected a digit after the decimal point");
    refused(".5", "byte 0: expected a value, found '.'");
    refused("+1", "found '+'");
    refused("1e", "byte 2: expected a digit in the exponent");
    refused("1e+", "byte 3: expected a digit in the exponent");
    refused("1E-x", "expected a digit in the exponent");
    refused("Infinity", "found 'I'");
    refused("NaN", "found 'N'");
    refused("-Infinity", "digits after its '-'");
}

static void test_malformed_strings(void **state) {
    refused("\"abc", "byte 0: unterminated string");
    refused("[\"abc]", "byte 1: unterminated string");
    refused("\"a\\", "byte 2: unterminated escape");
    refused("\"\\x\"", "byte 1: '\\' followed by 'x' is no escape");
    refused("\"\\'\"", "is no escape");
    refused("\"\\U0041\"", "is no escape");
    refused_bytes("\"\\\0\"", 4, "followed by byte 0x00 is no escape");
    refused("\"\\u12\"", "byte 1: \\u must be followed by four hex digits");
    refused("\"\\u12", "four hex digits");
    refused("\"\\u12g4\"", "four hex digits");
    refused("\"\\u-123\"", "four hex digits");
    refused("\"\\uD800\"", "byte 1: \\uD800 is a high surrogate not followed by a \\u low one");
    refused("\"\\uD800x\"", "not followed by a \\u low one");
    refused("\"\\uD800\\n\"", "not followed by a \\u low one");
    refused("\"\\uD800\\u0041\"", "\\uD800 is a high surrogate followed by \\u0041, not a low one");
    refused("\"\\uD800\\uD800\"", "not a low one");
    refused("\"\\uDC00\"", "\\uDC00 is a low surrogate without a high one");
    refused("\"a\nb\"", "byte 2: raw control character 0x0a in a string");
    refused("\"\t\"", "raw control character 0x09");
    refused_bytes("\"a\0b\"", 5, "raw control character 0x00");
    /* Invalid UTF-8: a stray continuation, overlong forms, an encoded surrogate, above U+10FFFF,
     * bytes that never occur, and sequences cut short (also by the end of the input). */
    const char *bad[] = {"\"\x80\"",     "\"\xbf\"",         "\"\xc0\xaf\"", "\"\xc1\xbf\"",     "\"\xe0\x80\xaf\"",
                         "\"\xe0\x9f\xbf\"", "\"\xed\xa0\x80\"", "\"\xf0\x80\x80\xaf\"", "\"\xf4\x90\x80\x80\"",
                         "\"\xf5\x80\x80\x80\"", "\"\xfe\"",      "\"\xff\"",     "\"\xe2\x82\"",     "\"\xc3\"",
                         "\"\xf0\x9f\x98\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) refused(bad[i], "byte 1: invalid UTF-8 in a string");
    refused_bytes("\"\xe2\x82", 3, "invalid UTF-8");
    refused("\xc3\xa9", "byte 0: expected a value, found byte 0xc3"); /* outside a string */
}

static void test_the_error_names_where_the_object_opened(void **state) {
    refused("{\"rows\": [{\"name\": \"a\", \"value\": 1 \"std\": 2}]}",
            "byte 35: expected ',' or '}' in the object opened at byte 10, found '\"'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_metrics_line),
        cmocka_unit_test(test_the_eval_schema),
        cmocka_unit_test(test_scalars_and_whitespace),
        cmocka_unit_test(test_string_escapes_become_utf8),
        cmocka_unit_test(test_nesting_up_to_the_limit),
        cmocka_unit_test(test_duplicate_keys_keep_the_first),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_malformed_structure),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_malformed_numbers),
        cmocka_unit_test(test_malformed_strings),
        cmocka_unit_test(test_the_error_names_where_the_object_opened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
