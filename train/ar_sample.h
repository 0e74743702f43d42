/* ar_sample: drawing code grids from an AR model, always in raster order, and decoding
 * them with the model's tokenizer (`tessera sample`, and the PNG at the end of training).
 *
 * Per step t (0 ≤ t < N) each sequence's next-code logits l_c (its class) and, under
 * classifier-free guidance, l_u (the null class) give
 *     l = l_u + s_t · (l_c − l_u),
 * with s_t = g constant, or RAR's pow-cosine ramp s_t = 1 + (g − 1)·½·(1 − cos(π (t/N)^p))
 * from 1 at t = 0 to g at t = N; then softmax(l / temperature), optionally only over the
 * top k logits. Guidance doubles the batch (class, null); g = 1 under `const` needs no
 * null half and skips it.
 *
 * Image i of a run draws from its own random stream, seeded by (seed, i), so what image i
 * is does not depend on the batch size, on how images are split over ranks, or on the
 * key/value cache (up to float rounding, which the tests bound). */
#ifndef TESSERA_AR_SAMPLE_H
#define TESSERA_AR_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../tokenize/tokenizer.h"
#include "ar.h"

typedef enum { GUIDANCE_CONST, GUIDANCE_POWCOS } GuidanceSchedule;

typedef struct {
    double temperature; /* > 0 */
    size_t top_k;       /* 0: all codes */
    double cfg;         /* g, the guidance scale (1: none) */
    GuidanceSchedule schedule;
    double cfg_power;   /* p of pow-cosine */
    uint64_t seed;
    int no_cache;       /* rerun the whole prefix every step (for tests and the benchmark) */
} ArSampleOptions;

ArSampleOptions ar_sample_defaults(void);

/* s_t for step t of N. */
double ar_guidance_scale(const ArSampleOptions *o, size_t t, size_t N);
/* out = uncond + s·(cond − uncond), V logits. */
void ar_guide_logits(float *out, const float *cond, const float *uncond, size_t V, double s);
/* The code u ∈ [0,1) picks from softmax(logits / temperature) over the top_k largest
 * logits (0: all; ties at the k-th value are all kept). work: V doubles. */
int32_t ar_draw(const float *logits, size_t V, double temperature, size_t top_k, double u, double *work);

/* Codes (n, N) for images first..first+n-1 of a run; classes[i] is a class index, or -1
 * for the null class (unconditional). */
void ar_sample_codes(Gpt *g, const ArShape *s, const int32_t *classes, size_t n, uint64_t first,
                     const ArSampleOptions *o, int32_t *codes);

/* Opens the tokenizer checkpoint at path, which must be the one that made the model's codes
 * (its CRC-32 is in the model's shape), else says it has changed. */
int ar_open_tokenizer(Tokenizer *tok, const char *path, const ArShape *s, Err *err);

/* per_class samples of every class (or per_class² unconditional ones) decoded by the
 * tokenizer checkpoint at tokenizer_path, as a PNG grid with one row per class. */
int ar_sample_grid(Gpt *g, const ArShape *s, const char *tokenizer_path, size_t per_class, const ArSampleOptions *o,
                   const char *png, Err *err);

#endif
