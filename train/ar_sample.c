/* ar_sample: raster-order sampling with guidance, temperature and top-k (see ar_sample.h). */
#include "ar_sample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/grid.h"
#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../nn/attention.h"

ArSampleOptions ar_sample_defaults(void) {
    return (ArSampleOptions){.temperature = 1.0, .top_k = 0, .cfg = 1.0, .schedule = GUIDANCE_CONST, .cfg_power = 0,
                             .seed = 1};
}

double ar_guidance_scale(const ArSampleOptions *o, size_t t, size_t N) {
    if (o->schedule == GUIDANCE_CONST) return o->cfg;
    double ramp = pow((double)t / (double)N, o->cfg_power); /* pow(0, 0) = 1: p = 0 is constant g */
    return 1 + (o->cfg - 1) * 0.5 * (1 - cos(M_PI * ramp));
}

void ar_guide_logits(float *out, const float *cond, const float *uncond, size_t V, double s) {
    for (size_t v = 0; v < V; v++) out[v] = (float)((double)uncond[v] + s * ((double)cond[v] - (double)uncond[v]));
}

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int32_t ar_draw(const float *logits, size_t V, double temperature, size_t top_k, double u, double *work) {
    double floor = -INFINITY, top = -INFINITY, total = 0;
    if (top_k && top_k < V) {
        for (size_t v = 0; v < V; v++) work[v] = logits[v];
        qsort(work, V, sizeof *work, descending);
        floor = work[top_k - 1];
    }
    for (size_t v = 0; v < V; v++) top = fmax(top, (double)logits[v]);
    for (size_t v = 0; v < V; v++)
        total += work[v] = logits[v] >= floor ? exp(((double)logits[v] - top) / temperature) : 0;
    double target = u * total;
    int32_t last = 0;
    for (size_t v = 0; v < V; v++) {
        if (work[v] == 0) continue;
        last = (int32_t)v;
        if ((target -= work[v]) < 0) return last;
    }
    return last; /* u·total rounded up past the sum */
}

/* Row r's next-code logits after the step: the cached decoder's, or slot t of a full pass. */
static const float *row_logits(const float *logits, size_t r, size_t t, size_t T, size_t V, int cached) {
    return cached ? logits + r * V : logits + (r * T + t) * V;
}

void ar_sample_codes(Gpt *g, const ArShape *s, const int32_t *classes, size_t n, uint64_t first,
                     const ArSampleOptions *o, int32_t *codes) {
    size_t N = ar_seq(s), V = s->K;
    int guided = !(o->schedule == GUIDANCE_CONST && o->cfg == 1.0), cached = !o->no_cache;
    size_t rows = guided ? 2 * n : n;
    Rng *streams = xmalloc(n * sizeof *streams);
    for (size_t i = 0; i < n; i++) rng_seed(&streams[i], mix64(o->seed * 0x9e3779b97f4a7c15ULL ^ mix64(first + i + 1)));
    int32_t *next = xmalloc(rows * sizeof *next); /* each row's token for the coming slot */
    for (size_t i = 0; i < n; i++) {
        next[i] = classes[i] >= 0 ? ar_class_id(s, (size_t)classes[i]) : ar_null_id(s);
        if (guided) next[n + i] = ar_null_id(s);
    }
    float *mixed = xmalloc(V * sizeof *mixed);
    double *work = xmalloc(V * sizeof *work);
    GptCache kc;
    int32_t *history = NULL, *prefix = NULL;
    uint8_t *mask = NULL;
    if (cached) {
        gpt_cache_init(&kc, g, rows, N);
    } else {
        history = xmalloc(rows * N * sizeof *history);
        prefix = xmalloc(rows * N * sizeof *prefix);
        mask = xmalloc(N * N);
    }
    for (size_t t = 0; t < N; t++) {
        const float *logits;
        size_t T = t + 1;
        if (cached) {
            /* Raster order: slot t sits at wpe row t and predicts grid position t (wta row t). */
            logits = gpt_decode_step(g, &kc, next, t, t);
        } else {
            for (size_t r = 0; r < rows; r++) {
                history[r * N + t] = next[r];
                memcpy(prefix + r * T, history + r * N, T * sizeof *prefix);
            }
            attention_causal_mask(mask, T);
            gpt_forward(g, prefix, NULL, mask, 0, rows, T);
            logits = gpt_logits(g);
        }
        double scale = ar_guidance_scale(o, t, N);
        for (size_t i = 0; i < n; i++) {
            const float *l = row_logits(logits, i, t, T, V, cached);
            if (guided) {
                ar_guide_logits(mixed, l, row_logits(logits, n + i, t, T, V, cached), V, scale);
                l = mixed;
            }
            int32_t code = ar_draw(l, V, o->temperature, o->top_k, rng_float(&streams[i]), work);
            codes[i * N + t] = code;
            next[i] = code;
            if (guided) next[n + i] = code;
        }
    }
    if (cached) gpt_cache_free(&kc);
    free(history);
    free(prefix);
    free(mask);
    free(mixed);
    free(work);
    free(next);
    free(streams);
}

int ar_open_tokenizer(Tokenizer *tok, const char *path, const ArShape *s, Err *err) {
    if (tokenizer_open(tok, path, 0, 0, err) != 0) return -1;
    if (tok->checksum != s->tokenizer_checksum || (size_t)tok->K != s->K || (size_t)tok->grid_h != s->grid_h ||
        (size_t)tok->grid_w != s->grid_w) {
        err_set(err, "tokenizer %s has changed since the model trained on its codes (CRC-32 %08x, was %08x)", path,
                tok->checksum, s->tokenizer_checksum);
        tokenizer_close(tok);
        return -1;
    }
    return 0;
}

int ar_sample_grid(Gpt *g, const ArShape *s, const char *tokenizer_path, size_t per_class, const ArSampleOptions *o,
                   const char *png, Err *err) {
    Tokenizer tok;
    if (ar_open_tokenizer(&tok, tokenizer_path, s, err) != 0) return -1;
    size_t rows = s->classes ? s->classes : per_class, n = rows * per_class, N = ar_seq(s);
    size_t image = (size_t)tok.height * tok.width * tok.channels;
    int32_t *classes = xmalloc(n * sizeof *classes), *codes = xmalloc(n * N * sizeof *codes);
    for (size_t i = 0; i < n; i++) classes[i] = s->classes ? (int32_t)(i / per_class) : -1;
    ArSampleOptions unguided = *o;
    if (!s->classes) unguided.cfg = 1.0, unguided.schedule = GUIDANCE_CONST;
    ar_sample_codes(g, s, classes, n, 0, &unguided, codes);
    uint8_t *pixels = xmalloc(n * image);
    vqvae_detokenize(&tok.net, codes, n, pixels);
    const uint8_t **tiles = xmalloc(n * sizeof *tiles);
    for (size_t i = 0; i < n; i++) tiles[i] = pixels + i * image;
    int rc = grid_write_png(png, tiles, rows, per_class, tok.height, tok.width, tok.channels,
                            grid_auto_scale(tok.height, 56), err);
    free(tiles);
    free(pixels);
    free(codes);
    free(classes);
    tokenizer_close(&tok);
    return rc;
}
