/* record: the byte layout of one stored record (docs/FORMAT.md, "Records").
 *
 * A record is a 16-byte little-endian header followed by the payload: pixels (uint8
 * H×W×C) now; uint16 token grids, variable-length codes and float16 features later
 * use the same header with another dtype or the VARIABLE flag. */
#ifndef TESSERA_RECORD_H
#define TESSERA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"

enum { RECORD_HEADER_BYTES = 16, RECORD_VERSION = 1 };

typedef enum { DTYPE_U8 = 1, DTYPE_U16 = 2, DTYPE_F16 = 3 } Dtype;

enum { RECORD_FLAG_VARIABLE = 1 }; /* payload length need not be height×width×channels */

typedef struct {
    int32_t label; /* -1: unlabelled */
    uint16_t height, width;
    uint8_t channels, dtype, flags;
    uint32_t payload_bytes;
    const uint8_t *payload; /* points into the bytes given to record_decode */
} RecordView;

size_t dtype_size(int dtype); /* 0 for an unknown dtype */

void record_encode(Buf *out, int32_t label, int height, int width, int channels, Dtype dtype, int flags,
                   const void *payload, size_t payload_bytes);
/* Just the 16-byte header, for writers that append the payload themselves. */
void record_encode_header(uint8_t out[RECORD_HEADER_BYTES], int32_t label, int height, int width, int channels,
                          Dtype dtype, int flags, size_t payload_bytes);
int record_decode(const void *bytes, size_t n, RecordView *out, Err *err);

#endif
