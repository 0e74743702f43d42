/* json_read: a strict recursive-descent JSON reader (see json_read.h). */
#include "json_read.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

typedef struct {
    const unsigned char *p;
    size_t len, at;
    Err *err;
} Parser;

static int fail(Parser *ps, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Parser *ps, size_t at, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(ps->err, "byte %zu: %s", at, what);
}

/* A byte as a message can show it, even in binary garbage. */
static const char *describe_byte(unsigned char c, char out[32]) {
    if (c > 0x20 && c < 0x7f) snprintf(out, 32, "'%c'", c);
    else snprintf(out, 32, "byte 0x%02x", c);
    return out;
}

/* What was found instead of what was expected. */
static const char *found(const Parser *ps, char out[32]) {
    return ps->at >= ps->len ? "the end of the input" : describe_byte(ps->p[ps->at], out);
}

static int is_digit(const Parser *ps) { return ps->at < ps->len && ps->p[ps->at] >= '0' && ps->p[ps->at] <= '9'; }

static void skip_digits(Parser *ps) {
    while (is_digit(ps)) ps->at++;
}

static void skip_whitespace(Parser *ps) {
    while (ps->at < ps->len) {
        unsigned char c = ps->p[ps->at];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        ps->at++;
    }
}

static int parse_value(Parser *ps, JsonValue *out, int depth);

/* The length of the valid UTF-8 sequence at s (Unicode table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_sequence_length(const unsigned char *s, size_t left) {
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        if (s[0] == 0xE0) lo = 0xA0;
        if (s[0] == 0xED) hi = 0x9F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        if (s[0] == 0xF0) lo = 0x90;
        if (s[0] == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (left < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

static void put_utf8(Buf *b, uint32_t code) {
    if (code < 0x80) {
        buf_put_u8(b, (uint8_t)code);
    } else if (code < 0x800) {
        buf_put_u8(b, (uint8_t)(0xC0 | code >> 6));
        buf_put_u8(b, (uint8_t)(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
        buf_put_u8(b, (uint8_t)(0xE0 | code >> 12));
        buf_put_u8(b, (uint8_t)(0x80 | (code >> 6 & 0x3F)));
        buf_put_u8(b, (uint8_t)(0x80 | (code & 0x3F)));
    } else {
        buf_put_u8(b, (uint8_t)(0xF0 | code >> 18));
        buf_put_u8(b, (uint8_t)(0x80 | (code >> 12 & 0x3F)));
        buf_put_u8(b, (uint8_t)(0x80 | (code >> 6 & 0x3F)));
        buf_put_u8(b, (uint8_t)(0x80 | (code & 0x3F)));
    }
}

/* The four hex digits of the \u escape whose backslash is at ps->at. */
static int read_u_escape(Parser *ps, uint32_t *out) {
    size_t at = ps->at;
    if (ps->len - at < 6) return fail(ps, at, "\\u must be followed by four hex digits");
    uint32_t v = 0;
    for (size_t i = at + 2; i < at + 6; i++) {
        unsigned char c = ps->p[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0) return fail(ps, at, "\\u must be followed by four hex digits");
        v = v << 4 | (uint32_t)digit;
    }
    ps->at = at + 6;
    *out = v;
    return 0;
}

/* One escape sequence starting at the backslash; \uXXXX (and a surrogate pair) as UTF-8. */
static int parse_escape(Parser *ps, Buf *b) {
    size_t at = ps->at;
    if (at + 1 >= ps->len) return fail(ps, at, "unterminated escape at the end of the input");
    static const char LETTERS[] = "\"\\/bfnrt", MEANINGS[] = "\"\\/\b\f\n\r\t";
    const char *letter = ps->p[at + 1] ? strchr(LETTERS, ps->p[at + 1]) : NULL;
    if (letter) {
        buf_put_u8(b, (uint8_t)MEANINGS[letter - LETTERS]);
        ps->at += 2;
        return 0;
    }
    if (ps->p[at + 1] != 'u') {
        char what[32];
        return fail(ps, at, "'\\' followed by %s is no escape (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                    describe_byte(ps->p[at + 1], what));
    }
    uint32_t code;
    if (read_u_escape(ps, &code) != 0) return -1;
    if (code >= 0xDC00 && code <= 0xDFFF) return fail(ps, at, "\\u%04X is a low surrogate without a high one", code);
    if (code >= 0xD800 && code <= 0xDBFF) {
        uint32_t low;
        if (ps->len - ps->at < 6 || ps->p[ps->at] != '\\' || ps->p[ps->at + 1] != 'u')
            return fail(ps, at, "\\u%04X is a high surrogate not followed by a \\u low one", code);
        if (read_u_escape(ps, &low) != 0) return -1;
        if (low < 0xDC00 || low > 0xDFFF)
            return fail(ps, at, "\\u%04X is a high surrogate followed by \\u%04X, not a low one", code, low);
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    put_utf8(b, code);
    return 0;
}

/* A string starting at its opening quote, into a malloc'd NUL-terminated copy. */
static int parse_string(Parser *ps, char **out, size_t *length) {
    size_t start = ps->at++;
    Buf b = {0};
    int rc = 0;
    for (;;) {
        if (ps->at >= ps->len) {
            rc = fail(ps, start, "unterminated string");
            break;
        }
        unsigned char c = ps->p[ps->at];
        if (c == '"') {
            ps->at++;
            break;
        }
        if (c < 0x20) {
            rc = fail(ps, ps->at, "raw control character 0x%02x in a string (it must be escaped)", c);
            break;
        }
        if (c == '\\') {
            if ((rc = parse_escape(ps, &b)) != 0) break;
            continue;
        }
        size_t n = c < 0x80 ? 1 : utf8_sequence_length(ps->p + ps->at, ps->len - ps->at);
        if (n == 0) {
            rc = fail(ps, ps->at, "invalid UTF-8 in a string");
            break;
        }
        buf_put(&b, ps->p + ps->at, n);
        ps->at += n;
    }
    if (rc != 0) {
        buf_free(&b);
        return rc;
    }
    buf_put_u8(&b, 0);
    *out = (char *)b.data;
    *length = b.len - 1;
    return 0;
}

/* RFC 8259's grammar first (strtod alone would take "01", "+1", ".5", "0x10", "inf"),
 * then strtod on a NUL-terminated copy of exactly those bytes. */
static int parse_number(Parser *ps, JsonValue *out) {
    size_t start = ps->at;
    if (ps->p[ps->at] == '-') ps->at++;
    if (!is_digit(ps)) return fail(ps, start, "a number needs digits after its '-'");
    if (ps->p[ps->at] == '0') {
        ps->at++;
        if (is_digit(ps)) return fail(ps, start, "numbers may not have leading zeros");
    } else {
        skip_digits(ps);
    }
    if (ps->at < ps->len && ps->p[ps->at] == '.') {
        ps->at++;
        if (!is_digit(ps)) return fail(ps, ps->at, "expected a digit after the decimal point");
        skip_digits(ps);
    }
    if (ps->at < ps->len && (ps->p[ps->at] == 'e' || ps->p[ps->at] == 'E')) {
        ps->at++;
        if (ps->at < ps->len && (ps->p[ps->at] == '+' || ps->p[ps->at] == '-')) ps->at++;
        if (!is_digit(ps)) return fail(ps, ps->at, "expected a digit in the exponent");
        skip_digits(ps);
    }
    size_t n = ps->at - start;
    char small[64];
    char *copy = n < sizeof small ? small : xmalloc(n + 1);
    memcpy(copy, ps->p + start, n);
    copy[n] = 0;
    double v = strtod(copy, NULL);
    if (copy != small) free(copy);
    if (!isfinite(v)) return fail(ps, start, "number out of the range of a double");
    out->type = JSON_NUMBER;
    out->number = v;
    return 0;
}

static int parse_literal(Parser *ps, JsonValue *out) {
    static const struct {
        const char *word;
        JsonType type;
        int boolean;
    } LITERALS[] = {{"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof LITERALS / sizeof LITERALS[0]; i++) {
        size_t n = strlen(LITERALS[i].word);
        if (ps->len - ps->at >= n && memcmp(ps->p + ps->at, LITERALS[i].word, n) == 0) {
            ps->at += n;
            out->type = LITERALS[i].type;
            out->boolean = LITERALS[i].boolean;
            return 0;
        }
    }
    return fail(ps, ps->at, "invalid literal (JSON has true, false and null)");
}

/* Room for one more item (and key); every slot below count is always initialised, so a
 * tree abandoned half-way through can be freed. */
static void grow(JsonValue *v, size_t *cap) {
    if (v->count < *cap) return;
    *cap = *cap ? 2 * *cap : 4;
    v->items = xrealloc(v->items, *cap * sizeof *v->items);
    if (v->type == JSON_OBJECT) v->keys = xrealloc(v->keys, *cap * sizeof *v->keys);
}

/* An object's "key": up to and including the colon. */
static int parse_key(Parser *ps, char **key, size_t object_start) {
    char what[32];
    size_t length;
    if (ps->at >= ps->len || ps->p[ps->at] != '"')
        return fail(ps, ps->at, "expected a string key in the object opened at byte %zu, found %s", object_start,
                    found(ps, what));
    if (parse_string(ps, key, &length) != 0) return -1;
    skip_whitespace(ps);
    if (ps->at >= ps->len || ps->p[ps->at] != ':')
        return fail(ps, ps->at, "expected ':' after the key, found %s", found(ps, what));
    ps->at++;
    return 0;
}

/* An array or object starting at its opening bracket. */
static int parse_container(Parser *ps, JsonValue *out, int depth) {
    size_t start = ps->at;
    int object = ps->p[start] == '{';
    char close = object ? '}' : ']', what[32];
    const char *name = object ? "object" : "array";
    if (depth >= JSON_READ_MAX_DEPTH) return fail(ps, start, "nested deeper than %d levels", JSON_READ_MAX_DEPTH);
    out->type = object ? JSON_OBJECT : JSON_ARRAY;
    size_t cap = 0;
    ps->at++;
    skip_whitespace(ps);
    if (ps->at < ps->len && ps->p[ps->at] == close) {
        ps->at++;
        return 0;
    }
    for (;;) {
        skip_whitespace(ps);
        if (ps->at < ps->len && ps->p[ps->at] == close) return fail(ps, ps->at, "trailing comma before '%c'", close);
        grow(out, &cap);
        JsonValue *item = &out->items[out->count];
        memset(item, 0, sizeof *item);
        if (object) out->keys[out->count] = NULL;
        out->count++;
        if (object && parse_key(ps, &out->keys[out->count - 1], start) != 0) return -1;
        if (parse_value(ps, item, depth + 1) != 0) return -1;
        skip_whitespace(ps);
        if (ps->at < ps->len && ps->p[ps->at] == ',') {
            ps->at++;
        } else if (ps->at < ps->len && ps->p[ps->at] == close) {
            ps->at++;
            return 0;
        } else {
            return fail(ps, ps->at, "expected ',' or '%c' in the %s opened at byte %zu, found %s", close, name, start,
                        found(ps, what));
        }
    }
}

static int parse_value(Parser *ps, JsonValue *out, int depth) {
    char what[32];
    skip_whitespace(ps);
    if (ps->at >= ps->len) return fail(ps, ps->at, "expected a value, found the end of the input");
    unsigned char c = ps->p[ps->at];
    if (c == '{' || c == '[') return parse_container(ps, out, depth);
    if (c == '"') {
        out->type = JSON_STRING;
        return parse_string(ps, &out->string, &out->length);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, out);
    if (c == 't' || c == 'f' || c == 'n') return parse_literal(ps, out);
    return fail(ps, ps->at, "expected a value, found %s", found(ps, what));
}

JsonValue *json_read(const char *text, size_t len, Err *err) {
    Parser ps = {(const unsigned char *)text, len, 0, err};
    JsonValue *root = xcalloc(1, sizeof *root);
    int rc = parse_value(&ps, root, 0);
    if (rc == 0) {
        skip_whitespace(&ps);
        char what[32];
        if (ps.at < len) rc = fail(&ps, ps.at, "%s after the end of the JSON value", found(&ps, what));
    }
    if (rc != 0) {
        json_read_free(root);
        return NULL;
    }
    return root;
}

static void free_contents(JsonValue *v) {
    free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        free_contents(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void json_read_free(JsonValue *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const JsonValue *json_read_member(const JsonValue *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

const char *json_read_string(const JsonValue *v, const char *key) {
    const JsonValue *m = json_read_member(v, key);
    return m && m->type == JSON_STRING ? m->string : NULL;
}

int json_read_number(const JsonValue *v, const char *key, double *out) {
    const JsonValue *m = json_read_member(v, key);
    if (!m || m->type != JSON_NUMBER) return 0;
    *out = m->number;
    return 1;
}

const char *json_read_type_name(JsonType type) {
    switch (type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}
