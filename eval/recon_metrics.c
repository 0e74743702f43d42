/* recon_metrics: PSNR and SSIM of uint8 image pairs (definitions in recon_metrics.h).
 *
 * SSIM filters five maps (a, b, a², b², ab) with the Gaussian window. The window is the outer
 * product of a normalized 1-D Gaussian with itself, so each 2-D filtering is a horizontal pass
 * over every row followed by a vertical pass: 2·11 multiply-adds per output instead of 121.
 * All arithmetic is in double; the test holds it to 1e-6 of a numpy implementation that
 * correlates with the explicit 2-D window. */
#include "recon_metrics.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

#define SSIM_WINDOW 11
#define SSIM_SIGMA 1.5
#define SSIM_K1 0.01
#define SSIM_K2 0.03
#define DATA_RANGE 255.0

double recon_psnr(const uint8_t *a, const uint8_t *b, int H, int W, int C) {
    if (H < 1 || W < 1 || C < 1) return NAN;
    size_t n = (size_t)H * (size_t)W * (size_t)C;
    uint64_t sse = 0; /* exact: n·255² fits in 64 bits for any image that fits in memory */
    for (size_t i = 0; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        sse += (uint64_t)(d * d);
    }
    if (sse == 0) return RECON_PSNR_MAX;
    double mse = (double)sse / (double)n;
    double psnr = 10.0 * log10(DATA_RANGE * DATA_RANGE / mse);
    return psnr < RECON_PSNR_MAX ? psnr : RECON_PSNR_MAX;
}

/* The five maps in one allocation: filtered horizontally (H rows × ow) and the vertical
 * accumulators of one output row (ow each). */
enum { MAP_A, MAP_B, MAP_AA, MAP_BB, MAP_AB, N_MAPS };

double recon_ssim(const uint8_t *a, const uint8_t *b, int H, int W, int C) {
    if (H < 1 || W < 1 || C < 1) return NAN;
    int win = SSIM_WINDOW;
    if (H < win) win = H;
    if (W < win) win = W;
    if (win % 2 == 0) win--;
    double w[SSIM_WINDOW], wsum = 0;
    for (int k = 0; k < win; k++) {
        double x = k - win / 2;
        w[k] = exp(-0.5 * x * x / (SSIM_SIGMA * SSIM_SIGMA));
        wsum += w[k];
    }
    for (int k = 0; k < win; k++) w[k] /= wsum;

    const double c1 = (SSIM_K1 * DATA_RANGE) * (SSIM_K1 * DATA_RANGE);
    const double c2 = (SSIM_K2 * DATA_RANGE) * (SSIM_K2 * DATA_RANGE);
    size_t oh = (size_t)(H - win + 1), ow = (size_t)(W - win + 1), width = (size_t)W;
    size_t plane = (size_t)H * ow;
    /* rows: the five unfiltered maps of one image row; hmap: the horizontally filtered maps;
     * acc: one output row of the fully filtered maps. */
    double *mem = xmalloc((N_MAPS * width + N_MAPS * plane + N_MAPS * ow) * sizeof *mem);
    double *rows = mem, *hmap = rows + N_MAPS * width, *acc = hmap + N_MAPS * plane;

    double total = 0;
    for (int c = 0; c < C; c++) {
        /* Horizontal pass: hmap[m][y][x] = Σ_k w[k] · map_m[y][x + k]. */
        for (size_t y = 0; y < (size_t)H; y++) {
            for (size_t x = 0; x < width; x++) {
                size_t i = (y * width + x) * (size_t)C + (size_t)c;
                double va = a[i], vb = b[i];
                rows[MAP_A * width + x] = va;
                rows[MAP_B * width + x] = vb;
                rows[MAP_AA * width + x] = va * va;
                rows[MAP_BB * width + x] = vb * vb;
                rows[MAP_AB * width + x] = va * vb;
            }
            for (int m = 0; m < N_MAPS; m++) {
                double *out = hmap + m * plane + y * ow;
                const double *in = rows + m * width;
                memset(out, 0, ow * sizeof *out);
                for (int k = 0; k < win; k++)
                    for (size_t x = 0; x < ow; x++) out[x] += w[k] * in[x + (size_t)k];
            }
        }
        /* Vertical pass, one output row at a time, then the SSIM map summed over that row. */
        double sum = 0;
        for (size_t y = 0; y < oh; y++) {
            memset(acc, 0, N_MAPS * ow * sizeof *acc);
            for (int m = 0; m < N_MAPS; m++)
                for (int k = 0; k < win; k++) {
                    const double *in = hmap + m * plane + (y + (size_t)k) * ow;
                    double *out = acc + m * ow;
                    for (size_t x = 0; x < ow; x++) out[x] += w[k] * in[x];
                }
            for (size_t x = 0; x < ow; x++) {
                double mu_a = acc[MAP_A * ow + x], mu_b = acc[MAP_B * ow + x];
                double var_a = acc[MAP_AA * ow + x] - mu_a * mu_a;
                double var_b = acc[MAP_BB * ow + x] - mu_b * mu_b;
                double cov = acc[MAP_AB * ow + x] - mu_a * mu_b;
                sum += (2 * mu_a * mu_b + c1) * (2 * cov + c2) /
                       ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2));
            }
        }
        total += sum / (double)(oh * ow);
    }
    free(mem);
    return total / C;
}
