/* tokenizer: a trained tokenizer loaded from its checkpoint, for the tokenize and
 * detokenize pools. Only VQ-VAE checkpoints (model = vqvae) are tokenizers so far.
 *
 * Its identity — model kind and the checkpoint's CRC-32 — is written into every token
 * store it makes, so that codes are never decoded, or a store continued, with another
 * tokenizer than the one that made them. The weights used are the EMA weights when the
 * run kept them (ema_decay > 0), else the trained ones. */
#ifndef TESSERA_TOKENIZER_H
#define TESSERA_TOKENIZER_H

#include <stdint.h>

#include "../core/err.h"
#include "vqvae.h"

typedef struct {
    VqVae net;
    char *path;
    char *config_text; /* the training run's resolved config */
    char kind[32];
    uint32_t checksum;
    int height, width, channels; /* images it takes and gives */
    int grid_h, grid_w, K;       /* the token grid and code range */
    int downsample;
    int trained_height, trained_width;
} Tokenizer;

/* Refuses a file that is not a checkpoint, is corrupted or truncated, or is of a model
 * that is not a tokenizer, naming the file. The network is convolutional, so it takes any
 * image size divisible by its downsampling factor: height × width (0 × 0: the size it was
 * trained at). */
int tokenizer_open(Tokenizer *t, const char *path, int height, int width, Err *err);
void tokenizer_close(Tokenizer *t);
/* "vqvae:1a2b3c4d", the string token stores keep in their meta. */
void tokenizer_identity(const Tokenizer *t, char *out, size_t cap);

#endif
