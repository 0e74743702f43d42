/* gpt: the GPT-style transformer stack every sequence model here trains (iGPT now; AR,
 * RAR, MaskGIT, D-iGPT and DQ-Transformer later): token + position embeddings, L pre-LN
 * blocks (attention with a mask argument, then an MLP of width 4C), a final LayerNorm
 * and a linear head to the output vocabulary.
 *
 *   x = wte[in] + wpe[t]
 *   per block: x += proj(attention(qkv(ln1(x)), mask));  x += fcproj(gelu(fc(ln2(x))))
 *   (with qk_norm, q and k of every head are layer-normalised before attention)
 *   logits = lm(lnf(x));  loss = crossentropy(logits, targets)
 *
 * The input vocabulary may be larger than the output one (class tokens are inputs only).
 * Parameters are laid out layer by layer (nn/params.h), so each block's gradients are
 * one contiguous range of the flat buffer: a data-parallel sum can go block by block.
 * Forward keeps every activation for backward, in one allocation (llm.c style). */
#ifndef TESSERA_GPT_H
#define TESSERA_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "../nn/gelu.h"
#include "../nn/params.h"

typedef struct {
    size_t vocab_in, vocab_out; /* input ids < vocab_in; targets < vocab_out */
    size_t max_seq;             /* T at most */
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
    const int32_t *inputs, *targets;
    const uint8_t *mask;
    int mask_per_sample;
    scalar loss;
} Gpt;

/* Lays out the parameters (zeroed; gpt_init_weights fills them). */
void gpt_create(Gpt *g, const GptConfig *cfg);
void gpt_free(Gpt *g);
/* GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2L),
 * LayerNorm weights 1, biases 0. */
void gpt_init_weights(Gpt *g, uint64_t seed);

/* Runs the model on inputs (B,T); with targets (B,T) returns the mean cross-entropy
 * (targets == -1 are ignored), without returns 0 and leaves only the logits. mask:
 * NULL (bidirectional), (T,T), or (B,T,T) with mask_per_sample (nn/attention.h). */
scalar gpt_forward(Gpt *g, const int32_t *inputs, const int32_t *targets, const uint8_t *mask, int mask_per_sample,
                   size_t B, size_t T);
/* The logits of the last forward pass, (B,T,vocab_out). */
const scalar *gpt_logits(const Gpt *g);
/* Zeroes the gradients (once per step), then adds d(loss)/d(params) of the last forward. */
void gpt_zero_grad(Gpt *g);
void gpt_backward(Gpt *g);

#endif
