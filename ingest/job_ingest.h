/* job_ingest: the pool job run by ingest workers (decode, crop, resize). */
#ifndef TESSERA_JOB_INGEST_H
#define TESSERA_JOB_INGEST_H

#include "../core/buf.h"
#include "pool.h"
#include "preprocess.h"

extern const JobKind INGEST_JOB;

/* One task item's pixels (o->size² × o->channels), made as ingest makes them: a JPEG (its
 * bytes, or for INPUT_FILE a path this worker reads into `file`) decoded, cropped and
 * resized, or raw pixels resampled. Jobs that start from images (ingest, tokenize) share it. */
int job_item_pixels(Preprocessor *pre, const PreprocessOptions *o, Buf *file, const TaskItem *in, uint8_t *pixels,
                    Err *err);

#endif
