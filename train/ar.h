/* ar: the class-conditional autoregressive model over VQ codes (`model = ar`), raster AR
 * and RAR (Yu et al. 2024) in one code path.
 *
 * A sample is [class token, c_τ0 … c_τ(N-2)] predicting [c_τ0 … c_τ(N-1)], where c is the
 * record's N codes in raster order and τ an order of them: the identity (raster AR) or,
 * with probability r, a fresh uniform permutation (RAR). Each input token adds the
 * positional row of its own grid position (row 0 for the class slot, 1 + τ for codes),
 * and — the target-aware embedding — a second table's row of the position it must
 * predict next, τ of the following slot. r is 1 until anneal_start, falls linearly to 0 at
 * anneal_end, then stays 0; with anneal_start = anneal_end = 0 the model is raster AR.
 * In raster order both tables reduce to one row per slot, so sampling, always raster, is
 * a plain causal GPT (train/gpt.h) run with its KV cache.
 *
 * Input ids: codes 0..K-1, then one id per class, then the null class that label dropout
 * (probability label_dropout) puts in place of the class, for classifier-free guidance.
 * An unlabelled store has no classes: every sample starts with the null class. */
#ifndef TESSERA_AR_H
#define TESSERA_AR_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "gpt.h"
#include "model.h"

extern const ModelKind AR_MODEL;
extern const ConfigKey AR_KEYS[];

enum { AR_N_DIMS = 10 };

/* What the checkpoint header records (dims, in this order). */
typedef struct {
    size_t K, classes, grid_h, grid_w; /* code range; classes (0: unlabelled); code grid */
    size_t layers, heads, width;
    int qk_norm, target_aware;
    uint32_t tokenizer_checksum; /* the CRC-32 of the tokenizer checkpoint that made the codes */
} ArShape;

void ar_shape_dims(const ArShape *s, uint64_t dims[AR_N_DIMS]);
int ar_shape_from_dims(ArShape *s, const uint64_t *dims, uint32_t n_dims, Err *err);
GptConfig ar_gpt_config(const ArShape *s, int gelu_tanh);
static inline size_t ar_seq(const ArShape *s) { return s->grid_h * s->grid_w; }
static inline int32_t ar_class_id(const ArShape *s, size_t k) { return (int32_t)(s->K + k); }
static inline int32_t ar_null_id(const ArShape *s) { return (int32_t)(s->K + s->classes); }

/* RAR's r after `progress` steps (or epochs): 1 before start, 1 - (p - start)/(end - start)
 * between, 0 from end on. */
double ar_random_order_ratio(double progress, double start, double end);

/* One training sequence of N slots from codes (N, raster order) in `order` (N grid
 * positions; NULL: raster): inputs, positions (wpe rows), target_positions (wta rows) and
 * targets, each N long. */
void ar_sequence(size_t N, const int32_t *codes, int32_t class_id, const int32_t *order, int32_t *inputs,
                 int32_t *positions, int32_t *target_positions, int32_t *targets);

/* A trained AR model, for sampling. */
typedef struct {
    ArShape shape;
    Gpt gpt;
    char *path, *tokenizer_path, *config_text;
    uint32_t checksum;
    uint64_t step;
} ArModel;

/* Refuses a file that is not an AR checkpoint, or whose config names no tokenizer,
 * naming the file. The weights are the EMA ones when the run kept them. */
int ar_model_open(ArModel *a, const char *path, Err *err);
void ar_model_close(ArModel *a);

#endif
