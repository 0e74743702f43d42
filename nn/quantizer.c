/* quantizer: nearest-code vector quantization with straight-through gradients, EMA
 * codebook updates and dead-code restarts (see quantizer.h). */
#include "quantizer.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"

/* The factor that maps v to the vector compared: 1 / max(||v||, eps) when normalizing, as
 * F.normalize, else 1. *on_sphere (may be NULL) tells whether the norm was above the clamp:
 * only then does the result have unit length and the normalization's Jacobian project. */
static double scale_of(const scalar *v, size_t D, int normalize, int *on_sphere) {
    double sq = 0;
    if (normalize)
        for (size_t d = 0; d < D; d++) sq += (double)v[d] * v[d];
    double norm = sqrt(sq);
    if (on_sphere) *on_sphere = normalize && norm > QUANTIZER_NORM_EPS;
    return normalize ? 1.0 / fmax(norm, QUANTIZER_NORM_EPS) : 1.0;
}

/* out = v, or v normalized (out may be v). */
static void compared_row(scalar *out, const scalar *v, size_t D, int normalize) {
    scalar f = (scalar)scale_of(v, D, normalize, NULL);
    for (size_t d = 0; d < D; d++) out[d] = v[d] * f;
}

static size_t chunk_rows(size_t N) { return N < QUANTIZER_CHUNK ? N : QUANTIZER_CHUNK; }

size_t quantizer_scratch_size(size_t N, const QuantizerConfig *q) {
    size_t K = (size_t)q->K, D = (size_t)q->D, rows = chunk_rows(N);
    return rows * K + K + (q->normalize ? K * D + rows * D : 0);
}

void quantizer_encode(int32_t *codes, scalar *scratch, const scalar *z, const scalar *codebook, size_t N,
                      const QuantizerConfig *q) {
    assert(q->K > 0 && q->D > 0);
    size_t K = (size_t)q->K, D = (size_t)q->D, rows = chunk_rows(N);
    scalar *dist = scratch, *esq = dist + rows * K, *en_buf = esq + K, *zn_buf = en_buf + K * D;
    const scalar *en = codebook;
    if (q->normalize) {
        for (size_t k = 0; k < K; k++) compared_row(en_buf + k * D, codebook + k * D, D, 1);
        en = en_buf;
    }
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t d = 0; d < D; d++) s += (double)en[k * D + d] * en[k * D + d];
        esq[k] = (scalar)s;
    }
    for (size_t i0 = 0; i0 < N; i0 += rows) {
        size_t n = N - i0 < rows ? N - i0 : rows;
        const scalar *zn = z + i0 * D;
        if (q->normalize) {
            for (size_t i = 0; i < n; i++) compared_row(zn_buf + i * D, zn + i * D, D, 1);
            zn = zn_buf;
        }
        /* dist (n,K) = ||e||² - 2 zn (n,D) · enᵀ (D,K): start every row at ||e||², gemm adds */
        for (size_t i = 0; i < n; i++) memcpy(dist + i * K, esq, K * sizeof *esq);
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(n), blas_int(K), blas_int(D), -2, zn,
                   blas_int(D), en, blas_int(D), 1, dist, blas_int(K));
        for (size_t i = 0; i < n; i++) {
            const scalar *di = dist + i * K;
            size_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (di[k] < di[best]) best = k; /* strict: ties keep the lowest k, as torch.argmin */
            codes[i0 + i] = (int32_t)best;
        }
    }
}

void quantizer_lookup(scalar *out, const int32_t *codes, size_t N, const scalar *codebook,
                      const QuantizerConfig *q) {
    size_t D = (size_t)q->D;
    for (size_t i = 0; i < N; i++) {
        assert(codes[i] >= 0 && codes[i] < q->K);
        compared_row(out + i * D, codebook + (size_t)codes[i] * D, D, q->normalize);
    }
}

scalar quantizer_forward(scalar *zq, int32_t *codes, scalar *scratch, const scalar *z, const scalar *codebook,
                         size_t N, const QuantizerConfig *q) {
    if (N == 0) return 0;
    size_t D = (size_t)q->D;
    quantizer_encode(codes, scratch, z, codebook, N, q);
    quantizer_lookup(zq, codes, N, codebook, q);
    /* Both loss terms have the value mean((zn - en)²); they differ only in their gradients. */
    double sq = 0;
    for (size_t i = 0; i < N; i++) {
        const scalar *zi = z + i * D, *ei = zq + i * D;
        double f = scale_of(zi, D, q->normalize, NULL);
        for (size_t d = 0; d < D; d++) {
            double diff = zi[d] * f - ei[d];
            sq += diff * diff;
        }
    }
    return (scalar)((q->beta + (q->codebook_loss ? 1 : 0)) * sq / ((double)N * (double)D));
}

/* Adds into dv the gradient g = a + c (u - w) that reaches u = fv · v (w = fx · x; a may
 * be NULL), taken back through the normalization: fv (g - u (u·g)) on the sphere, fv · g
 * under the clamp or without normalization. The projection is subtracted in a second pass
 * so that g needs no buffer. */
static void add_through_normalization(scalar *dv, const scalar *a, double c, const scalar *v, double fv,
                                      int on_sphere, const scalar *x, double fx, size_t D) {
    double ug = 0;
    for (size_t d = 0; d < D; d++) {
        double u = v[d] * fv, g = (a ? a[d] : 0) + c * (u - x[d] * fx);
        dv[d] += (scalar)(fv * g);
        ug += u * g;
    }
    if (on_sphere)
        for (size_t d = 0; d < D; d++) dv[d] -= (scalar)(fv * v[d] * fv * ug);
}

/* With M = N·D: d(loss)/d(zn_i) = 2 beta/M (zn_i - en_k) and d(loss)/d(en_k) = 2/M Σ_{i→k}
 * (en_k - zn_i), k = codes[i]; the codebook's sum is added one row i at a time. */
void quantizer_backward(scalar *dz, scalar *dcodebook, const scalar *dzq, const scalar *z, const scalar *codebook,
                        const int32_t *codes, size_t N, scalar loss_scale, const QuantizerConfig *q) {
    if (N == 0) return;
    size_t D = (size_t)q->D;
    double M = (double)N * (double)D;
    double cz = loss_scale * 2 * q->beta / M, ce = loss_scale * 2 / M;
    assert(dcodebook || !q->codebook_loss);
    for (size_t i = 0; i < N; i++) {
        assert(codes[i] >= 0 && codes[i] < q->K);
        const scalar *zi = z + i * D, *ek = codebook + (size_t)codes[i] * D;
        int z_on_sphere, e_on_sphere;
        double fz = scale_of(zi, D, q->normalize, &z_on_sphere), fe = scale_of(ek, D, q->normalize, &e_on_sphere);
        add_through_normalization(dz + i * D, dzq + i * D, cz, zi, fz, z_on_sphere, ek, fe, D);
        if (q->codebook_loss)
            add_through_normalization(dcodebook + (size_t)codes[i] * D, NULL, ce, ek, fe, e_on_sphere, zi, fz, D);
    }
}

void quantizer_ema_stats(float *counts, float *sums, const scalar *z, const int32_t *codes, size_t N,
                         const QuantizerConfig *q) {
    size_t D = (size_t)q->D;
    for (size_t i = 0; i < N; i++) {
        assert(codes[i] >= 0 && codes[i] < q->K);
        const scalar *zi = z + i * D;
        float *s = sums + (size_t)codes[i] * D;
        double f = scale_of(zi, D, q->normalize, NULL);
        counts[codes[i]] += 1;
        for (size_t d = 0; d < D; d++) s[d] += (float)(zi[d] * f);
    }
}

void quantizer_ema_update(scalar *codebook, scalar *ema_count, scalar *ema_sum, const float *counts,
                          const float *sums, double decay, double eps, const QuantizerConfig *q) {
    size_t K = (size_t)q->K, D = (size_t)q->D;
    double n = 0;
    for (size_t k = 0; k < K; k++) {
        ema_count[k] = (scalar)(decay * ema_count[k] + (1 - decay) * counts[k]);
        n += ema_count[k];
    }
    for (size_t j = 0; j < K * D; j++) ema_sum[j] = (scalar)(decay * ema_sum[j] + (1 - decay) * sums[j]);
    if (!(n > 0)) return; /* nothing ever assigned: no estimate to move the codes to */
    for (size_t k = 0; k < K; k++) {
        double c = (ema_count[k] + eps) / (n + (double)K * eps) * n;
        for (size_t d = 0; d < D; d++) codebook[k * D + d] = (scalar)(ema_sum[k * D + d] / c);
        if (q->normalize) compared_row(codebook + k * D, codebook + k * D, D, 1);
    }
}

size_t quantizer_restart_dead(scalar *codebook, scalar *usage, scalar *ema_count, scalar *ema_sum,
                              const scalar *candidates, size_t n_candidates, double threshold, uint64_t seed,
                              const QuantizerConfig *q) {
    assert(!ema_count == !ema_sum);
    size_t K = (size_t)q->K, D = (size_t)q->D, restarted = 0;
    double mean = 0;
    for (size_t k = 0; k < K; k++) mean += usage[k];
    mean /= (double)K;
    Rng rng;
    rng_seed(&rng, seed);
    size_t *order = NULL; /* a Fisher–Yates shuffle of the candidates, drawn as far as needed */
    for (size_t k = 0; k < K && restarted < n_candidates; k++) {
        if (!(usage[k] < threshold)) continue;
        if (!order) {
            order = xmalloc(n_candidates * sizeof *order);
            for (size_t j = 0; j < n_candidates; j++) order[j] = j;
        }
        size_t j = restarted + (size_t)rng_below(&rng, n_candidates - restarted), pick = order[j];
        order[j] = order[restarted];
        order[restarted++] = pick;
        scalar *e = codebook + k * D;
        compared_row(e, candidates + pick * D, D, q->normalize);
        usage[k] = (scalar)mean;
        if (ema_count) {
            ema_count[k] = usage[k];
            for (size_t d = 0; d < D; d++) ema_sum[k * D + d] = e[d] * ema_count[k];
        }
    }
    free(order);
    return restarted;
}

double quantizer_perplexity(const double *counts, int K, double *used_fraction) {
    double total = 0;
    int used = 0;
    for (int k = 0; k < K; k++) {
        total += counts[k];
        used += counts[k] > 0;
    }
    if (used_fraction) *used_fraction = K > 0 ? (double)used / K : 0;
    if (!(total > 0)) return 0;
    double entropy = 0;
    for (int k = 0; k < K; k++)
        if (counts[k] > 0) entropy -= counts[k] / total * log(counts[k] / total);
    return exp(entropy);
}
