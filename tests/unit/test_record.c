/* test_record: the byte layout of one stored record (store/record.h).
 *
 * Records outlive the code that wrote them, so the 16-byte header is pinned byte by
 * byte (the layout tools/tessera_store.py reads: "<BBBBiHHI"), every dtype and the
 * VARIABLE flag round-trip, and every way a header can be wrong (too short, unknown
 * version or dtype, payload length disagreeing with the bytes or with h×w×c, label
 * below -1) is an error, never a view past the end of the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/buf.h"
#include "../../store/record.h"

static void fill(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed);
}

/* Encodes, decodes and checks every field; returns the encoded bytes in out. */
static void round_trip(Buf *out, int32_t label, int h, int w, int c, Dtype dtype, int flags, size_t payload_bytes) {
    uint8_t *payload = malloc(payload_bytes ? payload_bytes : 1);
    fill(payload, payload_bytes, (unsigned)label);
    buf_clear(out);
    record_encode(out, label, h, w, c, dtype, flags, payload, payload_bytes);
    assert_int_equal(out->len, RECORD_HEADER_BYTES + payload_bytes);

    RecordView v;
    Err err = {{0}};
    if (record_decode(out->data, out->len, &v, &err) != 0) fail_msg("decode: %s", err.msg);
    assert_int_equal(v.label, label);
    assert_int_equal(v.height, h);
    assert_int_equal(v.width, w);
    assert_int_equal(v.channels, c);
    assert_int_equal(v.dtype, dtype);
    assert_int_equal(v.flags, flags);
    assert_int_equal(v.payload_bytes, payload_bytes);
    assert_ptr_equal(v.payload, out->data + RECORD_HEADER_BYTES); /* zero-copy */
    if (payload_bytes) assert_memory_equal(v.payload, payload, payload_bytes);
    free(payload);
}

static void test_dtype_size(void **state) {
    assert_int_equal(dtype_size(DTYPE_U8), 1);
    assert_int_equal(dtype_size(DTYPE_U16), 2);
    assert_int_equal(dtype_size(DTYPE_F16), 2);
    assert_int_equal(dtype_size(0), 0);
    assert_int_equal(dtype_size(4), 0);
    assert_int_equal(dtype_size(255), 0);
    assert_int_equal(dtype_size(-1), 0);
}

static void test_header_layout_is_pinned(void **state) {
    Buf b = {0};
    uint8_t payload[2 * 3 * 1 * 2];
    fill(payload, sizeof payload, 0);
    record_encode(&b, 0x01020304, 2, 3, 1, DTYPE_U16, 0, payload, sizeof payload);
    const uint8_t want[RECORD_HEADER_BYTES] = {
        1,                      /* version */
        DTYPE_U16,              /* dtype */
        1,                      /* channels */
        0,                      /* flags */
        0x04, 0x03, 0x02, 0x01, /* label, int32 LE */
        2, 0,                   /* height, u16 LE */
        3, 0,                   /* width */
        12, 0, 0, 0,            /* payload bytes, u32 LE */
    };
    assert_int_equal(b.len, RECORD_HEADER_BYTES + sizeof payload);
    assert_memory_equal(b.data, want, RECORD_HEADER_BYTES);
    assert_memory_equal(b.data + RECORD_HEADER_BYTES, payload, sizeof payload);
    /* -1 (unlabelled) is stored as 0xFFFFFFFF. */
    buf_clear(&b);
    record_encode(&b, -1, 1, 1, 1, DTYPE_U8, 0, "x", 1);
    assert_memory_equal(b.data + 4, "\xFF\xFF\xFF\xFF", 4);
    buf_free(&b);
}

static void test_round_trips(void **state) {
    Buf b = {0};
    round_trip(&b, 0, 64, 64, 3, DTYPE_U8, 0, 64 * 64 * 3);
    round_trip(&b, -1, 28, 28, 1, DTYPE_U8, 0, 28 * 28);
    round_trip(&b, 999, 1, 1, 1, DTYPE_U8, 0, 1);
    round_trip(&b, INT32_MAX, 7, 5, 3, DTYPE_U8, 0, 7 * 5 * 3);
    round_trip(&b, 3, 16, 16, 1, DTYPE_U16, 0, 16 * 16 * 2); /* token grid */
    round_trip(&b, 4, 8, 8, 32, DTYPE_F16, 0, 8 * 8 * 32 * 2); /* features */
    round_trip(&b, 5, 0, 0, 0, DTYPE_U8, 0, 0);                /* empty, and consistent */
    /* VARIABLE: the payload length is whatever it is. */
    round_trip(&b, 6, 16, 16, 1, DTYPE_U16, RECORD_FLAG_VARIABLE, 37 * 2);
    round_trip(&b, 7, 16, 16, 1, DTYPE_U16, RECORD_FLAG_VARIABLE, 0);
    round_trip(&b, -1, 65535, 65535, 255, DTYPE_U8, RECORD_FLAG_VARIABLE, 3);
    round_trip(&b, 8, 2, 2, 3, DTYPE_F16, RECORD_FLAG_VARIABLE, 1000);
    buf_free(&b);
}

/* Decoding must fail, with a message containing word. */
static void expect_error(const void *bytes, size_t n, const char *word, const char *what) {
    RecordView v;
    Err err = {{0}};
    if (record_decode(bytes, n, &v, &err) == 0) fail_msg("%s: decoded", what);
    if (!strstr(err.msg, word)) fail_msg("%s: message \"%s\" lacks \"%s\"", what, err.msg, word);
}

static void test_short_records_are_errors(void **state) {
    Buf b = {0};
    uint8_t px[4 * 4 * 3];
    fill(px, sizeof px, 1);
    record_encode(&b, 1, 4, 4, 3, DTYPE_U8, 0, px, sizeof px);
    /* Every prefix is an error: inside the header it is too short, after it the payload
     * is shorter than the header says. Each is copied to its own allocation so ASan sees
     * any read past it. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        char what[32];
        snprintf(what, sizeof what, "first %zu bytes", n);
        expect_error(copy, n, n < RECORD_HEADER_BYTES ? "shorter" : "payload", what);
        free(copy);
    }
    expect_error(NULL, 0, "shorter", "no bytes at all");
    buf_free(&b);
}

static void test_corrupt_headers_are_errors(void **state) {
    Buf good = {0};
    uint8_t px[3 * 5 * 3];
    fill(px, sizeof px, 2);
    record_encode(&good, 2, 3, 5, 3, DTYPE_U8, 0, px, sizeof px);
    uint8_t *b = malloc(good.len + 8);

#define RESET() memcpy(b, good.data, good.len)
    for (int version = 0; version < 256; version++) {
        if (version == RECORD_VERSION) continue;
        RESET();
        b[0] = (uint8_t)version;
        expect_error(b, good.len, "version", "bad version");
    }
    for (int dtype = 0; dtype < 256; dtype++) {
        if (dtype_size(dtype)) continue;
        RESET();
        b[1] = (uint8_t)dtype;
        expect_error(b, good.len, "dtype", "bad dtype");
    }
    /* The payload length field disagrees with the bytes that follow: too big (would read
     * past the end), too small (trailing bytes). */
    const uint32_t lengths[] = {sizeof px + 1, sizeof px + 1000, UINT32_MAX, sizeof px - 1, 0};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        RESET();
        for (int k = 0; k < 4; k++) b[12 + k] = (uint8_t)(lengths[i] >> (8 * k));
        expect_error(b, good.len, "payload", "payload length field");
    }
    /* Trailing bytes after a consistent record. */
    RESET();
    memset(b + good.len, 0, 8);
    expect_error(b, good.len + 8, "payload", "trailing bytes");
    /* Without VARIABLE the payload must be exactly h×w×c×dtype size: change each of h, w,
     * c and dtype (to a wider one) and the record no longer adds up. */
    RESET();
    b[8] = 4; /* height 3 -> 4 */
    expect_error(b, good.len, "needs", "height");
    RESET();
    b[10] = 6; /* width 5 -> 6 */
    expect_error(b, good.len, "needs", "width");
    RESET();
    b[2] = 1; /* channels 3 -> 1 */
    expect_error(b, good.len, "needs", "channels");
    RESET();
    b[1] = DTYPE_U16;
    expect_error(b, good.len, "needs", "dtype width");
    /* ... and setting VARIABLE makes the same bytes acceptable. */
    b[3] = RECORD_FLAG_VARIABLE;
    RecordView v;
    Err err = {{0}};
    assert_int_equal(record_decode(b, good.len, &v, &err), 0);
    /* Labels below -1. */
    const int32_t labels[] = {-2, -100, INT32_MIN};
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
        RESET();
        for (int k = 0; k < 4; k++) b[4 + k] = (uint8_t)((uint32_t)labels[i] >> (8 * k));
        expect_error(b, good.len, "label", "label < -1");
    }
#undef RESET
    free(b);
    buf_free(&good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_size),
        cmocka_unit_test(test_header_layout_is_pinned),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_short_records_are_errors),
        cmocka_unit_test(test_corrupt_headers_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
