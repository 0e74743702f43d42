/* fuzz_json_read: bytes → the JSON reader, which `tessera eval report` runs on
 * metrics.jsonl lines and the JSON files under eval/ that any program may have written. Beyond
 * crashes and leaks, every accepted document is written back as JSON and read again: the
 * second tree must equal the first, which catches escapes and UTF-8 decoded wrongly. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/buf.h"
#include "../../core/json_read.h"

static void write_string(Buf *b, const char *s, size_t n) {
    buf_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_put_u8(b, c);
    }
    buf_put_u8(b, '"');
}

static void write_value(Buf *b, const JsonValue *v) {
    switch (v->type) {
    case JSON_NULL: buf_printf(b, "null"); break;
    case JSON_BOOL: buf_printf(b, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: buf_printf(b, "%.17g", v->number); break;
    case JSON_STRING: write_string(b, v->string, v->length); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        buf_put_u8(b, v->type == JSON_ARRAY ? '[' : '{');
        for (size_t i = 0; i < v->count; i++) {
            if (i) buf_put_u8(b, ',');
            if (v->type == JSON_OBJECT) {
                write_string(b, v->keys[i], strlen(v->keys[i]));
                buf_put_u8(b, ':');
            }
            write_value(b, &v->items[i]);
        }
        buf_put_u8(b, v->type == JSON_ARRAY ? ']' : '}');
        break;
    }
}

static int same(const JsonValue *a, const JsonValue *b) {
    if (a->type != b->type || a->count != b->count) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER: return a->number == b->number;
    case JSON_STRING: return a->length == b->length && memcmp(a->string, b->string, a->length + 1) == 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
        for (size_t i = 0; i < a->count; i++)
            if ((a->keys && strcmp(a->keys[i], b->keys[i]) != 0) || !same(&a->items[i], &b->items[i])) return 0;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    JsonValue *v = json_read((const char *)data, size, &err);
    if (!v) {
        if (strncmp(err.msg, "byte ", 5) != 0) abort(); /* every error names its offset */
        return 0;
    }
    json_read_member(v, "rows");
    double x;
    json_read_number(v, "value", &x);
    json_read_string(v, "name");
    Buf again = {0};
    write_value(&again, v);
    JsonValue *w = json_read((const char *)again.data, again.len, &err);
    if (!w || !same(v, w)) {
        fprintf(stderr, "written back as %.*s\nit reads %s\n", (int)again.len, (const char *)again.data,
                w ? "as another tree" : err.msg);
        abort();
    }
    json_read_free(w);
    buf_free(&again);
    json_read_free(v);
    return 0;
}
