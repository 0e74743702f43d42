/* checkpoint: a training run's complete state in one file (docs/FORMAT.md, "Checkpoints").
 *
 * A fixed 256-byte header (magic, version, model kind, model dimensions, step, data
 * order and RNG state, sizes), the resolved config text, then the parameters, AdamW's
 * m and v, optionally the EMA weights, and a CRC-32 of everything before it. Files are
 * written to a temporary name, synced and renamed, so a crash leaves either the old
 * checkpoint or the new one, never half of one. Loading checks every field and says
 * what is wrong and what to do. */
#ifndef TESSERA_CHECKPOINT_H
#define TESSERA_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

enum { CKPT_VERSION = 1, CKPT_HEADER_BYTES = 256, CKPT_MAX_DIMS = 12, CKPT_KIND_BYTES = 32 };

typedef struct {
    char model[CKPT_KIND_BYTES]; /* "igpt", "vqvae", ... */
    uint32_t n_dims;
    uint64_t dims[CKPT_MAX_DIMS]; /* the model's shape, in the model's own order */
    uint64_t step, epoch, next_batch;
    uint64_t rng[4];
    uint64_t n_params;
    int has_ema;
    uint32_t checksum; /* the file's CRC-32 (filled when a checkpoint is read) */
} CheckpointInfo;

/* Tensors to save or fill; m, v and ema may be NULL (then they are not written / read). */
typedef struct {
    float *params, *m, *v, *ema;
} CheckpointData;

int checkpoint_write(const char *path, const CheckpointInfo *info, const char *config_text, const CheckpointData *d,
                     Err *err);

/* Reads the header and config of a checkpoint and verifies its checksum. config_text is
 * malloc'd (may be NULL if not wanted). */
int checkpoint_inspect(const char *path, CheckpointInfo *info, char **config_text, Err *err);

/* Loads into caller buffers after checking the file was written by `model` with the
 * same dims and parameter count. d->ema is filled only when the file has EMA weights
 * (info->has_ema says whether it had). */
int checkpoint_load(const char *path, const CheckpointInfo *expect, CheckpointInfo *info, CheckpointData *d,
                    Err *err);

/* A trained model's weights for use rather than for resuming (tokenizers, feature networks):
 * checkpoint_load into params (expect->n_params of them), then the EMA weights over them when
 * the run kept some. */
int checkpoint_load_weights(const char *path, const CheckpointInfo *expect, float *params, CheckpointInfo *info,
                            Err *err);

/* The path of run_dir's newest checkpoint that passes checkpoint_inspect, or NULL
 * (malloc'd). Broken newer ones are reported on stderr and skipped. */
char *checkpoint_find_newest(const char *run_dir);

/* "run_dir/ckpt_00001234.bin" (malloc'd). */
char *checkpoint_path(const char *run_dir, uint64_t step);

#endif
