/* source_feed: planned source items as pool inputs (see source_feed.h). */
#include "source_feed.h"

#include <string.h>

void source_feed_begin(SourceFeed *f, const SourcePlan *plan, int all_local) {
    memset(f, 0, sizeof *f);
    f->plan = plan;
    f->send_paths = all_local;
    f->reader = source_reader_open(plan);
}

void source_feed_item(SourceFeed *f, size_t item, PoolInput *in) {
    const SourceItem *it = &f->plan->items[item];
    if (f->send_paths && it->kind == ITEM_FILE && strlen(it->path) <= INPUT_PATH_MAX) {
        in->kind = INPUT_FILE;
        in->data = (const uint8_t *)it->path;
        in->n = strlen(it->path);
        return;
    }
    Payload *p = &f->payload;
    source_read(f->reader, item, p);
    switch (p->kind) {
    case PAYLOAD_JPEG:
        in->kind = INPUT_JPEG;
        in->data = p->data;
        in->n = p->n;
        break;
    case PAYLOAD_PIXELS:
        in->kind = INPUT_PIXELS;
        in->data = p->data;
        in->n = p->n;
        in->width = p->width;
        in->height = p->height;
        in->channels = p->channels;
        break;
    default:
        in->kind = INPUT_ERROR;
        in->data = (const uint8_t *)p->error;
        in->n = strlen(p->error);
    }
}

void source_feed_end(SourceFeed *f) {
    if (f->reader) source_reader_close(f->reader);
    f->reader = NULL;
}
