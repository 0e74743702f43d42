/* gpt_layout: where each parameter of a Gpt sits in its ParamTable, shared by the
 * training passes (gpt.c) and the cached decoder (gpt_decode.c). */
#ifndef TESSERA_GPT_LAYOUT_H
#define TESSERA_GPT_LAYOUT_H

#include "gpt.h"

/* Per block, in this order (the PyTorch reference, tests/ref/ref_gpt.py, uses the same). */
enum { P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPW, P_FCPB, P_PER_BLOCK };
/* Before the blocks: wte, wpe, and wta when target-aware; after: lnfw, lnfb, lmw. */
enum { P_WTE, P_WPE, P_WTA };

static inline size_t head_params(const GptConfig *c) { return c->target_aware ? 3 : 2; }
static inline size_t block_param(const GptConfig *c, size_t layer, int which) {
    return head_params(c) + layer * P_PER_BLOCK + (size_t)which;
}
static inline size_t tail_param(const GptConfig *c, int which) {
    return head_params(c) + c->layers * P_PER_BLOCK + (size_t)which;
}
static inline size_t position_rows(const GptConfig *c) { return c->positions ? c->positions : c->max_seq; }

/* Parameter `index` of g's params (or grads, with base = g->grads). */
static inline scalar *gpt_param_at(const Gpt *g, scalar *base, size_t index) { return base + g->table.offsets[index]; }

#endif
