/* vqvae: the VQ-VAE tokenizer (van den Oord et al. 2017) as used by VQGAN/MaskGIT-style
 * pipelines: a convolutional encoder shrinks an image by f ∈ {2, 4, 8}, every vector of
 * the h×w grid it produces is replaced by its nearest codebook entry (nn/quantizer.h), and a
 * convolutional decoder draws the image back from the codes. The codes, one uint16 per grid
 * cell, are the tokens the AR, RAR and MaskGIT models learn over.
 *
 *   encoder  conv3×3 → ch[0]; per level l < L: res_blocks × ResBlock(ch[l]),
 *            conv4×4/2 → ch[l+1]; res_blocks × ResBlock(ch[L]); GroupNorm, SiLU, conv1×1 → D
 *   decoder  conv3×3 D → ch[L]; res_blocks × ResBlock(ch[L]); per level l = L-1 … 0:
 *            convT4×4/2 → ch[l], res_blocks × ResBlock(ch[l]); GroupNorm, SiLU, conv3×3 → C
 *   ResBlock x + conv3×3(SiLU(GN(conv3×3(SiLU(GN(x))))))      (L = log2 f)
 *
 * Pixels enter as x/127.5 - 1 and leave clamped and rounded back to 0..255. This file holds
 * the network and its passes; tokenize/vqvae_model.c trains it under `tessera train`, and
 * tokenize/tokenizer.c loads a checkpoint of it for the tokenize and detokenize pools. */
#ifndef TESSERA_VQVAE_H
#define TESSERA_VQVAE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../nn/convnet.h"
#include "../nn/params.h"
#include "../nn/quantizer.h"
#include "../store/meta.h"

enum { VQVAE_MAX_LEVELS = 4, VQVAE_N_DIMS = 12 };

typedef struct {
    int height, width, channels; /* images */
    int downsample;              /* f */
    int levels;                  /* log2 f */
    int level_channels[VQVAE_MAX_LEVELS];
    int res_blocks, groups;
    QuantizerConfig q;           /* K, D, normalize, beta, codebook_loss (0: EMA codebook) */
    int recon_l1;                /* reconstruction loss: 0 L2 (mean squared error), 1 L1 */
} VqVaeShape;

extern const ConfigKey VQVAE_KEYS[];

/* The shape a vqvae config gives for a store's images; errors name the key. */
int vqvae_shape(VqVaeShape *s, const Config *c, int height, int width, int channels, Err *err);
/* The shape as checkpoint dims (VQVAE_N_DIMS of them), and back. */
void vqvae_shape_dims(const VqVaeShape *s, uint64_t dims[VQVAE_N_DIMS]);

typedef struct {
    VqVaeShape s;
    int grid_h, grid_w;   /* token grid: height/f × width/f */
    ConvNet enc, dec;
    ParamSpec *specs;     /* the encoder's, the decoder's, then the codebook and its statistics */
    ParamTable table;
    scalar *params, *grads;
    /* indices into table of the codebook (K, D) and of state the optimizer does not own:
     * EMA counts (K) and sums (K, D), usage (K, an EMA of assignments per step), and a
     * counter: 0 until the codebook is drawn from encoder outputs, then 1 + updates done;
     * and the number of dead-code restarts so far (counters are exact in float to 2^24) */
    size_t codebook, ema_count, ema_sum, usage, initialized, restarted;
    /* work buffers for a batch of `cap` images */
    size_t cap;
    scalar *z, *zq, *dzq, *dz, *qscratch; /* (cap·h·w, D) rows */
    int32_t *codes;                       /* (cap·h·w) */
} VqVae;

void vqvae_create(VqVae *v, const VqVaeShape *s);
void vqvae_free(VqVae *v);
void vqvae_init_weights(VqVae *v, uint64_t seed);
/* Bytes of parameters (×4 with grads and AdamW) and activations for a batch of B. */
size_t vqvae_memory_bytes(const VqVaeShape *s, size_t B);
void vqvae_reserve(VqVae *v, size_t B);
scalar *vqvae_param(const VqVae *v, size_t index);
scalar *vqvae_grad(const VqVae *v, size_t index);

/* images: n pointers to H×W×C uint8 pixels. Runs the encoder and leaves z in v->z as
 * (n·h·w, D) rows, cell-major per image (row-major over the grid). */
void vqvae_encode_forward(VqVae *v, const uint8_t *const *images, size_t n);
/* Runs the decoder on v->zq (n·h·w, D) rows; its output is convnet_output(&v->dec). */
void vqvae_decode_forward(VqVae *v, size_t n);
/* Decoder output to pixels: clamp((y + 1) · 127.5) rounded, H×W×C per image. */
void vqvae_output_pixels(const VqVae *v, size_t n, uint8_t *pixels);

/* One training forward and backward over n images: reconstruction loss + quantizer loss.
 * Accumulates gradients (the caller zeroes them); codes stay in v->codes, z in v->z. */
float vqvae_train_forward_backward(VqVae *v, const uint8_t *const *images, size_t n, double *recon_loss,
                                   double *quantizer_loss);

/* Inference: images → codes (n·h·w), and codes → images (n·H·W·C), in chunks. Codes must
 * be < K (callers check untrusted ones). */
void vqvae_tokenize(VqVae *v, const uint8_t *const *images, size_t n, int32_t *codes);
void vqvae_detokenize(VqVae *v, const int32_t *codes, size_t n, uint8_t *pixels);

#endif
