/* json_read: reading JSON (RFC 8259) from untrusted bytes into a tree of values.
 *
 * The reader is strict, so that what it accepts is what every other JSON reader accepts:
 * no trailing commas, comments, NaN, leading zeros or leading '+'; strings must be valid
 * UTF-8 without raw control characters; \uXXXX escapes (with surrogate pairs) become
 * UTF-8; a number that overflows a double (1e999) is refused rather than read as
 * infinity. Nesting is limited to JSON_READ_MAX_DEPTH, so hostile input cannot exhaust
 * the stack. Errors name the byte offset (from 0) where reading stopped. */
#ifndef TESSERA_JSON_READ_H
#define TESSERA_JSON_READ_H

#include <stddef.h>

#include "err.h"

enum { JSON_READ_MAX_DEPTH = 64 };

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    int boolean;   /* JSON_BOOL */
    double number; /* JSON_NUMBER: always finite */
    /* JSON_STRING: UTF-8 with a terminating NUL. length excludes that NUL and counts any
     * escaped \u0000 inside, which C string functions would stop at. */
    char *string;
    size_t length;
    /* JSON_ARRAY and JSON_OBJECT: count items, in document order. For objects keys[i]
     * names items[i]; duplicate keys are kept (json_read_member finds the first). */
    size_t count;
    struct JsonValue *items;
    char **keys;
} JsonValue;

/* Reads exactly one JSON value from text[0..len) (no NUL terminator needed); only
 * whitespace may follow it. Returns the malloc'd tree, or NULL with err set to
 * "byte N: what is wrong". */
JsonValue *json_read(const char *text, size_t len, Err *err);
void json_read_free(JsonValue *v);

/* The value of key in an object, or NULL when v is not an object or has no such key. */
const JsonValue *json_read_member(const JsonValue *v, const char *key);
/* The member's string, or NULL when it is missing or not a string. */
const char *json_read_string(const JsonValue *v, const char *key);
/* 1 and *out set when the member is a number, else 0. */
int json_read_number(const JsonValue *v, const char *key, double *out);

const char *json_read_type_name(JsonType type);

#endif
