/* pool_proto: encoding and bounds-checked parsing of pool messages (see pool_proto.h). */
#include "pool_proto.h"

#include <string.h>

void msg_begin(Buf *b, MsgType type, uint64_t session) {
    buf_clear(b);
    buf_put_u8(b, POOL_MAGIC);
    buf_put_u8(b, POOL_VERSION);
    buf_put_u8(b, (uint8_t)type);
    buf_put_u8(b, 0);
    buf_put_u64(b, session);
}

int msg_parse_header(const uint8_t *data, size_t n, MsgHeader *out, Reader *body, Err *err) {
    Reader r = reader_of(data, n);
    uint8_t magic = rd_u8(&r), version = rd_u8(&r);
    out->type = rd_u8(&r);
    rd_u8(&r);
    out->session = rd_u64(&r);
    if (r.bad) return err_set(err, "pool message of %zu bytes is shorter than its header", n);
    if (magic != POOL_MAGIC) return err_set(err, "not a Tessera pool message (magic 0x%02x)", magic);
    if (version != POOL_VERSION)
        return err_set(err, "pool protocol version %u, this tessera speaks %d: run the same tessera version on every host",
                       version, POOL_VERSION);
    if (out->type < MSG_HELLO || out->type > MSG_STOP) return err_set(err, "unknown pool message type %u", out->type);
    *body = r;
    return 0;
}

void msg_hello(Buf *b, uint32_t pid, const char *host) {
    msg_begin(b, MSG_HELLO, 0);
    buf_put_u32(b, pid);
    buf_put_str(b, host);
}

static const char *rd_str(Reader *r, uint32_t *n) {
    *n = rd_u32(r);
    return (const char *)rd_bytes(r, *n);
}

int msg_parse_hello(Reader *body, uint32_t *pid, char *host, size_t host_cap, Err *err) {
    *pid = rd_u32(body);
    uint32_t n;
    const char *h = rd_str(body, &n);
    if (body->bad || host_cap == 0) return err_set(err, "truncated HELLO message");
    size_t k = n < host_cap - 1 ? n : host_cap - 1;
    memcpy(host, h, k);
    host[k] = 0;
    return 0;
}

void msg_job(Buf *b, uint64_t session, const char *kind, const char *options) {
    msg_begin(b, MSG_JOB, session);
    buf_put_str(b, kind);
    buf_put_str(b, options);
}

int msg_parse_job(Reader *body, const char **kind, uint32_t *kind_n, const char **options, uint32_t *options_n,
                  Err *err) {
    *kind = rd_str(body, kind_n);
    *options = rd_str(body, options_n);
    if (body->bad) return err_set(err, "truncated JOB message");
    return 0;
}

void msg_ready(Buf *b, uint64_t session, uint32_t credits) {
    msg_begin(b, MSG_READY, session);
    buf_put_u32(b, credits);
}

int msg_parse_ready(Reader *body, uint32_t *credits, Err *err) {
    *credits = rd_u32(body);
    if (body->bad) return err_set(err, "truncated READY message");
    if (*credits > 64) return err_set(err, "READY message asks for %u credits (at most 64)", *credits);
    return 0;
}

void msg_batch_begin(Buf *b, MsgType type, uint64_t session, uint64_t batch) {
    msg_begin(b, type, session);
    buf_put_u64(b, batch);
    buf_put_u32(b, 0); /* count, patched by msg_batch_finish */
}

void msg_batch_finish(Buf *b, uint32_t count) {
    uint8_t *p = b->data + POOL_HEADER_BYTES + 8;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(count >> (8 * i));
}

void msg_task_item(Buf *b, const TaskItem *item) {
    buf_put_u8(b, item->kind);
    buf_put_u16(b, item->width);
    buf_put_u16(b, item->height);
    buf_put_u8(b, item->channels);
    buf_put_u32(b, item->n);
    buf_put(b, item->data, item->n);
}

void msg_result_item(Buf *b, int ok, const void *data, size_t n) {
    buf_put_u8(b, ok ? 1 : 0);
    buf_put_u32(b, (uint32_t)n);
    buf_put(b, data, n);
}

void msg_result_item_patch_length(Buf *b, size_t at) {
    size_t n = b->len - at - 5;
    for (int i = 0; i < 4; i++) b->data[at + 1 + i] = (uint8_t)(n >> (8 * i));
}

int msg_parse_batch(Reader *body, uint64_t *batch, uint32_t *count, Err *err) {
    *batch = rd_u64(body);
    *count = rd_u32(body);
    if (body->bad) return err_set(err, "truncated batch message");
    return 0;
}

int msg_next_task_item(Reader *body, TaskItem *out, Err *err) {
    out->kind = rd_u8(body);
    out->width = rd_u16(body);
    out->height = rd_u16(body);
    out->channels = rd_u8(body);
    out->n = rd_u32(body);
    out->data = rd_bytes(body, out->n);
    if (body->bad) return err_set(err, "truncated task item");
    if (out->kind < INPUT_JPEG || out->kind > INPUT_TOKENS) return err_set(err, "unknown task item kind %u", out->kind);
    if (out->kind == INPUT_FILE && (out->n == 0 || out->n > INPUT_PATH_MAX))
        return err_set(err, "task item path of %u bytes", out->n);
    if ((out->kind == INPUT_PIXELS || out->kind == INPUT_TOKENS) && (size_t)out->width * out->height * out->channels != out->n)
        return err_set(err, "task item of %ux%ux%u pixels carries %u bytes", out->width, out->height, out->channels,
                       out->n);
    return 0;
}

int msg_next_result_item(Reader *body, ResultItem *out, Err *err) {
    out->ok = rd_u8(body);
    out->n = rd_u32(body);
    out->data = rd_bytes(body, out->n);
    if (body->bad) return err_set(err, "truncated result item");
    if (out->ok > 1) return err_set(err, "bad result status %u", out->ok);
    return 0;
}
