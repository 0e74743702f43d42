/* vqvae_model: the VQ-VAE as a model of `tessera train` (model = vqvae), on a pixel store.
 *
 * Besides the gradient step the trainer runs, the codebook keeps state of its own, updated
 * identically on every rank after each optimizer step from statistics summed over ranks
 * (one MPI_Allreduce of counts, sums and candidate vectors):
 *  - with codebook = ema, codes move to the EMA mean of the encoder outputs assigned to them;
 *  - usage, an EMA (usage_decay) of each code's assignments per step, finds dead codes: one
 *    whose usage falls below restart_fraction × the mean is moved onto a random encoder
 *    output of the step, so the codebook stays in use;
 *  - on the very first step the whole codebook is drawn from encoder outputs (a data-based
 *    start, as k-means would be seeded), instead of waiting for the restarts to find it.
 * Validation on the held-out store (val_store) reports PSNR, SSIM (eval/recon_metrics.h),
 * the fraction of codes used and the perplexity of their histogram; the run ends with
 * reconstructions.png, originals above their reconstructions. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/grid.h"
#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../eval/recon_metrics.h"
#include "../store/store.h"
#include "../train/held_out.h"
#include "../train/model.h"
#include "vqvae.h"
#include "vqvae_model.h"

#define CODEBOOK_EPS 1e-5 /* Laplace smoothing of the EMA counts */

typedef struct {
    VqVae net;
    double codebook_decay, restart_fraction, usage_decay;
    uint64_t seed;
    /* statistics summed over ranks after each step: counts (K), sums (K, D), then
     * candidates (ranks × per_rank, D), each rank filling its own slot */
    float *stats;
    size_t n_stats, per_rank_candidates;
    scalar *candidates;
    /* validation */
    HeldOut val;
    size_t recon_samples;
    /* the last batch's first images, for the PNG when there is no held-out store */
    uint8_t *last;
    size_t n_last;
    const uint8_t **ptrs;
    size_t ptr_cap;
} VqModel;

static size_t image_bytes(const VqVae *v) { return (size_t)v->s.height * v->s.width * v->s.channels; }

static void gather_candidates(VqModel *q, const ModelComm *comm, size_t N) {
    VqVae *v = &q->net;
    size_t D = (size_t)v->s.q.D, P = q->per_rank_candidates;
    float *slots = q->stats + (size_t)v->s.q.K * (1 + D);
    memset(slots, 0, (size_t)comm->size * P * D * sizeof *slots);
    float *mine = slots + (size_t)comm->rank * P * D;
    /* Counter-based picks (seed, rank, update count): a resumed run picks what the
     * uninterrupted one would have, with no generator state to save. */
    uint64_t updates = (uint64_t)*vqvae_param(v, v->initialized);
    Rng rng;
    rng_seed(&rng, q->seed ^ mix64(((uint64_t)comm->rank << 40) ^ updates ^ 0xca4d1da7e5ULL));
    for (size_t j = 0; j < P; j++) {
        const scalar *row = v->z + rng_below(&rng, N) * D;
        for (size_t d = 0; d < D; d++) mine[j * D + d] = (float)row[d];
    }
}

static void candidates_from_stats(VqModel *q, const ModelComm *comm) {
    size_t D = (size_t)q->net.s.q.D, n = (size_t)comm->size * q->per_rank_candidates;
    const float *slots = q->stats + (size_t)q->net.s.q.K * (1 + D);
    for (size_t k = 0; k < n * D; k++) q->candidates[k] = (scalar)slots[k];
}

/* The first step: every code starts at an encoder output, all ranks alike. */
static void init_codebook(VqModel *q, const ModelComm *comm, size_t N) {
    VqVae *v = &q->net;
    size_t K = (size_t)v->s.q.K, D = (size_t)v->s.q.D;
    gather_candidates(q, comm, N);
    comm->sum_floats(q->stats, q->n_stats);
    candidates_from_stats(q, comm);
    scalar *usage = vqvae_param(v, v->usage), *count = vqvae_param(v, v->ema_count), *sum = vqvae_param(v, v->ema_sum);
    scalar *codebook = vqvae_param(v, v->codebook);
    memset(usage, 0, K * sizeof *usage);
    quantizer_restart_dead(codebook, usage, NULL, NULL, q->candidates, (size_t)comm->size * q->per_rank_candidates,
                           1.0, q->seed ^ 0x1417, &v->s.q);
    double expected = (double)N * comm->size / (double)K; /* assignments per code and step, if even */
    for (size_t k = 0; k < K; k++) {
        usage[k] = count[k] = (scalar)expected;
        for (size_t d = 0; d < D; d++) sum[k * D + d] = codebook[k * D + d] * count[k];
    }
    *vqvae_param(v, v->initialized) = 1;
}

static float vq_step(Model *m, const RecordView *examples, size_t n) {
    VqModel *q = m->state;
    VqVae *v = &q->net;
    if (n > q->ptr_cap) {
        q->ptrs = xrealloc(q->ptrs, n * sizeof *q->ptrs);
        q->ptr_cap = n;
    }
    for (size_t i = 0; i < n; i++) q->ptrs[i] = examples[i].payload;
    size_t N = n * (size_t)v->grid_h * v->grid_w;
    vqvae_reserve(v, n);
    if (*vqvae_param(v, v->initialized) == 0) {
        vqvae_encode_forward(v, q->ptrs, n);
        init_codebook(q, &m->comm, N);
    }
    memset(v->grads, 0, v->table.total * sizeof *v->grads);
    double recon, quant;
    float loss = vqvae_train_forward_backward(v, q->ptrs, n, &recon, &quant);
    /* This step's statistics, summed over ranks in after_update. */
    size_t K = (size_t)v->s.q.K, D = (size_t)v->s.q.D;
    memset(q->stats, 0, K * (1 + D) * sizeof *q->stats);
    quantizer_ema_stats(q->stats, q->stats + K, v->z, v->codes, N, &v->s.q);
    gather_candidates(q, &m->comm, N);
    q->n_last = n < q->recon_samples ? n : q->recon_samples;
    for (size_t i = 0; i < q->n_last; i++) memcpy(q->last + i * image_bytes(v), q->ptrs[i], image_bytes(v));
    m->step_measures.n = 0;
    measures_add(&m->step_measures, "recon_loss", recon);
    measures_add(&m->step_measures, "quantizer_loss", quant);
    return loss;
}

static void vq_after_update(Model *m, uint64_t step) {
    VqModel *q = m->state;
    VqVae *v = &q->net;
    size_t K = (size_t)v->s.q.K;
    m->comm.sum_floats(q->stats, q->n_stats);
    const float *counts = q->stats, *sums = q->stats + K;
    scalar *usage = vqvae_param(v, v->usage), *ema_count = vqvae_param(v, v->ema_count);
    scalar *ema_sum = vqvae_param(v, v->ema_sum), *codebook = vqvae_param(v, v->codebook);
    double total = 0, *hist = xmalloc(K * sizeof *hist);
    for (size_t k = 0; k < K; k++) {
        total += counts[k];
        hist[k] = counts[k];
        usage[k] = (scalar)(q->usage_decay * usage[k] + (1 - q->usage_decay) * counts[k]);
    }
    if (!v->s.q.codebook_loss)
        quantizer_ema_update(codebook, ema_count, ema_sum, counts, sums, q->codebook_decay, CODEBOOK_EPS, &v->s.q);
    if (q->restart_fraction > 0) {
        candidates_from_stats(q, &m->comm);
        int ema = !v->s.q.codebook_loss;
        *vqvae_param(v, v->restarted) += (scalar)quantizer_restart_dead(
            codebook, usage, ema ? ema_count : NULL, ema ? ema_sum : NULL, q->candidates,
            (size_t)m->comm.size * q->per_rank_candidates, q->restart_fraction * total / (double)K, q->seed ^ mix64(step),
            &v->s.q);
    }
    *vqvae_param(v, v->initialized) += 1; /* counts updates (exact in float up to 2^24) */
    double used;
    double perplexity = quantizer_perplexity(hist, (int)K, &used);
    free(hist);
    measures_add(&m->step_measures, "perplexity", perplexity);
    measures_add(&m->step_measures, "codes_restarted", (double)*vqvae_param(v, v->restarted));
}

/* ------------------------------------------------------------------ validation */

enum { VAL_CHUNK = 64 };

/* Reads the held-out records `indices` (at most VAL_CHUNK) into q->ptrs. */
static int read_images(VqModel *q, StoreRead *sr, const uint64_t *indices, size_t n, Err *err) {
    RecordView records[VAL_CHUNK];
    if (held_out_read(&q->val, sr, indices, n, records, err) != 0) return -1;
    for (size_t i = 0; i < n; i++) q->ptrs[i] = records[i].payload;
    return 0;
}

static int vq_validate(Model *m, Measures *out, Err *err) {
    VqModel *q = m->state;
    VqVae *v = &q->net;
    if (!q->val.open) return 0;
    size_t K = (size_t)v->s.q.K, cells = (size_t)v->grid_h * v->grid_w, bytes = image_bytes(v);
    enum { PSNR, SSIM, IMAGES, FAILED, HIST }; /* the sums, then the code histogram */
    double *sums = xcalloc(HIST + K, sizeof *sums);
    int32_t *codes = xmalloc(VAL_CHUNK * cells * sizeof *codes);
    uint8_t *recon = xmalloc(VAL_CHUNK * bytes);
    uint64_t idx[VAL_CHUNK];
    if (q->ptr_cap < VAL_CHUNK) {
        q->ptrs = xrealloc(q->ptrs, VAL_CHUNK * sizeof *q->ptrs);
        q->ptr_cap = VAL_CHUNK;
    }
    int rc = 0;
    uint64_t i = (uint64_t)m->comm.rank;
    while (rc == 0 && i < q->val.count) {
        size_t n = 0;
        for (; n < VAL_CHUNK && i < q->val.count; i += (uint64_t)m->comm.size) idx[n++] = i;
        StoreRead sr;
        if ((rc = store_read_begin(&q->val.store, &sr, err)) != 0) break;
        if ((rc = read_images(q, &sr, idx, n, err)) == 0) {
            vqvae_tokenize(v, q->ptrs, n, codes);
            vqvae_detokenize(v, codes, n, recon);
            for (size_t k = 0; k < n; k++) {
                sums[PSNR] += recon_psnr(q->ptrs[k], recon + k * bytes, v->s.height, v->s.width, v->s.channels);
                sums[SSIM] += recon_ssim(q->ptrs[k], recon + k * bytes, v->s.height, v->s.width, v->s.channels);
            }
            sums[IMAGES] += (double)n;
            for (size_t k = 0; k < n * cells; k++) sums[HIST + codes[k]] += 1;
        }
        store_read_end(&sr);
    }
    /* Every rank reaches the sum, even one that failed, so none is left waiting. */
    sums[FAILED] = rc != 0;
    m->comm.sum_doubles(sums, HIST + K);
    if (rc == 0 && sums[FAILED] > 0) rc = err_set(err, "validation failed on another rank");
    if (rc == 0 && sums[IMAGES] > 0) {
        double used, perplexity = quantizer_perplexity(sums + HIST, (int)K, &used);
        measures_add(out, "psnr", sums[PSNR] / sums[IMAGES]);
        measures_add(out, "ssim", sums[SSIM] / sums[IMAGES]);
        measures_add(out, "codebook_usage", used);
        measures_add(out, "perplexity", perplexity);
    }
    free(sums);
    free(codes);
    free(recon);
    return rc;
}

/* Originals (top row) above their reconstructions: held-out images when there are any. */
static int vq_write_samples(Model *m, const char *png, uint64_t seed, Err *err) {
    (void)seed;
    VqModel *q = m->state;
    VqVae *v = &q->net;
    size_t n = q->recon_samples, bytes = image_bytes(v), cells = (size_t)v->grid_h * v->grid_w;
    uint8_t *originals = xmalloc((n ? n : 1) * bytes);
    int rc = 0;
    if (q->val.open) {
        n = n < q->val.count ? n : (size_t)q->val.count;
        StoreRead sr;
        uint64_t idx[64];
        for (size_t i = 0; i < n; i++) idx[i] = i;
        if (n && (rc = store_read_begin(&q->val.store, &sr, err)) == 0) {
            if ((rc = read_images(q, &sr, idx, n, err)) == 0)
                for (size_t i = 0; i < n; i++) memcpy(originals + i * bytes, q->ptrs[i], bytes);
            store_read_end(&sr);
        }
    } else {
        n = q->n_last;
        memcpy(originals, q->last, n * bytes);
    }
    if (rc != 0 || n == 0) {
        free(originals);
        return rc;
    }
    uint8_t *recon = xmalloc(n * bytes);
    int32_t *codes = xmalloc(n * cells * sizeof *codes);
    const uint8_t **tiles = xmalloc(2 * n * sizeof *tiles);
    for (size_t i = 0; i < n; i++) tiles[i] = originals + i * bytes;
    vqvae_tokenize(v, tiles, n, codes);
    vqvae_detokenize(v, codes, n, recon);
    for (size_t i = 0; i < n; i++) tiles[n + i] = recon + i * bytes;
    rc = grid_write_png(png, tiles, 2, n, v->s.height, v->s.width, v->s.channels, grid_auto_scale(v->s.height, 56), err);
    free(tiles);
    free(codes);
    free(recon);
    free(originals);
    return rc;
}

static void vq_destroy(Model *m) {
    VqModel *q = m->state;
    vqvae_free(&q->net);
    held_out_close(&q->val);
    free(q->stats);
    free(q->candidates);
    free(q->last);
    free(q->ptrs);
    free(q);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ creation */

static int image_shape(const Meta *meta, int *h, int *w, int *c) {
    const char *hs = meta_get(meta, "height"), *ws = meta_get(meta, "width"), *cs = meta_get(meta, "channels");
    if (!hs || !ws || !cs) return -1;
    *h = atoi(hs);
    *w = atoi(ws);
    *c = atoi(cs);
    return *h > 0 && *w > 0 && *c > 0 ? 0 : -1;
}

static size_t vq_memory_bytes(const Config *c, const Meta *meta, size_t per_rank_batch) {
    int h, w, ch;
    VqVaeShape s;
    Err err;
    if (image_shape(meta, &h, &w, &ch) != 0 || vqvae_shape(&s, c, h, w, ch, &err) != 0) return 0; /* create says why */
    return vqvae_memory_bytes(&s, per_rank_batch > VAL_CHUNK ? per_rank_batch : VAL_CHUNK);
}

static int vq_create(Model *m, const Config *c, const Meta *meta, Err *err) {
    int h, w, ch;
    if (image_shape(meta, &h, &w, &ch) != 0) return err_set(err, "store meta lacks height, width or channels");
    VqVaeShape s;
    if (vqvae_shape(&s, c, h, w, ch, err) != 0) return -1;
    VqModel *q = xcalloc(1, sizeof *q);
    vqvae_create(&q->net, &s);
    q->seed = (uint64_t)config_int(c, "seed");
    vqvae_init_weights(&q->net, q->seed);
    q->codebook_decay = config_float(c, "codebook_decay");
    q->restart_fraction = config_float(c, "restart_fraction");
    q->usage_decay = config_float(c, "usage_decay");
    q->recon_samples = (size_t)config_int(c, "recon_samples");
    q->last = xmalloc((q->recon_samples ? q->recon_samples : 1) * image_bytes(&q->net));
    *m = (Model){.kind = "vqvae", .table = &q->net.table, .params = q->net.params, .grads = q->net.grads,
                 .n_dims = VQVAE_N_DIMS, .state = q, .step = vq_step, .after_update = vq_after_update,
                 .validate = vq_validate, .validate_every = (uint64_t)config_int(c, "val_every"),
                 .write_samples = vq_write_samples, .samples_name = "reconstructions.png", .destroy = vq_destroy};
    vqvae_shape_dims(&s, m->dims);
    if (held_out_open(&q->val, c, s.height, s.width, s.channels, err) != 0) {
        vq_destroy(m);
        return -1;
    }
    return 0;
}

/* The statistics are sized once the trainer knows the rank count (comm is set after create). */
static void size_stats(VqModel *q, int ranks) {
    size_t K = (size_t)q->net.s.q.K, D = (size_t)q->net.s.q.D;
    q->per_rank_candidates = (K + (size_t)ranks - 1) / (size_t)ranks;
    size_t cands = (size_t)ranks * q->per_rank_candidates;
    q->n_stats = K * (1 + D) + cands * D;
    q->stats = xcalloc(q->n_stats, sizeof *q->stats);
    q->candidates = xmalloc(cands * D * sizeof *q->candidates);
}

static float vq_first_step(Model *m, const RecordView *examples, size_t n) {
    VqModel *q = m->state;
    size_stats(q, m->comm.size);
    m->step = vq_step;
    return vq_step(m, examples, n);
}

static int vq_create_model(Model *m, const Config *c, const Meta *meta, Err *err) {
    if (vq_create(m, c, meta, err) != 0) return -1;
    m->step = vq_first_step;
    return 0;
}

const ModelKind VQVAE_MODEL = {"vqvae", VQVAE_KEYS, "pixels", vq_memory_bytes, vq_create_model, NULL};
