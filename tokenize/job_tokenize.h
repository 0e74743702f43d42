/* job_tokenize: the tokenize and detokenize jobs of the worker pool (ingest/pool.h). */
#ifndef TESSERA_JOB_TOKENIZE_H
#define TESSERA_JOB_TOKENIZE_H

#include <stdint.h>

#include "../core/buf.h"
#include "../ingest/pool.h"
#include "../ingest/preprocess.h"

extern const JobKind TOKENIZE_JOB;
extern const JobKind DETOKENIZE_JOB;

/* The job options (NUL-terminated text) for a tokenizer at an image size; pre is NULL for
 * detokenize. */
void tokenize_job_options(Buf *out, const char *tokenizer_path, uint32_t checksum, int height, int width,
                          const PreprocessOptions *pre);

#endif
