/* record: encode and validate the 16-byte record header (see record.h). */
#include "record.h"

size_t dtype_size(int dtype) {
    switch (dtype) {
    case DTYPE_U8: return 1;
    case DTYPE_U16: return 2;
    case DTYPE_F16: return 2;
    default: return 0;
    }
}

void record_encode(Buf *out, int32_t label, int height, int width, int channels, Dtype dtype, int flags,
                   const void *payload, size_t payload_bytes) {
    uint8_t header[RECORD_HEADER_BYTES];
    record_encode_header(header, label, height, width, channels, dtype, flags, payload_bytes);
    buf_reserve(out, RECORD_HEADER_BYTES + payload_bytes);
    buf_put(out, header, RECORD_HEADER_BYTES);
    buf_put(out, payload, payload_bytes);
}

void record_encode_header(uint8_t out[RECORD_HEADER_BYTES], int32_t label, int height, int width, int channels,
                          Dtype dtype, int flags, size_t payload_bytes) {
    Buf b = {.data = out, .cap = RECORD_HEADER_BYTES}; /* fits: buf_put never grows it */
    buf_put_u8(&b, RECORD_VERSION);
    buf_put_u8(&b, (uint8_t)dtype);
    buf_put_u8(&b, (uint8_t)channels);
    buf_put_u8(&b, (uint8_t)flags);
    buf_put_u32(&b, (uint32_t)label);
    buf_put_u16(&b, (uint16_t)height);
    buf_put_u16(&b, (uint16_t)width);
    buf_put_u32(&b, (uint32_t)payload_bytes);
}

int record_decode(const void *bytes, size_t n, RecordView *out, Err *err) {
    Reader r = reader_of(bytes, n);
    uint8_t version = rd_u8(&r);
    out->dtype = rd_u8(&r);
    out->channels = rd_u8(&r);
    out->flags = rd_u8(&r);
    out->label = (int32_t)rd_u32(&r);
    out->height = rd_u16(&r);
    out->width = rd_u16(&r);
    out->payload_bytes = rd_u32(&r);
    if (r.bad) return err_set(err, "record of %zu bytes is shorter than its %d-byte header", n, RECORD_HEADER_BYTES);
    if (version != RECORD_VERSION) return err_set(err, "record version %u, expected %d", version, RECORD_VERSION);
    if (!dtype_size(out->dtype)) return err_set(err, "record has unknown dtype %u", out->dtype);
    out->payload = rd_bytes(&r, out->payload_bytes);
    if (!out->payload || r.left != 0)
        return err_set(err, "record payload is %zu bytes, header says %u", n - RECORD_HEADER_BYTES, out->payload_bytes);
    if (!(out->flags & RECORD_FLAG_VARIABLE)) {
        size_t want = (size_t)out->height * out->width * out->channels * dtype_size(out->dtype);
        if (want != out->payload_bytes)
            return err_set(err, "record payload is %u bytes, %ux%ux%u needs %zu", out->payload_bytes, out->height,
                           out->width, out->channels, want);
    }
    if (out->label < -1) return err_set(err, "record has label %d", out->label);
    return 0;
}
