/* gpt: the GPT-style transformer stack every sequence model here trains (iGPT, AR/RAR now;
 * MaskGIT, D-iGPT and DQ-Transformer later): token + position embeddings, L pre-LN
 * blocks (attention with a mask argument, then an MLP of width 4C), a final LayerNorm
 * and a linear head to the output vocabulary.
 *
 *   x = wte[in] + wpe[pos] (+ wta[target_pos] in a target-aware model)
 *   per block: x += proj(attention(qkv(ln1(x)), mask));  x += fcproj(gelu(fc(ln2(x))))
 *   (with qk_norm, q and k of every head are layer-normalised before attention)
 *   logits = lm(lnf(x));  loss = crossentropy(logits, targets)
 *
 * The input vocabulary may be larger than the output one (class tokens are inputs only).
 * Position ids default to the slot index t; a model that permutes its tokens (RAR) gives
 * each token the row of its own position, and with target_aware a second table adds the
 * row of the position the slot must predict (RAR's target-aware positional embedding).
 * Parameters are laid out layer by layer (nn/params.h), so each block's gradients are
 * one contiguous range of the flat buffer: a data-parallel sum can go block by block.
 * Forward keeps every activation for backward, in one allocation (llm.c style). */
#ifndef TESSERA_GPT_H
#define TESSERA_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/gelu.h"
#include "../nn/params.h"
#include "grad_sync.h"

typedef struct {
    size_t vocab_in, vocab_out; /* input ids < vocab_in; targets < vocab_out */
    size_t max_seq;             /* T at most */
    size_t positions;           /* rows of wpe (and wta); 0: max_seq */
    int target_aware;           /* a second table, wta, indexed by target positions */
    size_t layers, heads, width;
    GeluKind gelu;
    int qk_norm; /* QK-norm (nn/qknorm.h) before attention */
} GptConfig;

typedef struct {
    GptConfig cfg;
    ParamSpec *specs; /* names owned here */
    ParamTable table;
    scalar *params, *grads;
    /* activations for one (B, T) */
    size_t B, T;
    scalar *acts;
    /* gradients of the activations, laid out like acts (acts_total elements); backward
     * uses the global slots and block 0's, which every block reuses (gpt.c) */
    scalar *dacts;
    size_t acts_total;
    scalar *scratch; /* (T,T) for attention backward */
    const int32_t *inputs, *positions, *target_positions, *targets;
    const uint8_t *mask;
    int mask_per_sample;
    scalar loss;
    /* Told as backward goes (grad_sync.h): the head's and final norm's gradients are
     * ready first, then each block's from the last, then the embeddings'; progress between
     * a block's passes. Zeroed by gpt_create: nothing is told. */
    GradHook hook;
} Gpt;

/* Lays out the parameters (zeroed; gpt_init_weights fills them). */
void gpt_create(Gpt *g, const GptConfig *cfg);
void gpt_free(Gpt *g);
/* GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2L),
 * LayerNorm weights 1, biases 0. */
void gpt_init_weights(Gpt *g, uint64_t seed);

/* One forward pass's inputs. positions / target_positions: (B,T) rows of wpe / wta, or
 * NULL for t. They must stay valid until gpt_backward. */
typedef struct {
    const int32_t *inputs;           /* (B,T) ids < vocab_in */
    const int32_t *positions;        /* (B,T) < positions, or NULL */
    const int32_t *target_positions; /* (B,T) < positions, or NULL (used only when target_aware) */
    const int32_t *targets;          /* (B,T) < vocab_out or -1, or NULL */
    const uint8_t *mask;
    int mask_per_sample;
    size_t B, T;
} GptBatch;

scalar gpt_forward_batch(Gpt *g, const GptBatch *b);
/* Bytes one rank needs to train B sequences of T tokens, estimated before anything is
 * allocated: parameters, gradients and AdamW's two moments, plus the activations and
 * their gradients (per token and layer about 21 C floats and heads·T attention
 * probabilities; plus the head and logits). */
size_t gpt_training_bytes(const GptConfig *c, size_t T, size_t B);

/* Runs the model on inputs (B,T) at positions 0..T-1; with targets (B,T) returns the mean cross-entropy
 * (targets == -1 are ignored), without returns 0 and leaves only the logits. mask:
 * NULL (bidirectional), (T,T), or (B,T,T) with mask_per_sample (nn/attention.h). */
scalar gpt_forward(Gpt *g, const int32_t *inputs, const int32_t *targets, const uint8_t *mask, int mask_per_sample,
                   size_t B, size_t T);
/* The logits of the last forward pass, (B,T,vocab_out). */
const scalar *gpt_logits(const Gpt *g);
/* Zeroes the gradients (once per step), then adds d(loss)/d(params) of the last forward. */
void gpt_zero_grad(Gpt *g);
void gpt_backward(Gpt *g);

/* Generation with a key/value cache: B sequences advance one position per call, each new
 * token attending to the keys and values the earlier calls stored, so a step costs one
 * token's work instead of the whole prefix's. Causal attention only; every sequence is at
 * the same slot (raster-order sampling). */
typedef struct {
    size_t B, cap, len; /* sequences, slots held, slots filled */
    scalar *k, *v;      /* (layers, B, cap, C) */
    scalar *x, *ln, *stats, *qkv, *qkn, *y, *h, *scores, *logits; /* one slot's work buffers */
} GptCache;

void gpt_cache_init(GptCache *kc, const Gpt *g, size_t B, size_t cap);
void gpt_cache_free(GptCache *kc);
/* Feeds inputs (B) at slot kc->len, embedded at wpe[position] (+ wta[target_position]), and
 * returns the next-token logits (B, vocab_out), valid until the next call. */
const scalar *gpt_decode_step(const Gpt *g, GptCache *kc, const int32_t *inputs, size_t position,
                              size_t target_position);

#endif
