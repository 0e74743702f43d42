/* dropout: a counter-based mask (splitmix64 of seed and element index), see dropout.h. */
#include "dropout.h"

static const uint64_t GOLDEN_GAMMA = 0x9E3779B97F4A7C15ull;

/* The splitmix64 output function (Steele, Lea, Flood 2014). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int keeps(uint64_t key, uint64_t index, double p) {
    uint64_t bits = mix64(key + (index + 1) * GOLDEN_GAMMA);
    return (double)(bits >> 11) * 0x1p-53 >= p;
}

int dropout_keeps(uint64_t seed, uint64_t index, scalar p) {
    return keeps(mix64(seed), index, (double)p);
}

/* Both passes are y = mask · x / (1-p); forward overwrites, backward adds. */
static void apply(scalar *y, const scalar *x, size_t n, scalar p, uint64_t seed, uint64_t first_index,
                  int training, int accumulate) {
    if (!training || p <= 0) {
        for (size_t i = 0; i < n; i++) y[i] = accumulate ? y[i] + x[i] : x[i];
        return;
    }
    const uint64_t key = mix64(seed);
    const scalar scale = p < 1 ? 1 / (1 - p) : 0;
    for (size_t i = 0; i < n; i++) {
        scalar v = keeps(key, first_index + i, (double)p) ? x[i] * scale : 0;
        y[i] = accumulate ? y[i] + v : v;
    }
}

void dropout_forward(scalar *out, const scalar *in, size_t n, scalar p, uint64_t seed, uint64_t first_index,
                     int training) {
    apply(out, in, n, p, seed, first_index, training, 0);
}

void dropout_backward(scalar *din, const scalar *dout, size_t n, scalar p, uint64_t seed, uint64_t first_index,
                      int training) {
    apply(din, dout, n, p, seed, first_index, training, 1);
}
