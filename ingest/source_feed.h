/* source_feed: planned source items as pool inputs, for every job that reads JPEG sources
 * (ingest, tokenize). Local workers share our file system and are sent file paths, so they
 * read the files themselves; remote workers are sent the bytes. */
#ifndef TESSERA_SOURCE_FEED_H
#define TESSERA_SOURCE_FEED_H

#include "pool.h"
#include "source.h"

typedef struct {
    const SourcePlan *plan;
    SourceReader *reader;
    int send_paths;
    Payload payload; /* the last item read; valid until the next call */
} SourceFeed;

void source_feed_begin(SourceFeed *f, const SourcePlan *plan, int all_local);
/* Fills in for the plan's item (a file path, JPEG bytes, pixels, or the reason it cannot be read). */
void source_feed_item(SourceFeed *f, size_t item, PoolInput *in);
void source_feed_end(SourceFeed *f);

#endif
