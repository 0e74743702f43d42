/* fuzz_messages: bytes from the network → the pool's message parsers (coordinator and
 * worker both parse what the other sends, possibly from another host) and the store's
 * record parser (records come from files on disk). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../ingest/pool_proto.h"
#include "../../ingest/preprocess.h"
#include "../../store/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    RecordView view;
    record_decode(data, size, &view, &err);

    PreprocessOptions o;
    preprocess_options_parse((const char *)data, size, &o, &err);

    MsgHeader h;
    Reader body;
    if (msg_parse_header(data, size, &h, &body, &err) != 0) return 0;
    switch (h.type) {
    case MSG_HELLO: {
        uint32_t pid;
        char host[64];
        msg_parse_hello(&body, &pid, host, sizeof host, &err);
        break;
    }
    case MSG_JOB: {
        const char *kind, *options;
        uint32_t kn, on;
        msg_parse_job(&body, &kind, &kn, &options, &on, &err);
        break;
    }
    case MSG_READY: {
        uint32_t credits;
        msg_parse_ready(&body, &credits, &err);
        break;
    }
    case MSG_TASK:
    case MSG_RESULT: {
        uint64_t batch;
        uint32_t count;
        if (msg_parse_batch(&body, &batch, &count, &err) != 0) break;
        for (uint32_t i = 0; i < count; i++) {
            int rc;
            if (h.type == MSG_TASK) {
                TaskItem t;
                rc = msg_next_task_item(&body, &t, &err);
                if (rc == 0 && t.n) (void)t.data[t.n - 1]; /* the claimed bytes are really there */
            } else {
                ResultItem r;
                rc = msg_next_result_item(&body, &r, &err);
                if (rc == 0 && r.n) (void)r.data[r.n - 1];
            }
            if (rc != 0) break;
        }
        break;
    }
    default: break;
    }
    return 0;
}
