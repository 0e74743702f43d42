/* vqvae: the VQ-VAE network and its passes (see vqvae.h). */
#include "vqvae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"

const ConfigKey VQVAE_KEYS[] = {
    {"downsample", CFG_INT, "4", 2, 8, NULL, "f: the token grid is (H/f)×(W/f); 2, 4 or 8"},
    {"channels", CFG_STRING, "32,64,64", 0, -1, NULL, "channels per level, log2(f)+1 of them, finest first"},
    {"res_blocks", CFG_INT, "1", 0, 8, NULL, "residual blocks per level"},
    {"groups", CFG_INT, "8", 1, 512, NULL, "GroupNorm groups (must divide every level's channels)"},
    {"codebook_size", CFG_INT, "512", 2, 65536, NULL, "K: codes in the codebook (tokens are uint16)"},
    {"code_dim", CFG_INT, "32", 1, 4096, NULL, "D: dimension of each code"},
    {"normalize_codes", CFG_BOOL, "false", 0, -1, NULL, "match l2-normalized vectors (cosine distance)"},
    {"beta", CFG_FLOAT, "0.25", 0, 100, NULL, "commitment loss weight"},
    {"codebook", CFG_ENUM, "ema", 0, -1, "ema|loss", "how the codebook learns: EMA of assigned vectors, or its loss term"},
    {"codebook_decay", CFG_FLOAT, "0.99", 0, 0.99999, NULL, "EMA decay of the codebook statistics"},
    {"restart_fraction", CFG_FLOAT, "0.03", 0, 1, NULL, "restart a code when its usage falls below this fraction of the mean (0: never)"},
    {"usage_decay", CFG_FLOAT, "0.99", 0, 0.99999, NULL, "EMA decay of each code's usage (how fast a dead code is noticed)"},
    {"recon_loss", CFG_ENUM, "l2", 0, -1, "l2|l1", "reconstruction loss"},
    {"val_store", CFG_STRING, "", 0, -1, NULL, "held-out pixel store for PSNR/SSIM/usage (empty: none)"},
    {"val_every", CFG_INT, "500", 1, 1e9, NULL, "steps between validations (and one at the end)"},
    {"val_images", CFG_INT, "0", 0, 1e9, NULL, "validate on the first N held-out images (0: all)"},
    {"recon_samples", CFG_INT, "16", 0, 64, NULL, "images in the final originals-over-reconstructions PNG"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

int vqvae_shape(VqVaeShape *s, const Config *c, int height, int width, int channels, Err *err) {
    memset(s, 0, sizeof *s);
    s->height = height;
    s->width = width;
    s->channels = channels;
    s->downsample = (int)config_int(c, "downsample");
    if (s->downsample != 2 && s->downsample != 4 && s->downsample != 8)
        return err_set(err, "downsample = %d: must be 2, 4 or 8", s->downsample);
    s->levels = s->downsample == 2 ? 1 : s->downsample == 4 ? 2 : 3;
    if (channels != 1 && channels != 3) return err_set(err, "the store's images have %d channels; vqvae takes 1 or 3", channels);
    if (height % s->downsample || width % s->downsample)
        return err_set(err, "downsample = %d does not divide the store's image size %d×%d", s->downsample, height, width);
    s->res_blocks = (int)config_int(c, "res_blocks");
    s->groups = (int)config_int(c, "groups");
    const char *list = config_str(c, "channels");
    int n = config_int_list(c, "channels", s->level_channels, VQVAE_MAX_LEVELS, 1, 4096, err);
    if (n < 0) return -1;
    if (n != s->levels + 1)
        return err_set(err, "channels = %s: downsample = %d needs %d levels of channels, got %d", list, s->downsample,
                       s->levels + 1, n);
    for (int l = 0; l < n; l++)
        if (s->level_channels[l] % s->groups)
            return err_set(err, "groups = %d does not divide channels %d (channels = %s)", s->groups,
                           s->level_channels[l], list);
    s->q = (QuantizerConfig){.K = (int)config_int(c, "codebook_size"), .D = (int)config_int(c, "code_dim"),
                             .normalize = config_bool(c, "normalize_codes"), .beta = config_float(c, "beta"),
                             .codebook_loss = strcmp(config_str(c, "codebook"), "loss") == 0};
    s->recon_l1 = strcmp(config_str(c, "recon_loss"), "l1") == 0;
    return 0;
}

void vqvae_shape_dims(const VqVaeShape *s, uint64_t dims[VQVAE_N_DIMS]) {
    uint64_t packed = 0; /* the channel list, 16 bits a level */
    for (int l = 0; l <= s->levels; l++) packed |= (uint64_t)s->level_channels[l] << (16 * l);
    uint64_t d[VQVAE_N_DIMS] = {(uint64_t)s->height, (uint64_t)s->width, (uint64_t)s->channels,
                                (uint64_t)s->downsample, packed, (uint64_t)s->res_blocks, (uint64_t)s->groups,
                                (uint64_t)s->q.K, (uint64_t)s->q.D, (uint64_t)s->q.normalize,
                                (uint64_t)s->q.codebook_loss, (uint64_t)s->recon_l1};
    memcpy(dims, d, sizeof d);
}

/* ------------------------------------------------------------------ the networks */

static int res_block(ConvNet *n, int x, int ch, int groups) {
    int h = convnet_conv(n, convnet_silu(n, convnet_groupnorm(n, x, groups)), ch, 3, 1, 1);
    h = convnet_conv(n, convnet_silu(n, convnet_groupnorm(n, h, groups)), ch, 3, 1, 1);
    return convnet_add(n, x, h);
}

static void build_encoder(ConvNet *n, const VqVaeShape *s) {
    convnet_init(n, "enc", s->channels, s->height, s->width);
    const int *ch = s->level_channels;
    int h = convnet_conv(n, 0, ch[0], 3, 1, 1);
    for (int l = 0; l < s->levels; l++) {
        for (int r = 0; r < s->res_blocks; r++) h = res_block(n, h, ch[l], s->groups);
        h = convnet_conv(n, h, ch[l + 1], 4, 2, 1);
    }
    for (int r = 0; r < s->res_blocks; r++) h = res_block(n, h, ch[s->levels], s->groups);
    h = convnet_silu(n, convnet_groupnorm(n, h, s->groups));
    convnet_conv(n, h, s->q.D, 1, 1, 0);
}

static void build_decoder(ConvNet *n, const VqVaeShape *s) {
    int f = s->downsample;
    convnet_init(n, "dec", s->q.D, s->height / f, s->width / f);
    const int *ch = s->level_channels;
    int h = convnet_conv(n, 0, ch[s->levels], 3, 1, 1);
    for (int r = 0; r < s->res_blocks; r++) h = res_block(n, h, ch[s->levels], s->groups);
    for (int l = s->levels - 1; l >= 0; l--) {
        h = convnet_conv_transpose(n, h, ch[l], 4, 2, 1);
        for (int r = 0; r < s->res_blocks; r++) h = res_block(n, h, ch[l], s->groups);
    }
    h = convnet_silu(n, convnet_groupnorm(n, h, s->groups));
    convnet_conv(n, h, s->channels, 3, 1, 1);
}

void vqvae_create(VqVae *v, const VqVaeShape *s) {
    memset(v, 0, sizeof *v);
    v->s = *s;
    v->grid_h = s->height / s->downsample;
    v->grid_w = s->width / s->downsample;
    build_encoder(&v->enc, s);
    build_decoder(&v->dec, s);
    size_t ne, nd;
    const ParamSpec *se = convnet_specs(&v->enc, &ne), *sd = convnet_specs(&v->dec, &nd);
    size_t K = (size_t)s->q.K, D = (size_t)s->q.D;
    v->specs = xmalloc((ne + nd + 6) * sizeof *v->specs);
    memcpy(v->specs, se, ne * sizeof *se);
    memcpy(v->specs + ne, sd, nd * sizeof *sd);
    size_t at = ne + nd;
    /* An EMA codebook is state like its statistics: the optimizer leaves it alone. */
    v->codebook = at;
    v->specs[at++] = (ParamSpec){"codebook", K * D, s->q.codebook_loss ? PARAM_NO_DECAY : PARAM_FROZEN};
    v->ema_count = at;
    v->specs[at++] = (ParamSpec){"codebook.ema_count", K, PARAM_FROZEN};
    v->ema_sum = at;
    v->specs[at++] = (ParamSpec){"codebook.ema_sum", K * D, PARAM_FROZEN};
    v->usage = at;
    v->specs[at++] = (ParamSpec){"codebook.usage", K, PARAM_FROZEN};
    v->initialized = at;
    v->specs[at++] = (ParamSpec){"codebook.initialized", 1, PARAM_FROZEN};
    v->restarted = at;
    v->specs[at++] = (ParamSpec){"codebook.restarted", 1, PARAM_FROZEN};
    param_table_init(&v->table, v->specs, at);
    v->params = param_table_alloc(&v->table);
    v->grads = param_table_alloc(&v->table);
    convnet_bind(&v->enc, v->params, v->grads, v->table.offsets);
    convnet_bind(&v->dec, v->params, v->grads, v->table.offsets + ne);
}

static void free_work_buffers(VqVae *v) {
    free(v->z);
    free(v->zq);
    free(v->dzq);
    free(v->dz);
    free(v->qscratch);
    free(v->codes);
}

void vqvae_free(VqVae *v) {
    convnet_free(&v->enc);
    convnet_free(&v->dec);
    param_table_free(&v->table);
    free(v->specs);
    free(v->params);
    free(v->grads);
    free_work_buffers(v);
    memset(v, 0, sizeof *v);
}

scalar *vqvae_param(const VqVae *v, size_t index) { return v->params + v->table.offsets[index]; }
scalar *vqvae_grad(const VqVae *v, size_t index) { return v->grads + v->table.offsets[index]; }

void vqvae_init_weights(VqVae *v, uint64_t seed) {
    convnet_init_weights(&v->enc, seed ^ 0xe5c0de);
    convnet_init_weights(&v->dec, seed ^ 0xdec0de);
    /* A placeholder until the first batch: the codebook is then drawn from encoder outputs
     * (tokenize/vqvae_model.c), which uses every code from the start. */
    size_t K = (size_t)v->s.q.K, D = (size_t)v->s.q.D;
    Rng r;
    rng_seed(&r, seed ^ 0xc0deb00c);
    for (size_t k = 0; k < K * D; k++) vqvae_param(v, v->codebook)[k] = (scalar)((2.0 * rng_float(&r) - 1.0) / (double)K);
}

size_t vqvae_memory_bytes(const VqVaeShape *s, size_t B) {
    VqVae v;
    vqvae_create(&v, s);
    size_t cells = B * (size_t)v.grid_h * v.grid_w, D = (size_t)s->q.D;
    size_t bytes = 4 * v.table.total * sizeof(scalar) + convnet_activation_bytes(&v.enc, (int)B) +
                   convnet_activation_bytes(&v.dec, (int)B) + 4 * cells * D * sizeof(scalar) +
                   quantizer_scratch_size(cells, &s->q) * sizeof(scalar);
    vqvae_free(&v);
    return bytes;
}

void vqvae_reserve(VqVae *v, size_t B) {
    if (B <= v->cap) return;
    convnet_reserve(&v->enc, (int)B);
    convnet_reserve(&v->dec, (int)B);
    size_t cells = B * (size_t)v->grid_h * v->grid_w, D = (size_t)v->s.q.D;
    free_work_buffers(v);
    v->z = xmalloc(cells * D * sizeof *v->z);
    v->zq = xmalloc(cells * D * sizeof *v->zq);
    v->dzq = xmalloc(cells * D * sizeof *v->dzq);
    v->dz = xmalloc(cells * D * sizeof *v->dz);
    v->qscratch = xmalloc((quantizer_scratch_size(cells, &v->s.q) + 1) * sizeof *v->qscratch);
    v->codes = xmalloc(cells * sizeof *v->codes);
    v->cap = B;
}

/* (n, D, h, w) maps ↔ (n·h·w, D) rows. */
static void maps_to_rows(scalar *rows, const scalar *maps, size_t n, size_t D, size_t cells) {
    for (size_t b = 0; b < n; b++)
        for (size_t d = 0; d < D; d++)
            for (size_t c = 0; c < cells; c++) rows[(b * cells + c) * D + d] = maps[(b * D + d) * cells + c];
}

static void rows_to_maps(scalar *maps, const scalar *rows, size_t n, size_t D, size_t cells) {
    for (size_t b = 0; b < n; b++)
        for (size_t d = 0; d < D; d++)
            for (size_t c = 0; c < cells; c++) maps[(b * D + d) * cells + c] = rows[(b * cells + c) * D + d];
}

void vqvae_encode_forward(VqVae *v, const uint8_t *const *images, size_t n) {
    const VqVaeShape *s = &v->s;
    size_t C = (size_t)s->channels, HW = (size_t)s->height * s->width;
    scalar *x = convnet_input(&v->enc);
    for (size_t b = 0; b < n; b++)
        for (size_t p = 0; p < HW; p++)
            for (size_t c = 0; c < C; c++) x[(b * C + c) * HW + p] = (scalar)(images[b][p * C + c] / 127.5 - 1.0);
    convnet_forward(&v->enc, (int)n);
    maps_to_rows(v->z, convnet_output(&v->enc), n, (size_t)s->q.D, (size_t)v->grid_h * v->grid_w);
}

void vqvae_decode_forward(VqVae *v, size_t n) {
    rows_to_maps(convnet_input(&v->dec), v->zq, n, (size_t)v->s.q.D, (size_t)v->grid_h * v->grid_w);
    convnet_forward(&v->dec, (int)n);
}

void vqvae_output_pixels(const VqVae *v, size_t n, uint8_t *pixels) {
    size_t C = (size_t)v->s.channels, HW = (size_t)v->s.height * v->s.width;
    const scalar *y = convnet_output(&v->dec);
    for (size_t b = 0; b < n; b++)
        for (size_t p = 0; p < HW; p++)
            for (size_t c = 0; c < C; c++) {
                double u = ((double)y[(b * C + c) * HW + p] + 1.0) * 127.5;
                pixels[(b * HW + p) * C + c] = (uint8_t)(u <= 0 ? 0 : u >= 255 ? 255 : lround(u));
            }
}

float vqvae_train_forward_backward(VqVae *v, const uint8_t *const *images, size_t n, double *recon_loss,
                                   double *quantizer_loss) {
    const VqVaeShape *s = &v->s;
    size_t cells = (size_t)v->grid_h * v->grid_w, N = n * cells, D = (size_t)s->q.D;
    vqvae_reserve(v, n);
    vqvae_encode_forward(v, images, n);
    scalar qloss = quantizer_forward(v->zq, v->codes, v->qscratch, v->z, vqvae_param(v, v->codebook), N, &s->q);
    vqvae_decode_forward(v, n);

    /* Reconstruction loss, mean over every pixel and channel, against the encoder's input. */
    size_t count = n * (size_t)s->channels * s->height * s->width;
    const scalar *x = convnet_input(&v->enc), *y = convnet_output(&v->dec);
    scalar *dy = convnet_output_grad(&v->dec);
    double total = 0;
    for (size_t k = 0; k < count; k++) {
        double e = (double)y[k] - (double)x[k];
        if (s->recon_l1) {
            total += fabs(e);
            dy[k] = (scalar)((e > 0) - (e < 0)) / (scalar)count;
        } else {
            total += e * e;
            dy[k] = (scalar)(2.0 * e / (double)count);
        }
    }
    convnet_backward(&v->dec, (int)n);
    maps_to_rows(v->dzq, convnet_input_grad(&v->dec), n, D, cells);
    memset(v->dz, 0, N * D * sizeof *v->dz);
    quantizer_backward(v->dz, s->q.codebook_loss ? vqvae_grad(v, v->codebook) : NULL, v->dzq, v->z,
                       vqvae_param(v, v->codebook), v->codes, N, 1, &s->q);
    rows_to_maps(convnet_output_grad(&v->enc), v->dz, n, D, cells);
    convnet_backward(&v->enc, (int)n);
    *recon_loss = total / (double)count;
    *quantizer_loss = (double)qloss;
    return (float)(*recon_loss + *quantizer_loss);
}

enum { INFERENCE_CHUNK = 64 };

void vqvae_tokenize(VqVae *v, const uint8_t *const *images, size_t n, int32_t *codes) {
    size_t cells = (size_t)v->grid_h * v->grid_w;
    vqvae_reserve(v, n < INFERENCE_CHUNK ? n : INFERENCE_CHUNK);
    for (size_t at = 0; at < n; at += INFERENCE_CHUNK) {
        size_t m = n - at < INFERENCE_CHUNK ? n - at : INFERENCE_CHUNK;
        vqvae_encode_forward(v, images + at, m);
        quantizer_encode(codes + at * cells, v->qscratch, v->z, vqvae_param(v, v->codebook), m * cells, &v->s.q);
    }
}

void vqvae_detokenize(VqVae *v, const int32_t *codes, size_t n, uint8_t *pixels) {
    size_t cells = (size_t)v->grid_h * v->grid_w, image = (size_t)v->s.height * v->s.width * v->s.channels;
    vqvae_reserve(v, n < INFERENCE_CHUNK ? n : INFERENCE_CHUNK);
    for (size_t at = 0; at < n; at += INFERENCE_CHUNK) {
        size_t m = n - at < INFERENCE_CHUNK ? n - at : INFERENCE_CHUNK;
        quantizer_lookup(v->zq, codes + at * cells, m * cells, vqvae_param(v, v->codebook), &v->s.q);
        vqvae_decode_forward(v, m);
        vqvae_output_pixels(v, m, pixels + at * image);
    }
}
