/* test_pool_proto: the messages between a pool's coordinator and its workers
 * (ingest/pool_proto.h).
 *
 * Workers may run on other hosts, so every parser sees bytes it cannot trust. Checked:
 * every message type round-trips through its builder and parser; every cut of a valid
 * TASK, RESULT, HELLO, JOB and READY message (at every byte, each in its own
 * allocation so ASan sees any over-read) fails with a message instead of reading
 * past the end; bad magic, version and type are refused; a pixel item whose byte
 * count disagrees with w×h×c, an unknown item kind and a bad result status are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/buf.h"
#include "../../ingest/pool_proto.h"

static const uint64_t SESSION = 0x1122334455667788ull;

static void parse_header_ok(const Buf *b, MsgType type, uint64_t session, Reader *body) {
    MsgHeader h;
    Err err = {{0}};
    if (msg_parse_header(b->data, b->len, &h, body, &err) != 0) fail_msg("header: %s", err.msg);
    assert_int_equal(h.type, type);
    assert_true(h.session == session);
    assert_int_equal(b->len, POOL_HEADER_BYTES + body->left);
}

static void test_header_only_messages_round_trip(void **state) {
    Buf b = {0};
    for (int type = MSG_HELLO; type <= MSG_STOP; type++) {
        msg_begin(&b, (MsgType)type, SESSION + (uint64_t)type);
        assert_int_equal(b.len, POOL_HEADER_BYTES);
        assert_int_equal(b.data[0], POOL_MAGIC);
        assert_int_equal(b.data[1], POOL_VERSION);
        Reader body;
        parse_header_ok(&b, (MsgType)type, SESSION + (uint64_t)type, &body);
        assert_int_equal(body.left, 0);
    }
    /* msg_begin starts over: a reused buffer holds only the new message. */
    msg_ready(&b, SESSION, 5);
    msg_begin(&b, MSG_HEARTBEAT, 9);
    assert_int_equal(b.len, POOL_HEADER_BYTES);
    buf_free(&b);
}

static void test_hello_round_trips(void **state) {
    Buf b = {0};
    msg_hello(&b, 4242, "worker-host.example");
    Reader body;
    parse_header_ok(&b, MSG_HELLO, 0, &body);
    uint32_t pid;
    char host[64];
    Err err = {{0}};
    assert_int_equal(msg_parse_hello(&body, &pid, host, sizeof host, &err), 0);
    assert_int_equal(pid, 4242);
    assert_string_equal(host, "worker-host.example");
    /* A host name longer than the caller's buffer is cut, and still terminated. */
    parse_header_ok(&b, MSG_HELLO, 0, &body);
    char small[7];
    memset(small, 'x', sizeof small);
    assert_int_equal(msg_parse_hello(&body, &pid, small, sizeof small, &err), 0);
    assert_string_equal(small, "worker");
    /* An empty host. */
    msg_hello(&b, 1, "");
    parse_header_ok(&b, MSG_HELLO, 0, &body);
    assert_int_equal(msg_parse_hello(&body, &pid, host, sizeof host, &err), 0);
    assert_string_equal(host, "");
    buf_free(&b);
}

static void test_job_round_trips(void **state) {
    Buf b = {0};
    const char *options = "size=64\nchannels=3\nresize=area\n";
    msg_job(&b, SESSION, "ingest", options);
    Reader body;
    parse_header_ok(&b, MSG_JOB, SESSION, &body);
    const char *kind, *opts;
    uint32_t kind_n, opts_n;
    Err err = {{0}};
    assert_int_equal(msg_parse_job(&body, &kind, &kind_n, &opts, &opts_n, &err), 0);
    assert_int_equal(kind_n, 6);
    assert_memory_equal(kind, "ingest", 6);
    assert_int_equal(opts_n, strlen(options));
    assert_memory_equal(opts, options, opts_n);
    /* Both point into the message (zero-copy). */
    assert_true((const uint8_t *)kind > b.data && (const uint8_t *)opts + opts_n == b.data + b.len);
    buf_free(&b);
}

static void test_ready_round_trips_and_caps_credits(void **state) {
    Buf b = {0};
    const uint32_t ok[] = {0, 1, 8, 64};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        msg_ready(&b, SESSION, ok[i]);
        Reader body;
        parse_header_ok(&b, MSG_READY, SESSION, &body);
        uint32_t credits = 12345;
        Err err = {{0}};
        assert_int_equal(msg_parse_ready(&body, &credits, &err), 0);
        assert_int_equal(credits, ok[i]);
    }
    const uint32_t too_many[] = {65, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof too_many / sizeof *too_many; i++) {
        msg_ready(&b, SESSION, too_many[i]);
        Reader body;
        parse_header_ok(&b, MSG_READY, SESSION, &body);
        uint32_t credits;
        Err err = {{0}};
        assert_int_equal(msg_parse_ready(&body, &credits, &err), -1);
        assert_non_null(strstr(err.msg, "credits"));
    }
    buf_free(&b);
}

/* A TASK with one item of each kind, including an empty JPEG and a 0-byte error. */
static uint8_t jpeg_bytes[300], pixel_bytes[5 * 7 * 3];
static const char error_text[] = "cannot read member 17 of the tar";

static TaskItem task_items[5];
enum { N_TASK_ITEMS = 5 };

static void build_task(Buf *b) {
    for (size_t i = 0; i < sizeof jpeg_bytes; i++) jpeg_bytes[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof pixel_bytes; i++) pixel_bytes[i] = (uint8_t)(i * 7 + 1);
    task_items[0] = (TaskItem){.kind = INPUT_JPEG, .data = jpeg_bytes, .n = sizeof jpeg_bytes};
    task_items[1] = (TaskItem){.kind = INPUT_PIXELS, .width = 5, .height = 7, .channels = 3, .data = pixel_bytes,
                               .n = sizeof pixel_bytes};
    task_items[2] = (TaskItem){.kind = INPUT_ERROR, .data = (const uint8_t *)error_text, .n = sizeof error_text - 1};
    task_items[3] = (TaskItem){.kind = INPUT_JPEG, .data = jpeg_bytes, .n = 0};
    task_items[4] = (TaskItem){.kind = INPUT_PIXELS, .width = 1, .height = 1, .channels = 1, .data = pixel_bytes, .n = 1};
    msg_batch_begin(b, MSG_TASK, SESSION, 77);
    for (int i = 0; i < N_TASK_ITEMS; i++) msg_task_item(b, &task_items[i]);
    msg_batch_finish(b, N_TASK_ITEMS);
}

static void test_task_round_trips(void **state) {
    Buf b = {0};
    build_task(&b);
    Reader body;
    parse_header_ok(&b, MSG_TASK, SESSION, &body);
    uint64_t batch;
    uint32_t count;
    Err err = {{0}};
    assert_int_equal(msg_parse_batch(&body, &batch, &count, &err), 0);
    assert_true(batch == 77);
    assert_int_equal(count, N_TASK_ITEMS);
    for (uint32_t i = 0; i < count; i++) {
        TaskItem it;
        if (msg_next_task_item(&body, &it, &err) != 0) fail_msg("item %u: %s", i, err.msg);
        assert_int_equal(it.kind, task_items[i].kind);
        assert_int_equal(it.width, task_items[i].width);
        assert_int_equal(it.height, task_items[i].height);
        assert_int_equal(it.channels, task_items[i].channels);
        assert_int_equal(it.n, task_items[i].n);
        if (it.n) assert_memory_equal(it.data, task_items[i].data, it.n);
    }
    assert_int_equal(body.left, 0);
    buf_free(&b);
}

static const char *result_payloads[] = {"\x01\x02\x03 pixels", "corrupt or truncated JPEG (Premature end)", ""};
static const int result_ok[] = {1, 0, 1};
enum { N_RESULT_ITEMS = 3 };

static void build_result(Buf *b) {
    msg_batch_begin(b, MSG_RESULT, SESSION, UINT64_MAX);
    for (int i = 0; i < N_RESULT_ITEMS; i++) msg_result_item(b, result_ok[i], result_payloads[i], strlen(result_payloads[i]));
    msg_batch_finish(b, N_RESULT_ITEMS);
}

static void test_result_round_trips(void **state) {
    Buf b = {0};
    build_result(&b);
    Reader body;
    parse_header_ok(&b, MSG_RESULT, SESSION, &body);
    uint64_t batch;
    uint32_t count;
    Err err = {{0}};
    assert_int_equal(msg_parse_batch(&body, &batch, &count, &err), 0);
    assert_true(batch == UINT64_MAX);
    assert_int_equal(count, N_RESULT_ITEMS);
    for (uint32_t i = 0; i < count; i++) {
        ResultItem it;
        assert_int_equal(msg_next_result_item(&body, &it, &err), 0);
        assert_int_equal(it.ok, result_ok[i]);
        assert_int_equal(it.n, strlen(result_payloads[i]));
        if (it.n) assert_memory_equal(it.data, result_payloads[i], it.n);
    }
    assert_int_equal(body.left, 0);
    buf_free(&b);
}

/* Parses a whole message the way the coordinator and worker do; 0 if every part
 * parsed, -1 (with err set) at the first part that did not. */
static int parse_whole(const uint8_t *data, size_t n, Err *err) {
    MsgHeader h;
    Reader body;
    if (msg_parse_header(data, n, &h, &body, err) != 0) return -1;
    switch (h.type) {
    case MSG_HELLO: {
        uint32_t pid;
        char host[32];
        return msg_parse_hello(&body, &pid, host, sizeof host, err);
    }
    case MSG_JOB: {
        const char *k, *o;
        uint32_t kn, on;
        return msg_parse_job(&body, &k, &kn, &o, &on, err);
    }
    case MSG_READY: {
        uint32_t credits;
        return msg_parse_ready(&body, &credits, err);
    }
    case MSG_TASK:
    case MSG_RESULT: {
        uint64_t batch;
        uint32_t count;
        if (msg_parse_batch(&body, &batch, &count, err) != 0) return -1;
        for (uint32_t i = 0; i < count; i++) {
            TaskItem t;
            ResultItem r;
            int rc = h.type == MSG_TASK ? msg_next_task_item(&body, &t, err) : msg_next_result_item(&body, &r, err);
            if (rc != 0) return -1;
        }
        return 0;
    }
    default: return 0;
    }
}

static void every_cut_fails(const Buf *b, const char *what) {
    Err err = {{0}};
    assert_int_equal(parse_whole(b->data, b->len, &err), 0); /* the whole message parses */
    for (size_t n = 0; n < b->len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: ASan flags any over-read */
        memcpy(copy, b->data, n);
        err.msg[0] = 0;
        int rc = parse_whole(copy, n, &err);
        free(copy);
        if (rc == 0) fail_msg("%s cut to %zu of %zu bytes parsed", what, n, b->len);
        if (!err.msg[0]) fail_msg("%s cut to %zu bytes: no message", what, n);
    }
}

static void test_every_cut_fails_cleanly(void **state) {
    Buf b = {0};
    build_task(&b);
    every_cut_fails(&b, "TASK");
    build_result(&b);
    every_cut_fails(&b, "RESULT");
    msg_hello(&b, 99, "host");
    every_cut_fails(&b, "HELLO");
    msg_job(&b, SESSION, "ingest", "size=64\n");
    every_cut_fails(&b, "JOB");
    msg_ready(&b, SESSION, 4);
    every_cut_fails(&b, "READY");
    buf_free(&b);
}

static void test_bad_magic_version_type_are_refused(void **state) {
    Buf b = {0};
    msg_ready(&b, SESSION, 4);
    MsgHeader h;
    Reader body;
    Err err = {{0}};
    for (int magic = 0; magic < 256; magic++) {
        if (magic == POOL_MAGIC) continue;
        b.data[0] = (uint8_t)magic;
        assert_int_equal(msg_parse_header(b.data, b.len, &h, &body, &err), -1);
        assert_non_null(strstr(err.msg, "magic"));
    }
    b.data[0] = POOL_MAGIC;
    const int versions[] = {0, POOL_VERSION + 1, 255};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        b.data[1] = (uint8_t)versions[i];
        assert_int_equal(msg_parse_header(b.data, b.len, &h, &body, &err), -1);
        assert_non_null(strstr(err.msg, "version"));
    }
    b.data[1] = POOL_VERSION;
    const int types[] = {0, MSG_STOP + 1, 100, 255};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        b.data[2] = (uint8_t)types[i];
        assert_int_equal(msg_parse_header(b.data, b.len, &h, &body, &err), -1);
        assert_non_null(strstr(err.msg, "type"));
    }
    buf_free(&b);
}

/* One TASK item, built by hand so any field can be wrong. */
static void one_item_task(Buf *b, uint8_t kind, uint16_t w, uint16_t h, uint8_t c, const uint8_t *data, uint32_t n) {
    msg_batch_begin(b, MSG_TASK, SESSION, 1);
    TaskItem it = {.kind = kind, .width = w, .height = h, .channels = c, .data = data, .n = n};
    msg_task_item(b, &it);
    msg_batch_finish(b, 1);
}

static int parse_one_task_item(const Buf *b, TaskItem *it, Err *err) {
    MsgHeader h;
    Reader body;
    uint64_t batch;
    uint32_t count;
    assert_int_equal(msg_parse_header(b->data, b->len, &h, &body, err), 0);
    assert_int_equal(msg_parse_batch(&body, &batch, &count, err), 0);
    return msg_next_task_item(&body, it, err);
}

static void test_bad_items_are_refused(void **state) {
    Buf b = {0};
    uint8_t px[4 * 4 * 3 + 1] = {0};
    TaskItem it;
    Err err = {{0}};
    /* Pixel items whose byte count disagrees with w×h×c. */
    static const struct {
        uint16_t w, h;
        uint8_t c;
        uint32_t n;
    } bad[] = {{4, 4, 3, 47}, {4, 4, 3, 49}, {4, 4, 1, 48}, {4, 3, 3, 48}, {0, 4, 3, 48}, {4, 4, 3, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        one_item_task(&b, INPUT_PIXELS, bad[i].w, bad[i].h, bad[i].c, px, bad[i].n);
        assert_int_equal(parse_one_task_item(&b, &it, &err), -1);
        assert_non_null(strstr(err.msg, "carries"));
    }
    one_item_task(&b, INPUT_PIXELS, 4, 4, 3, px, 48); /* the consistent one parses */
    assert_int_equal(parse_one_task_item(&b, &it, &err), 0);
    /* A token grid: width × height codes of 2 bytes (channels = 2), checked the same way. */
    one_item_task(&b, INPUT_TOKENS, 2, 3, 2, px, 12);
    assert_int_equal(parse_one_task_item(&b, &it, &err), 0);
    one_item_task(&b, INPUT_TOKENS, 2, 3, 2, px, 11);
    assert_int_equal(parse_one_task_item(&b, &it, &err), -1);
    assert_non_null(strstr(err.msg, "carries"));
    /* Unknown item kinds. */
    const uint8_t kinds[] = {0, INPUT_TOKENS + 1, 255};
    for (size_t i = 0; i < sizeof kinds; i++) {
        one_item_task(&b, kinds[i], 0, 0, 0, px, 3);
        assert_int_equal(parse_one_task_item(&b, &it, &err), -1);
        assert_non_null(strstr(err.msg, "kind"));
    }
    /* An item that claims more bytes than the message holds. */
    one_item_task(&b, INPUT_JPEG, 0, 0, 0, px, 10);
    const size_t n_at = POOL_HEADER_BYTES + 8 + 4 + 6; /* kind, w, h, c, then n */
    for (int k = 0; k < 4; k++) b.data[n_at + k] = 0xFF;
    assert_int_equal(parse_one_task_item(&b, &it, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    /* A result status other than 0 or 1. */
    msg_batch_begin(&b, MSG_RESULT, SESSION, 1);
    msg_result_item(&b, 1, "abc", 3);
    msg_batch_finish(&b, 1);
    b.data[POOL_HEADER_BYTES + 12] = 2;
    MsgHeader h;
    Reader body;
    uint64_t batch;
    uint32_t count;
    ResultItem r;
    assert_int_equal(msg_parse_header(b.data, b.len, &h, &body, &err), 0);
    assert_int_equal(msg_parse_batch(&body, &batch, &count, &err), 0);
    assert_int_equal(msg_next_result_item(&body, &r, &err), -1);
    assert_non_null(strstr(err.msg, "status"));
    /* A count larger than the items present: the missing item is an error. */
    build_result(&b);
    msg_batch_finish(&b, N_RESULT_ITEMS + 1);
    assert_int_equal(parse_whole(b.data, b.len, &err), -1);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_only_messages_round_trip),
        cmocka_unit_test(test_hello_round_trips),
        cmocka_unit_test(test_job_round_trips),
        cmocka_unit_test(test_ready_round_trips_and_caps_credits),
        cmocka_unit_test(test_task_round_trips),
        cmocka_unit_test(test_result_round_trips),
        cmocka_unit_test(test_every_cut_fails_cleanly),
        cmocka_unit_test(test_bad_magic_version_type_are_refused),
        cmocka_unit_test(test_bad_items_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
