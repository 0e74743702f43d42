/* dropout: zeroes each element with probability p during training and scales the rest by
 * 1/(1-p); the identity in evaluation.
 *
 * The mask is a pure function of (seed, element index): element i of a call is kept when
 * u(seed, first_index + i) >= p, with u(seed, index) the 0-based output number `index` of
 * a splitmix64 stream whose state starts at mix64(seed), as a double in [0, 1):
 *
 *     bits = mix64(mix64(seed) + (index + 1) · 0x9E3779B97F4A7C15)   (mod 2^64)
 *     u    = (bits >> 11) · 2^-53
 *
 * with mix64 the splitmix64 finaliser, and p compared as the double of its scalar value. No state is carried between calls, so the mask does
 * not depend on how the work is split across threads or ranks: give every dropout site
 * and step its own seed, and pass as first_index the global index of in[0] (e.g. the
 * rank's first sample × elements per sample). tests/ref/ref_dense.py reproduces the
 * formula in numpy; keep the two in step.
 *
 * Backward regenerates the mask from (seed, first_index) instead of reading a stored
 * one: a stored byte mask would cost a quarter of the activation's memory in float, the
 * hash costs a few integer operations per element, and there is no buffer that can get
 * out of step with the seed. */
#ifndef TESSERA_DROPOUT_H
#define TESSERA_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "scalar.h"

/* 1 when element `index` survives dropout with probability p under `seed`. */
int dropout_keeps(uint64_t seed, uint64_t index, scalar p);

/* training == 0 or p == 0: out = in. p >= 1 drops everything. */
void dropout_forward(scalar *out,      // (n)
                     const scalar *in, // (n)
                     size_t n, scalar p, uint64_t seed, uint64_t first_index, int training);

/* din += mask · dout / (1-p), the mask regenerated from (seed, first_index). */
void dropout_backward(scalar *din,        // (n)
                      const scalar *dout, // (n)
                      size_t n, scalar p, uint64_t seed, uint64_t first_index, int training);

#endif
