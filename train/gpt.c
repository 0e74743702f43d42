/* gpt: forward and backward of the transformer stack (see gpt.h). */
#include "gpt.h"
#include "gpt_layout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../nn/attention.h"
#include "../nn/crossentropy.h"
#include "../nn/embedding.h"
#include "../nn/layernorm.h"
#include "../nn/linear.h"
#include "../nn/qknorm.h"

/* ------------------------------------------------------------------ parameters */

static const char *const BLOCK_NAMES[P_PER_BLOCK] = {"ln1w", "ln1b", "qkvw", "qkvb", "projw", "projb",
                                                     "ln2w", "ln2b", "fcw",  "fcb",  "fcpw",  "fcpb"};

size_t gpt_training_bytes(const GptConfig *c, size_t T, size_t B) {
    double C = (double)c->width, L = (double)c->layers, rows = (double)position_rows(c) * (c->target_aware ? 2 : 1);
    double params = (double)c->vocab_in * C + rows * C + L * 12.0 * C * C + (double)c->vocab_out * C;
    double per_token = L * (21.0 * C + (double)c->heads * (double)T) + 4.0 * C + (double)c->vocab_out;
    double bytes = 4.0 * params * sizeof(float) + 2.0 * per_token * (double)T * (double)B * sizeof(float);
    return bytes > 1e18 ? (size_t)1e18 : (size_t)bytes;
}

static char *name_of(const char *base, long layer) {
    char buf[64];
    if (layer < 0) snprintf(buf, sizeof buf, "%s", base);
    else snprintf(buf, sizeof buf, "h%ld.%s", layer, base);
    return xstrdup(buf);
}

void gpt_create(Gpt *g, const GptConfig *cfg) {
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    size_t C = cfg->width, L = cfg->layers, n = head_params(cfg) + L * P_PER_BLOCK + 3;
    g->specs = xcalloc(n, sizeof *g->specs);
    g->specs[P_WTE] = (ParamSpec){name_of("wte", -1), cfg->vocab_in * C, PARAM_NO_DECAY};
    g->specs[P_WPE] = (ParamSpec){name_of("wpe", -1), position_rows(cfg) * C, PARAM_NO_DECAY};
    if (cfg->target_aware) g->specs[P_WTA] = (ParamSpec){name_of("wta", -1), position_rows(cfg) * C, PARAM_NO_DECAY};
    const size_t block_sizes[P_PER_BLOCK] = {C, C, 3 * C * C, 3 * C, C * C, C, C, C, 4 * C * C, 4 * C, 4 * C * C, C};
    for (size_t l = 0; l < L; l++) {
        for (int p = 0; p < P_PER_BLOCK; p++) {
            int is_matrix = p == P_QKVW || p == P_PROJW || p == P_FCW || p == P_FCPW;
            g->specs[block_param(cfg, l, p)] =
                (ParamSpec){name_of(BLOCK_NAMES[p], (long)l), block_sizes[p], is_matrix ? 0 : PARAM_NO_DECAY};
        }
    }
    g->specs[tail_param(cfg, 0)] = (ParamSpec){name_of("lnfw", -1), C, PARAM_NO_DECAY};
    g->specs[tail_param(cfg, 1)] = (ParamSpec){name_of("lnfb", -1), C, PARAM_NO_DECAY};
    g->specs[tail_param(cfg, 2)] = (ParamSpec){name_of("lmw", -1), cfg->vocab_out * C, 0};
    param_table_init(&g->table, g->specs, n);
    g->params = param_table_alloc(&g->table);
    g->grads = param_table_alloc(&g->table);
}

void gpt_free(Gpt *g) {
    for (size_t i = 0; i < g->table.n; i++) free((char *)g->specs[i].name);
    free(g->specs);
    param_table_free(&g->table);
    free(g->params);
    free(g->grads);
    free(g->acts);
    free(g->dacts);
    free(g->scratch);
    memset(g, 0, sizeof *g);
}

void gpt_init_weights(Gpt *g, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    const GptConfig *c = &g->cfg;
    double residual_std = 0.02 / sqrt(2.0 * (double)c->layers);
    for (size_t i = 0; i < g->table.n; i++) {
        const char *name = g->specs[i].name, *dot = strchr(name, '.');
        const char *base = dot ? dot + 1 : name;
        scalar *p = g->params + g->table.offsets[i];
        size_t n = g->specs[i].count;
        int is_norm_weight = !strcmp(base, "ln1w") || !strcmp(base, "ln2w") || !strcmp(base, "lnfw");
        int is_bias = !strcmp(base, "ln1b") || !strcmp(base, "ln2b") || !strcmp(base, "lnfb") || !strcmp(base, "qkvb") ||
                      !strcmp(base, "projb") || !strcmp(base, "fcb") || !strcmp(base, "fcpb");
        double std = !strcmp(base, "projw") || !strcmp(base, "fcpw") ? residual_std : 0.02;
        for (size_t k = 0; k < n; k++)
            p[k] = is_norm_weight ? (scalar)1 : is_bias ? (scalar)0 : (scalar)(rng_normal(&r) * std);
    }
}

/* ------------------------------------------------------------------ activations */

/* A_QKN, A_QKM, A_QKR (the QK-normalised qkv and its statistics) are empty without qk_norm.
 * A_FCH holds the fc output until GELU reads it, then GELU's derivative there, which is
 * all backward needs of it (gelu_forward_slope). */
enum { A_LN1, A_LN1M, A_LN1R, A_QKV, A_QKN, A_QKM, A_QKR, A_ATT, A_ATTY, A_RES1, A_LN2, A_LN2M, A_LN2R, A_FCH, A_FCG,
       A_RES2, A_PER_BLOCK };
enum { A_ENC, A_LNF, A_LNFM, A_LNFR, A_LOGITS, A_CEMAX, A_CESUM, A_GLOBAL };

typedef struct {
    size_t block[A_PER_BLOCK], global[A_GLOBAL]; /* element counts */
    size_t per_block;
} ActSizes;

static ActSizes act_sizes(const GptConfig *c, size_t B, size_t T) {
    size_t BT = B * T, C = c->width, q = c->qk_norm ? 1 : 0;
    ActSizes s = {.block = {BT * C, BT, BT, BT * 3 * C, q * BT * 3 * C, q * BT * 2 * c->heads, q * BT * 2 * c->heads,
                            B * c->heads * T * T, BT * C, BT * C, BT * C, BT, BT, BT * 4 * C, BT * 4 * C, BT * C},
                  .global = {BT * C, BT * C, BT, BT, BT * c->vocab_out, BT, BT}};
    for (int i = 0; i < A_PER_BLOCK; i++) s.per_block += s.block[i];
    return s;
}

/* Pointer to activation `which` of block `layer` in base (acts or dacts). */
static scalar *act(const Gpt *g, scalar *base, size_t layer, int which) {
    ActSizes s = act_sizes(&g->cfg, g->B, g->T);
    scalar *p = base + layer * s.per_block;
    for (int i = 0; i < which; i++) p += s.block[i];
    return p;
}

static scalar *global_act(const Gpt *g, scalar *base, int which) {
    ActSizes s = act_sizes(&g->cfg, g->B, g->T);
    scalar *p = base + g->cfg.layers * s.per_block;
    for (int i = 0; i < which; i++) p += s.global[i];
    return p;
}

static void ensure_acts(Gpt *g, size_t B, size_t T) {
    if (g->acts && g->B == B && g->T == T) return;
    ActSizes s = act_sizes(&g->cfg, B, T);
    size_t total = g->cfg.layers * s.per_block;
    for (int i = 0; i < A_GLOBAL; i++) total += s.global[i];
    free(g->acts);
    free(g->dacts);
    free(g->scratch);
    g->acts = xmalloc_large(total * sizeof *g->acts);
    g->dacts = xmalloc_large(total * sizeof *g->dacts);
    g->scratch = xmalloc(T * T * sizeof *g->scratch);
    g->acts_total = total;
    g->B = B;
    g->T = T;
}

/* ------------------------------------------------------------------ forward */

scalar gpt_forward(Gpt *g, const int32_t *inputs, const int32_t *targets, const uint8_t *mask, int mask_per_sample,
                   size_t B, size_t T) {
    GptBatch b = {.inputs = inputs, .targets = targets, .mask = mask, .mask_per_sample = mask_per_sample, .B = B, .T = T};
    return gpt_forward_batch(g, &b);
}

/* The table row each of the B·T tokens reads: rows[b·T + t], or t without rows. */
static size_t row_of(const int32_t *rows, size_t bt, size_t T) { return rows ? (size_t)rows[bt] : bt % T; }

/* x (B,T,C) += table[row of each token]. */
static void add_position_rows(scalar *x, const scalar *table, const int32_t *rows, size_t B, size_t T, size_t C) {
    for (size_t bt = 0; bt < B * T; bt++) {
        const scalar *row = table + row_of(rows, bt, T) * C;
        for (size_t i = 0; i < C; i++) x[bt * C + i] += row[i];
    }
}

/* The gradient of that lookup: dtable[row of each token] += dx. */
static void scatter_position_grads(scalar *dtable, const scalar *dx, const int32_t *rows, size_t B, size_t T,
                                   size_t C) {
    for (size_t bt = 0; bt < B * T; bt++) {
        scalar *row = dtable + row_of(rows, bt, T) * C;
        for (size_t i = 0; i < C; i++) row[i] += dx[bt * C + i];
    }
}

scalar gpt_forward_batch(Gpt *g, const GptBatch *in) {
    const GptConfig *c = &g->cfg;
    const int32_t *inputs = in->inputs, *targets = in->targets;
    const uint8_t *mask = in->mask;
    int mask_per_sample = in->mask_per_sample;
    size_t B = in->B, T = in->T;
    if (T > c->max_seq) {
        fprintf(stderr, "tessera: internal error: sequence of %zu tokens, the model holds %zu\n", T, c->max_seq);
        abort();
    }
    ensure_acts(g, B, T);
    g->inputs = inputs;
    g->positions = in->positions;
    g->target_positions = in->target_positions;
    g->targets = targets;
    g->mask = mask;
    g->mask_per_sample = mask_per_sample;
    size_t BT = B * T, C = c->width, NH = c->heads;
    scalar *P = g->params, *A = g->acts;

    scalar *x = global_act(g, A, A_ENC);
    embedding_forward(x, inputs, gpt_param_at(g, P, P_WTE), BT, c->vocab_in, C);
    add_position_rows(x, gpt_param_at(g, P, P_WPE), in->positions, B, T, C);
    if (c->target_aware) add_position_rows(x, gpt_param_at(g, P, P_WTA), in->target_positions, B, T, C);

    for (size_t l = 0; l < c->layers; l++) {
        scalar *w[P_PER_BLOCK];
        for (int p = 0; p < P_PER_BLOCK; p++) w[p] = gpt_param_at(g, P, block_param(c, l, p));
        scalar *ln1 = act(g, A, l, A_LN1), *qkv = act(g, A, l, A_QKV), *atty = act(g, A, l, A_ATTY);
        scalar *res1 = act(g, A, l, A_RES1), *ln2 = act(g, A, l, A_LN2);
        scalar *fch = act(g, A, l, A_FCH), *fcg = act(g, A, l, A_FCG), *res2 = act(g, A, l, A_RES2);
        layernorm_forward(ln1, act(g, A, l, A_LN1M), act(g, A, l, A_LN1R), x, w[P_LN1W], w[P_LN1B], BT, C);
        linear_forward(qkv, ln1, w[P_QKVW], w[P_QKVB], BT, C, 3 * C);
        scalar *att_in = qkv;
        if (c->qk_norm) {
            att_in = act(g, A, l, A_QKN);
            qknorm_forward(att_in, act(g, A, l, A_QKM), act(g, A, l, A_QKR), qkv, BT, C, NH);
        }
        attention_forward(atty, act(g, A, l, A_ATT), att_in, mask, mask_per_sample, B, T, C, NH);
        linear_forward_residual(res1, x, atty, w[P_PROJW], w[P_PROJB], BT, C, C); /* res1 = x + proj(atty) */
        layernorm_forward(ln2, act(g, A, l, A_LN2M), act(g, A, l, A_LN2R), res1, w[P_LN2W], w[P_LN2B], BT, C);
        linear_forward(fch, ln2, w[P_FCW], w[P_FCB], BT, C, 4 * C);
        gelu_forward_slope(fcg, fch, fch, BT * 4 * C, c->gelu); /* fch now holds gelu'(fch) */
        linear_forward_residual(res2, res1, fcg, w[P_FCPW], w[P_FCPB], BT, 4 * C, C); /* res2 = res1 + fcproj(fcg) */
        x = res2;
    }
    scalar *lnf = global_act(g, A, A_LNF), *logits = global_act(g, A, A_LOGITS);
    layernorm_forward(lnf, global_act(g, A, A_LNFM), global_act(g, A, A_LNFR), x,
                      gpt_param_at(g, P, tail_param(c, 0)), gpt_param_at(g, P, tail_param(c, 1)), BT, C);
    linear_forward(logits, lnf, gpt_param_at(g, P, tail_param(c, 2)), NULL, BT, C, c->vocab_out);
    g->loss = 0;
    if (targets)
        g->loss = crossentropy_forward(NULL, global_act(g, A, A_CEMAX), global_act(g, A, A_CESUM), logits, targets, NULL,
                                       -1, BT, c->vocab_out);
    return g->loss;
}

const scalar *gpt_logits(const Gpt *g) { return global_act(g, g->acts, A_LOGITS); }

/* ------------------------------------------------------------------ backward */

void gpt_zero_grad(Gpt *g) { memset(g->grads, 0, g->table.total * sizeof *g->grads); }

/* Gradient slot `which` of dacts, zeroed: the layer backward passes add into their
 * gradients. Block slots are block 0's for every block (see gpt_backward). */
static scalar *zeroed_block(const Gpt *g, int which) {
    scalar *p = act(g, g->dacts, 0, which);
    memset(p, 0, act_sizes(&g->cfg, g->B, g->T).block[which] * sizeof *p);
    return p;
}

static scalar *zeroed_global(const Gpt *g, int which) {
    scalar *p = global_act(g, g->dacts, which);
    memset(p, 0, act_sizes(&g->cfg, g->B, g->T).global[which] * sizeof *p);
    return p;
}

/* Tells the hook that params [p0, p1) of the table have their final gradients. */
static void tell_ready(const Gpt *g, size_t p0, size_t p1) {
    if (!g->hook.ready || p0 >= p1) return;
    const ParamTable *t = &g->table;
    size_t first = t->offsets[p0], end = p1 < t->n ? t->offsets[p1] : t->total;
    g->hook.ready(g->hook.ctx, first, end - first);
}

static void tell_progress(const Gpt *g) {
    if (g->hook.progress) g->hook.progress(g->hook.ctx);
}

/* The gradient of the residual stream lives in one buffer, dx (the A_ENC slot of
 * dacts), through all the blocks: a residual add passes its gradient unchanged to both
 * inputs, so block l's d(res2) is also the gradient its MLP projection sees, and adding
 * the MLP path's LayerNorm gradient onto it in place gives d(res1); likewise d(res1) is
 * the attention projection's gradient and, with the attention path's LayerNorm gradient
 * added, the gradient of the block's input. The same additions in the same order as
 * copying into separate d(res1), d(proj), d(fcp) slots (bit for bit), without the
 * copies and without zeroing those slots.
 *
 * The other gradients of a block are used only inside its backward, so every block
 * works in block 0's slots. Most have one writer, which overwrites (GRAD_SET); only the
 * qkv gradient, which attention backward adds into block by block, is zeroed first.
 * (All 265 MB of dacts used to be zeroed up front at the benchmark's shape.) The rest of dacts
 * (blocks 1 to L-1; the (B,NH,T,T) probabilities' slot, whose gradient attention
 * backward keeps in g->scratch; the statistics) is never written, so never paged in. */
void gpt_backward(Gpt *g) {
    const GptConfig *c = &g->cfg;
    size_t B = g->B, T = g->T, BT = B * T, C = c->width, NH = c->heads;
    scalar *P = g->params, *G = g->grads, *A = g->acts;
    scalar *dx = zeroed_global(g, A_ENC); /* (B,T,C) */

    scalar *logits = global_act(g, A, A_LOGITS), *dlogits = zeroed_global(g, A_LOGITS);
    crossentropy_backward(dlogits, 1, logits, global_act(g, A, A_CEMAX), global_act(g, A, A_CESUM), g->targets, NULL,
                          -1, BT, c->vocab_out);
    scalar *lnf = global_act(g, A, A_LNF), *dlnf = global_act(g, g->dacts, A_LNF);
    linear_backward(dlnf, GRAD_SET, gpt_param_at(g, G, tail_param(c, 2)), NULL, dlogits, lnf,
                    gpt_param_at(g, P, tail_param(c, 2)), BT, C, c->vocab_out);
    size_t L = c->layers;
    scalar *x = L ? act(g, A, L - 1, A_RES2) : global_act(g, A, A_ENC);
    layernorm_backward(dx, gpt_param_at(g, G, tail_param(c, 0)), gpt_param_at(g, G, tail_param(c, 1)), dlnf, x,
                       gpt_param_at(g, P, tail_param(c, 0)), global_act(g, A, A_LNFM), global_act(g, A, A_LNFR), BT, C);
    tell_ready(g, tail_param(c, 0), g->table.n);

    for (size_t l = L; l-- > 0;) {
        scalar *w[P_PER_BLOCK], *dw[P_PER_BLOCK];
        for (int p = 0; p < P_PER_BLOCK; p++) {
            w[p] = gpt_param_at(g, P, block_param(c, l, p));
            dw[p] = gpt_param_at(g, G, block_param(c, l, p));
        }
        scalar *x_in = l ? act(g, A, l - 1, A_RES2) : global_act(g, A, A_ENC);
        scalar *res1 = act(g, A, l, A_RES1), *fch = act(g, A, l, A_FCH), *fcg = act(g, A, l, A_FCG);
        scalar *ln2 = act(g, A, l, A_LN2), *atty = act(g, A, l, A_ATTY), *qkv = act(g, A, l, A_QKV);
        scalar *ln1 = act(g, A, l, A_LN1);

        /* dx = d(res2) */
        scalar *dfcg = act(g, g->dacts, 0, A_FCG);
        linear_backward(dfcg, GRAD_SET, dw[P_FCPW], dw[P_FCPB], dx, fcg, w[P_FCPW], BT, 4 * C, C);
        tell_progress(g);
        scalar *dfch = dfcg; /* in place: dfcg has no other reader */
        gelu_backward_slope(dfch, GRAD_SET, dfcg, fch, BT * 4 * C); /* fch: the slope, from forward */
        scalar *dln2 = act(g, g->dacts, 0, A_LN2);
        linear_backward(dln2, GRAD_SET, dw[P_FCW], dw[P_FCB], dfch, ln2, w[P_FCW], BT, C, 4 * C);
        tell_progress(g);
        layernorm_backward(dx, dw[P_LN2W], dw[P_LN2B], dln2, res1, w[P_LN2W], act(g, A, l, A_LN2M),
                           act(g, A, l, A_LN2R), BT, C);
        /* dx = d(res1) */
        scalar *datty = act(g, g->dacts, 0, A_ATTY);
        linear_backward(datty, GRAD_SET, dw[P_PROJW], dw[P_PROJB], dx, atty, w[P_PROJW], BT, C, C);
        tell_progress(g);
        scalar *dqkv = zeroed_block(g, A_QKV);
        if (c->qk_norm) {
            scalar *dqkn = zeroed_block(g, A_QKN);
            attention_backward(dqkn, g->scratch, datty, act(g, A, l, A_QKN), act(g, A, l, A_ATT), B, T, C, NH);
            qknorm_backward(dqkv, dqkn, qkv, act(g, A, l, A_QKM), act(g, A, l, A_QKR), BT, C, NH);
        } else {
            attention_backward(dqkv, g->scratch, datty, qkv, act(g, A, l, A_ATT), B, T, C, NH);
        }
        scalar *dln1 = act(g, g->dacts, 0, A_LN1);
        linear_backward(dln1, GRAD_SET, dw[P_QKVW], dw[P_QKVB], dqkv, ln1, w[P_QKVW], BT, C, 3 * C);
        layernorm_backward(dx, dw[P_LN1W], dw[P_LN1B], dln1, x_in, w[P_LN1W], act(g, A, l, A_LN1M),
                           act(g, A, l, A_LN1R), BT, C);
        tell_ready(g, block_param(c, l, 0), block_param(c, l + 1, 0));
        /* dx = d(x_in): d(res2) of block l - 1, or of the embeddings */
    }
    embedding_backward(gpt_param_at(g, G, P_WTE), dx, g->inputs, BT, c->vocab_in, C);
    scatter_position_grads(gpt_param_at(g, G, P_WPE), dx, g->positions, B, T, C);
    if (c->target_aware) scatter_position_grads(gpt_param_at(g, G, P_WTA), dx, g->target_positions, B, T, C);
    tell_ready(g, 0, block_param(c, 0, 0));
}
