/* pool_proto: the messages between a pool's coordinator and its workers
 * (docs/FORMAT.md, "Pool protocol"). Every message is one ZeroMQ frame that starts
 * with an 12-byte header; the coordinator's ROUTER socket adds the worker's routing
 * id in front. Parsers check every length, because workers may be on other hosts. */
#ifndef TESSERA_POOL_PROTO_H
#define TESSERA_POOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"

enum { POOL_MAGIC = 0x54, POOL_VERSION = 1, POOL_HEADER_BYTES = 12 };

typedef enum {
    MSG_HELLO = 1,     /* worker → coordinator: pid, host, tool version */
    MSG_JOB = 2,       /* coordinator → worker: job kind and options */
    MSG_READY = 3,     /* worker → coordinator: credits (batches it will take) */
    MSG_TASK = 4,      /* coordinator → worker: a batch of input items */
    MSG_RESULT = 5,    /* worker → coordinator: the batch's outputs, in order */
    MSG_HEARTBEAT = 6, /* either way, when nothing else was sent for a while */
    MSG_STOP = 7,      /* coordinator → worker: the job is over */
} MsgType;

/* Inputs: JPEG bytes, raw pixels, an error the coordinator already knows, the path of a
 * file to read (only for workers that share the coordinator's file system), or a grid of
 * uint16 token codes (width × height of them, little-endian; channels = 2, their bytes). */
typedef enum { INPUT_JPEG = 1, INPUT_PIXELS = 2, INPUT_ERROR = 3, INPUT_FILE = 4, INPUT_TOKENS = 5 } InputKind;

enum { INPUT_PATH_MAX = 4096 };

typedef struct {
    uint8_t kind;
    uint16_t width, height;
    uint8_t channels;
    const uint8_t *data;
    uint32_t n;
} TaskItem;

typedef struct {
    uint8_t ok;         /* 1: data is the output; 0: data is the reject reason */
    const uint8_t *data;
    uint32_t n;
} ResultItem;

typedef struct {
    uint8_t type;
    uint64_t session; /* the coordinator's random run id; stale messages are ignored */
} MsgHeader;

void msg_begin(Buf *b, MsgType type, uint64_t session);
int msg_parse_header(const uint8_t *data, size_t n, MsgHeader *out, Reader *body, Err *err);

void msg_hello(Buf *b, uint32_t pid, const char *host);
int msg_parse_hello(Reader *body, uint32_t *pid, char *host, size_t host_cap, Err *err);

void msg_job(Buf *b, uint64_t session, const char *kind, const char *options);
/* kind and options point into the message. */
int msg_parse_job(Reader *body, const char **kind, uint32_t *kind_n, const char **options, uint32_t *options_n,
                  Err *err);

void msg_ready(Buf *b, uint64_t session, uint32_t credits);
int msg_parse_ready(Reader *body, uint32_t *credits, Err *err);

/* A task or result: u64 batch id, u32 count, then the items. */
void msg_batch_begin(Buf *b, MsgType type, uint64_t session, uint64_t batch);
void msg_task_item(Buf *b, const TaskItem *item);
void msg_result_item(Buf *b, int ok, const void *data, size_t n);
/* For an item appended as msg_result_item(b, 1, NULL, 0) at offset `at` followed by its
 * bytes: sets its length to what follows. */
void msg_result_item_patch_length(Buf *b, size_t at);
/* Patches the item count into a batch message built with msg_batch_begin. */
void msg_batch_finish(Buf *b, uint32_t count);

int msg_parse_batch(Reader *body, uint64_t *batch, uint32_t *count, Err *err);
int msg_next_task_item(Reader *body, TaskItem *out, Err *err);
int msg_next_result_item(Reader *body, ResultItem *out, Err *err);

#endif
