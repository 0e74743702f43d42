/* rng: a small, fast, seedable generator (xoshiro256**, seeded through splitmix64).
 * The same seed gives the same stream on every machine and rank count; its whole
 * state is four words, so checkpoints can save and restore it exactly. */
#ifndef TESSERA_RNG_H
#define TESSERA_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, n), without modulo bias. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float rng_float(Rng *r);
/* Standard normal (Box–Muller). */
double rng_normal(Rng *r);
/* A well-mixed 64-bit hash, for counter-based randomness: f(seed, i). */
uint64_t mix64(uint64_t x);

#endif
