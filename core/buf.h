/* buf: a growable byte buffer with little-endian put/get helpers.
 *
 * Every wire message and stored record is built in a Buf and read back with a
 * Reader that checks each length against what is left, so a truncated or hostile
 * message is an error, never an out-of-bounds read. */
#ifndef TESSERA_BUF_H
#define TESSERA_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
} Buf;

void buf_reserve(Buf *b, size_t extra);
void buf_put(Buf *b, const void *p, size_t n);
void buf_put_u8(Buf *b, uint8_t v);
void buf_put_u16(Buf *b, uint16_t v);
void buf_put_u32(Buf *b, uint32_t v);
void buf_put_u64(Buf *b, uint64_t v);
void buf_put_str(Buf *b, const char *s); /* u32 length, then the bytes */
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_clear(Buf *b);
void buf_free(Buf *b);

/* A bounds-checked cursor over bytes someone else owns. After any failed get,
 * `bad` is set and every later get fails too, so callers check once at the end. */
typedef struct {
    const uint8_t *p;
    size_t left;
    int bad;
} Reader;

Reader reader_of(const void *p, size_t n);
uint8_t rd_u8(Reader *r);
uint16_t rd_u16(Reader *r);
uint32_t rd_u32(Reader *r);
uint64_t rd_u64(Reader *r);
const uint8_t *rd_bytes(Reader *r, size_t n); /* NULL (and bad) if fewer than n remain */

/* Big-endian 8-byte keys sort numerically in LMDB's default byte order. */
void be64_put(uint8_t out[8], uint64_t v);
uint64_t be64_get(const uint8_t in[8]);

#endif
