/* recon_metrics: how close a reconstruction is to its original, as PSNR and SSIM of uint8 images.
 *
 * Both take one image pair, H×W×C uint8, channels interleaved (the pixel-store layout), and are
 * pure functions of their arguments: thread-safe, no state between calls. tools/recon_metrics.py
 * implements the same two definitions in numpy (checked against each other by
 * tests/unit/test_recon_metrics.c on fixtures from tests/ref/ref_recon_metrics.py). */
#ifndef TESSERA_RECON_METRICS_H
#define TESSERA_RECON_METRICS_H

#include <stdint.h>

/* The PSNR of identical images, and the ceiling of every PSNR: a finite value keeps means over
 * many images finite, and capping keeps a nearly identical huge image from scoring above an
 * identical one. */
#define RECON_PSNR_MAX 100.0

/* PSNR in dB of one image pair, data range 255: 10·log10(255² / MSE) over all H·W·C values,
 * at most RECON_PSNR_MAX (which identical images give instead of infinity). NaN when the
 * images hold no pixels (H, W or C < 1). */
double recon_psnr(const uint8_t *a, const uint8_t *b, int H, int W, int C);

/* SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) with the standard constants: an 11×11 Gaussian
 * window with σ = 1.5, normalized to sum 1; K1 = 0.01, K2 = 0.03; data range L = 255; local
 * variances and covariance with population normalization (divide by the window weight sum, 1,
 * not a sample correction). The SSIM map is computed at the (H-10)×(W-10) positions where the
 * window fits inside the image (no padding) and averaged; channels are averaged. This matches
 *     skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
 *         use_sample_covariance=False, data_range=255, channel_axis=-1)
 * whose result is the mean over exactly those interior positions.
 *
 * Images smaller than 11 in a side (where skimage refuses) use a window of the largest odd size
 * ≤ min(H, W), still with σ = 1.5 and normalized: 28×28 and larger always get the standard
 * window, a 9×20 image a 9×9 one, a 1×1 image the single pixel. NaN when the images hold no
 * pixels (H, W or C < 1). Allocates at most 5·(H+2)·W doubles for the duration of the call. */
double recon_ssim(const uint8_t *a, const uint8_t *b, int H, int W, int C);

#endif
