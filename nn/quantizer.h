/* quantizer: the vector-quantization bottleneck of a VQ-VAE (van den Oord et al. 2017,
 * "Neural Discrete Representation Learning"): each encoder vector is replaced by its
 * nearest codebook entry, whose index is the image token.
 *
 *   codes[i] = argmin_k ||zn_i - en_k||²        zq_i = en_{codes[i]}
 *   loss     = beta · mean((zn - sg(en))²) + [codebook_loss] mean((sg(zn) - en)²)
 *
 * sg is stop-gradient; means are over all N·D elements (F.mse_loss). The argmin has no
 * gradient, so backward uses the straight-through estimator zq = zn + sg(en - zn): the
 * gradient reaching zq passes to zn unchanged. zn, en are z and the codes as given, or,
 * with `normalize`, both l2-normalized (ViT-VQGAN, Yu et al. 2021, "Vector-quantized
 * Image Modeling with Improved VQGAN"): nearest by cosine, and no code can sit far from
 * every encoder output. The norm is clamped at 1e-12, as F.normalize does.
 *
 * Vectors are rows: z is (N, D), the codebook (K, D); the model transposes NCHW to NHWC.
 * Distances are one GEMM per chunk of at most QUANTIZER_CHUNK rows, ||e||² - 2 z·e (||z||²
 * is the same for every k and only adds rounding), so scratch stays bounded for any N.
 *
 * The codebook learns either through the second loss term or, with codebook_loss = 0, by
 * exponential moving averages of the vectors assigned to each code (VQ-VAE appendix A.1;
 * sonnet's VectorQuantizerEMA): quantizer_ema_stats counts one rank's batch, the caller
 * sums counts and sums over MPI ranks, quantizer_ema_update moves the codebook. Codes no
 * vector chooses any more are re-initialized from encoder outputs (quantizer_restart_dead,
 * as in Jukebox, Dhariwal et al. 2020, and SoundStream), and quantizer_perplexity measures
 * how much of the codebook is in use. */
#ifndef TESSERA_QUANTIZER_H
#define TESSERA_QUANTIZER_H

#include <stddef.h>
#include <stdint.h>

#include "scalar.h"

#define QUANTIZER_CHUNK 256 /* rows whose distances to all K codes are computed at once */
#define QUANTIZER_NORM_EPS 1e-12

typedef struct {
    int K, D;
    int normalize;     /* 1: compare and quantize l2-normalized z and codes (ViT-VQGAN style) */
    double beta;       /* commitment weight (0.25 default in configs) */
    int codebook_loss; /* 1: the codebook learns through the loss term ||sg(z) - e||²; 0: by EMA (no gradient to it) */
} QuantizerConfig;

/* Scalars of scratch that quantizer_forward and quantizer_encode need: the distances of
 * one chunk of rows, ||e||², and with `normalize` the normalized codebook and chunk. */
size_t quantizer_scratch_size(size_t N, const QuantizerConfig *q);

/* Nearest codes (ties: the lowest k), zq (the straight-through value en_{codes[i]}) and the
 * returned loss. */
scalar quantizer_forward(scalar *zq,              // (N, D)
                         int32_t *codes,          // (N)
                         scalar *scratch,         // quantizer_scratch_size(N, q)
                         const scalar *z,         // (N, D)
                         const scalar *codebook,  // (K, D)
                         size_t N, const QuantizerConfig *q);

/* Adds into dz and, when codebook_loss, dcodebook: dzq passes to zn unchanged, plus
 * loss_scale · d(loss)/d(zn), then back through the normalization when `normalize`; the
 * codebook receives loss_scale · d(loss)/d(en) through its normalization. dcodebook may be
 * NULL, and is left alone, when !codebook_loss. codes are forward's. */
void quantizer_backward(scalar *dz,              // (N, D)
                        scalar *dcodebook,       // (K, D)
                        const scalar *dzq,       // (N, D)
                        const scalar *z,         // (N, D)
                        const scalar *codebook,  // (K, D)
                        const int32_t *codes,    // (N)
                        size_t N, scalar loss_scale, const QuantizerConfig *q);

/* Nearest codes only (tokenize workers): no loss, no zq. */
void quantizer_encode(int32_t *codes,          // (N)
                      scalar *scratch,         // quantizer_scratch_size(N, q)
                      const scalar *z,         // (N, D)
                      const scalar *codebook,  // (K, D)
                      size_t N, const QuantizerConfig *q);

/* Codes to vectors (detokenize): out_i = en_{codes[i]}, normalized when `normalize`. Every
 * code must lie in [0, K) (asserted: codes come from our own encoders and token files,
 * which are checked where they are read). */
void quantizer_lookup(scalar *out,              // (N, D)
                      const int32_t *codes,     // (N)
                      size_t N,
                      const scalar *codebook,   // (K, D)
                      const QuantizerConfig *q);

/* EMA statistics of one batch, in float because the caller sums them over MPI ranks:
 * counts[k] += |{i : codes[i] = k}|, sums[k] += Σ of those zn_i. */
void quantizer_ema_stats(float *counts,          // (K)
                         float *sums,            // (K, D)
                         const scalar *z,        // (N, D)
                         const int32_t *codes,   // (N)
                         size_t N, const QuantizerConfig *q);

/* ema_count = decay · ema_count + (1 - decay) · counts, ema_sum likewise; then, Laplace-
 * smoothed so that an unused code does not divide by zero, with n = Σ ema_count:
 *   c_k = (ema_count[k] + eps) / (n + K·eps) · n,   codebook[k] = ema_sum[k] / c_k
 * (re-normalized when `normalize`). */
void quantizer_ema_update(scalar *codebook,       // (K, D)
                          scalar *ema_count,      // (K)
                          scalar *ema_sum,        // (K, D)
                          const float *counts,    // (K), summed over ranks
                          const float *sums,      // (K, D), summed over ranks
                          double decay, double eps, const QuantizerConfig *q);

/* Dead-code restart. usage[k] is the caller's EMA of per-step assignment counts. Every
 * code with usage[k] < threshold, in order of k, gets the next of the candidates (e.g. this
 * step's encoder outputs from all ranks) in an order drawn from `seed`, without replacement
 * (the same on every rank); normalized when `normalize`, the space the code lives in. Its
 * usage is reset to the mean usage over all codes and, when ema_count/ema_sum are not NULL,
 * ema_count[k] = usage[k] and ema_sum[k] = candidate · ema_count[k], so that the next EMA
 * update keeps it. Stops when the candidates run out; returns the number restarted. */
size_t quantizer_restart_dead(scalar *codebook,         // (K, D)
                              scalar *usage,            // (K)
                              scalar *ema_count,        // (K), or NULL
                              scalar *ema_sum,          // (K, D), or NULL
                              const scalar *candidates, // (n_candidates, D)
                              size_t n_candidates, double threshold, uint64_t seed, const QuantizerConfig *q);

/* Codebook usage from a histogram of assignments: returns the perplexity exp(-Σ p log p),
 * p = counts / Σ counts (0 log 0 = 0), between 1 (one code) and K (uniform), and stores
 * the fraction of codes used at least once into *used_fraction (when not NULL). An empty
 * histogram gives 0 and 0. */
double quantizer_perplexity(const double *counts,  // (K)
                            int K, double *used_fraction);

#endif
