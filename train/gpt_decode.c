/* gpt_decode: one-slot-at-a-time inference with a key/value cache (see gpt.h).
 *
 * The same operations as gpt_forward_batch restricted to the newest slot: every layer
 * but attention acts on each token by itself, so only the new token's rows need
 * computing; attention needs the keys and values of every earlier slot, which the
 * cache keeps per layer. For a sequence of N slots this does N slots of work instead of
 * the N(N+1)/2 that rerunning the prefix costs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"
#include "../nn/embedding.h"
#include "../nn/layernorm.h"
#include "../nn/linear.h"
#include "../nn/qknorm.h"
#include "gpt.h"
#include "gpt_layout.h"

void gpt_cache_init(GptCache *kc, const Gpt *g, size_t B, size_t cap) {
    const GptConfig *c = &g->cfg;
    size_t C = c->width;
    memset(kc, 0, sizeof *kc);
    kc->B = B;
    kc->cap = cap;
    kc->k = xmalloc(c->layers * B * cap * C * sizeof *kc->k);
    kc->v = xmalloc(c->layers * B * cap * C * sizeof *kc->v);
    kc->x = xmalloc(B * C * sizeof *kc->x);
    kc->ln = xmalloc(B * C * sizeof *kc->ln);
    kc->stats = xmalloc(2 * B * 2 * c->heads * sizeof *kc->stats);
    kc->qkv = xmalloc(B * 3 * C * sizeof *kc->qkv);
    kc->qkn = xmalloc(B * 3 * C * sizeof *kc->qkn);
    kc->y = xmalloc(B * C * sizeof *kc->y);
    kc->h = xmalloc(B * 4 * C * sizeof *kc->h);
    kc->scores = xmalloc(cap * sizeof *kc->scores);
    kc->logits = xmalloc(B * c->vocab_out * sizeof *kc->logits);
}

void gpt_cache_free(GptCache *kc) {
    free(kc->k);
    free(kc->v);
    free(kc->x);
    free(kc->ln);
    free(kc->stats);
    free(kc->qkv);
    free(kc->qkn);
    free(kc->y);
    free(kc->h);
    free(kc->scores);
    free(kc->logits);
    memset(kc, 0, sizeof *kc);
}

/* Stores the new slot's keys and values, then attends from its query over slots 0..len:
 * per head, scores = K·q/√HS over the cached keys and y = Vᵀ·softmax(scores), two
 * matrix–vector products reading the cache in place (a head is HS columns, rows C apart). */
static void attend(const GptConfig *c, GptCache *kc, size_t layer, const scalar *qkv) {
    size_t B = kc->B, C = c->width, NH = c->heads, HS = C / NH, t = kc->len, n = t + 1;
    scalar scale = (scalar)(1.0 / sqrt((double)HS)), *p = kc->scores;
    for (size_t b = 0; b < B; b++) {
        scalar *keys = kc->k + ((layer * B + b) * kc->cap) * C, *values = kc->v + ((layer * B + b) * kc->cap) * C;
        const scalar *row = qkv + b * 3 * C;
        memcpy(keys + t * C, row + C, C * sizeof *keys);
        memcpy(values + t * C, row + 2 * C, C * sizeof *values);
        for (size_t h = 0; h < NH; h++) {
            cblas_gemv(CblasRowMajor, CblasNoTrans, blas_int(n), blas_int(HS), scale, keys + h * HS, blas_int(C),
                       row + h * HS, 1, 0, p, 1);
            scalar top = -INFINITY, sum = 0;
            for (size_t j = 0; j < n; j++) top = p[j] > top ? p[j] : top;
            for (size_t j = 0; j < n; j++) sum += p[j] = expf(p[j] - top);
            cblas_gemv(CblasRowMajor, CblasTrans, blas_int(n), blas_int(HS), 1 / sum, values + h * HS, blas_int(C), p,
                       1, 0, kc->y + b * C + h * HS, 1);
        }
    }
}

static void add_rows(scalar *x, const scalar *row, size_t B, size_t C) {
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < C; i++) x[b * C + i] += row[i];
}

const scalar *gpt_decode_step(const Gpt *g, GptCache *kc, const int32_t *inputs, size_t position,
                              size_t target_position) {
    const GptConfig *c = &g->cfg;
    if (kc->len >= kc->cap || position >= position_rows(c) || (c->target_aware && target_position >= position_rows(c))) {
        fprintf(stderr, "tessera: internal error: decode step %zu of %zu (position %zu)\n", kc->len, kc->cap, position);
        abort();
    }
    size_t B = kc->B, C = c->width, NH = c->heads;
    scalar *P = g->params, *x = kc->x, *mean = kc->stats, *rstd = kc->stats + B * 2 * NH;
    embedding_forward(x, inputs, gpt_param_at(g, P, P_WTE), B, c->vocab_in, C);
    add_rows(x, gpt_param_at(g, P, P_WPE) + position * C, B, C);
    if (c->target_aware) add_rows(x, gpt_param_at(g, P, P_WTA) + target_position * C, B, C);
    for (size_t l = 0; l < c->layers; l++) {
        scalar *w[P_PER_BLOCK];
        for (int p = 0; p < P_PER_BLOCK; p++) w[p] = gpt_param_at(g, P, block_param(c, l, p));
        layernorm_forward(kc->ln, mean, rstd, x, w[P_LN1W], w[P_LN1B], B, C);
        linear_forward(kc->qkv, kc->ln, w[P_QKVW], w[P_QKVB], B, C, 3 * C);
        const scalar *att_in = kc->qkv;
        if (c->qk_norm) {
            qknorm_forward(kc->qkn, mean, rstd, kc->qkv, B, C, NH);
            att_in = kc->qkn;
        }
        attend(c, kc, l, att_in);
        /* x += proj(y); x += fcproj(gelu(fc(ln2(x)))) */
        linear_forward_residual(x, x, kc->y, w[P_PROJW], w[P_PROJB], B, C, C);
        layernorm_forward(kc->ln, mean, rstd, x, w[P_LN2W], w[P_LN2B], B, C);
        linear_forward(kc->h, kc->ln, w[P_FCW], w[P_FCB], B, C, 4 * C);
        gelu_forward(kc->h, kc->h, B * 4 * C, c->gelu);
        linear_forward_residual(x, x, kc->h, w[P_FCPW], w[P_FCPB], B, 4 * C, C);
    }
    layernorm_forward(kc->ln, mean, rstd, x, gpt_param_at(g, P, tail_param(c, 0)), gpt_param_at(g, P, tail_param(c, 1)),
                      B, C);
    linear_forward(kc->logits, kc->ln, gpt_param_at(g, P, tail_param(c, 2)), NULL, B, C, c->vocab_out);
    kc->len++;
    return kc->logits;
}
