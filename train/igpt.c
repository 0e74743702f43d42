/* igpt: a class-conditional pixel image-GPT (Chen et al. 2020, the baseline D-iGPT
 * improves on), trained on a pixel store.
 *
 * Pixels are averaged over downsample×downsample blocks, converted to grey, and
 * quantized to `palette` evenly spaced grey levels; the image becomes a raster-order
 * sequence of S = (size/downsample)² tokens. The model reads [class token, t_0 … t_{S-2}]
 * and predicts [t_0 … t_{S-1}] with causal attention: input ids are palette levels, then
 * one id per class; output ids are palette levels. Sampling draws tokens one at a time
 * (no KV cache yet) and paints each level's centre grey. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/grid.h"
#include "../core/rng.h"
#include "../core/xalloc.h"
#include "../nn/attention.h"
#include "gpt.h"
#include "model.h"

static const ConfigKey IGPT_KEYS[] = {
    {"layers", CFG_INT, "4", 1, 48, NULL, "transformer blocks"},
    {"heads", CFG_INT, "4", 1, 64, NULL, "attention heads (width must be a multiple)"},
    {"width", CFG_INT, "128", 8, 4096, NULL, "channels of the residual stream"},
    {"palette", CFG_INT, "16", 2, 256, NULL, "grey levels pixels are quantized to"},
    {"downsample", CFG_INT, "2", 1, 16, NULL, "average this many pixels per side before quantizing"},
    {"gelu", CFG_ENUM, "erf", 0, -1, "erf|tanh", "GELU form"},
    {"qk_norm", CFG_BOOL, "false", 0, -1, NULL, "layer-normalise queries and keys per head"},
    {"samples_per_class", CFG_INT, "8", 0, 64, NULL, "samples drawn for the final PNG (0: none)"},
    {"temperature", CFG_FLOAT, "1.0", 0.05, 10, NULL, "sampling temperature"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct {
    Gpt gpt;
    size_t size, side, seq, palette, classes, channels, down;
    double temperature;
    size_t samples_per_class;
    int32_t *inputs, *targets; /* (B,S) */
    uint8_t *mask;             /* (S,S) causal */
    size_t batch_cap;
} Igpt;

/* One image to S palette tokens. */
static void tokenize(const Igpt *g, const RecordView *r, int32_t *out) {
    size_t d = g->down, C = r->channels;
    for (size_t by = 0; by < g->side; by++) {
        for (size_t bx = 0; bx < g->side; bx++) {
            unsigned sum = 0;
            for (size_t y = 0; y < d; y++)
                for (size_t x = 0; x < d; x++)
                    for (size_t c = 0; c < C; c++) sum += r->payload[((by * d + y) * g->size + bx * d + x) * C + c];
            double mean = (double)sum / (double)(d * d * C);
            size_t level = (size_t)(mean * (double)g->palette / 256.0);
            out[by * g->side + bx] = (int32_t)(level < g->palette ? level : g->palette - 1);
        }
    }
}

static void ensure_batch(Igpt *g, size_t n) {
    if (n <= g->batch_cap) return;
    free(g->inputs);
    free(g->targets);
    g->inputs = xmalloc(n * g->seq * sizeof *g->inputs);
    g->targets = xmalloc(n * g->seq * sizeof *g->targets);
    g->batch_cap = n;
}

static float igpt_step(Model *m, const RecordView *examples, size_t n) {
    Igpt *g = m->state;
    ensure_batch(g, n);
    for (size_t i = 0; i < n; i++) {
        int32_t *tokens = g->targets + i * g->seq, *in = g->inputs + i * g->seq;
        tokenize(g, &examples[i], tokens);
        int32_t label = examples[i].label >= 0 && (size_t)examples[i].label < g->classes ? examples[i].label : 0;
        in[0] = (int32_t)(g->palette + (size_t)label);
        memcpy(in + 1, tokens, (g->seq - 1) * sizeof *in);
    }
    float loss = gpt_forward(&g->gpt, g->inputs, g->targets, g->mask, 0, n, g->seq);
    gpt_zero_grad(&g->gpt);
    g->gpt.hook = m->comm.grad_hook;
    gpt_backward(&g->gpt);
    return loss;
}

/* Draws one token from softmax(logits / temperature). */
static int32_t draw(const float *logits, size_t V, double temperature, Rng *r) {
    double top = -INFINITY, total = 0, p[256];
    for (size_t v = 0; v < V; v++) top = fmax(top, logits[v] / temperature);
    for (size_t v = 0; v < V; v++) total += p[v] = exp(logits[v] / temperature - top);
    double u = rng_float(r) * total;
    for (size_t v = 0; v < V; v++) {
        if ((u -= p[v]) < 0) return (int32_t)v;
    }
    return (int32_t)(V - 1);
}

static int igpt_write_samples(Model *m, const char *png, uint64_t seed, Err *err) {
    Igpt *g = m->state;
    size_t per = g->samples_per_class, classes = g->classes ? g->classes : 1, n = per * classes;
    if (n == 0) return 0;
    Rng r;
    rng_seed(&r, seed);
    int32_t *seqs = xcalloc(n * g->seq, sizeof *seqs);
    for (size_t i = 0; i < n; i++) seqs[i * g->seq] = (int32_t)(g->palette + i / per);
    int32_t *tokens = xcalloc(n * g->seq, sizeof *tokens);
    /* Token t is drawn from the logits at position t of [class, t_0 … t_{t-1}]. */
    for (size_t t = 0; t < g->seq; t++) {
        size_t T = t + 1;
        int32_t *in = xmalloc(n * T * sizeof *in);
        for (size_t i = 0; i < n; i++) memcpy(in + i * T, seqs + i * g->seq, T * sizeof *in);
        uint8_t *mask = xmalloc(T * T);
        attention_causal_mask(mask, T);
        gpt_forward(&g->gpt, in, NULL, mask, 0, n, T);
        const float *logits = gpt_logits(&g->gpt);
        for (size_t i = 0; i < n; i++) {
            int32_t tok = draw(logits + (i * T + t) * g->palette, g->palette, g->temperature, &r);
            tokens[i * g->seq + t] = tok;
            if (t + 1 < g->seq) seqs[i * g->seq + t + 1] = tok;
        }
        free(in);
        free(mask);
    }
    size_t px = g->side;
    uint8_t *pixels = xmalloc(n * px * px);
    const uint8_t **tiles = xmalloc(n * sizeof *tiles);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < px * px; k++)
            pixels[i * px * px + k] = (uint8_t)(((double)tokens[i * g->seq + k] + 0.5) * 256.0 / (double)g->palette);
        tiles[i] = pixels + i * px * px;
    }
    int rc = grid_write_png(png, tiles, classes, per, (int)px, (int)px, 1, grid_auto_scale((int)px, 56), err);
    free(tiles);
    free(pixels);
    free(tokens);
    free(seqs);
    /* Sampling reshaped the activations; training re-creates them on its next step. */
    return rc;
}

static void igpt_destroy(Model *m) {
    Igpt *g = m->state;
    gpt_free(&g->gpt);
    free(g->inputs);
    free(g->targets);
    free(g->mask);
    free(g);
    memset(m, 0, sizeof *m);
}

/* The sequence geometry and model shape a config and store give (no allocation). */
static GptConfig shape_of(const Config *c, const Meta *meta, size_t *seq_out) {
    const char *size_s = meta_get(meta, "size"), *labels = meta_get(meta, "num_labels");
    size_t size = size_s ? strtoul(size_s, NULL, 10) : 0, down = (size_t)config_int(c, "downsample");
    size_t classes = labels ? strtoul(labels, NULL, 10) : 0, side = down ? size / down : 0;
    size_t palette = (size_t)config_int(c, "palette");
    *seq_out = side * side;
    return (GptConfig){.vocab_in = palette + (classes ? classes : 1), .vocab_out = palette, .max_seq = side * side,
                       .layers = (size_t)config_int(c, "layers"), .heads = (size_t)config_int(c, "heads"),
                       .width = (size_t)config_int(c, "width"),
                       .gelu = strcmp(config_str(c, "gelu"), "tanh") ? GELU_ERF : GELU_TANH,
                       .qk_norm = config_bool(c, "qk_norm")};
}

static size_t igpt_memory_bytes(const Config *c, const Meta *meta, size_t per_rank_batch) {
    size_t seq;
    GptConfig g = shape_of(c, meta, &seq);
    return gpt_training_bytes(&g, seq, per_rank_batch);
}

static int igpt_create(Model *m, const Config *c, const Meta *meta, Err *err) {
    const char *size_s = meta_get(meta, "size"), *ch_s = meta_get(meta, "channels"), *labels = meta_get(meta, "num_labels");
    if (!size_s || !ch_s) return err_set(err, "store meta lacks size or channels");
    Igpt *g = xcalloc(1, sizeof *g);
    g->size = strtoul(size_s, NULL, 10);
    g->channels = strtoul(ch_s, NULL, 10);
    g->classes = labels ? strtoul(labels, NULL, 10) : 0;
    g->palette = (size_t)config_int(c, "palette");
    g->down = (size_t)config_int(c, "downsample");
    g->temperature = config_float(c, "temperature");
    g->samples_per_class = (size_t)config_int(c, "samples_per_class");
    size_t width = (size_t)config_int(c, "width"), heads = (size_t)config_int(c, "heads");
    int bad = g->size % g->down != 0
                  ? err_set(err, "downsample = %zu does not divide the store's size %zu", g->down, g->size)
              : width % heads != 0 ? err_set(err, "width = %zu is not a multiple of heads = %zu", width, heads)
                                   : 0;
    if (bad) {
        free(g);
        return -1;
    }
    g->side = g->size / g->down;
    g->seq = g->side * g->side;
    size_t seq;
    GptConfig gc = shape_of(c, meta, &seq);
    gpt_create(&g->gpt, &gc);
    gpt_init_weights(&g->gpt, (uint64_t)config_int(c, "seed"));
    g->mask = xmalloc(g->seq * g->seq);
    attention_causal_mask(g->mask, g->seq);
    *m = (Model){.kind = "igpt", .table = &g->gpt.table, .params = g->gpt.params, .grads = g->gpt.grads,
                 .n_dims = 10, .tokens_per_example = g->seq, .state = g, .step = igpt_step,
                 .write_samples = igpt_write_samples, .destroy = igpt_destroy};
    uint64_t dims[10] = {gc.vocab_in, gc.vocab_out, gc.max_seq, gc.layers, gc.heads, gc.width, g->palette, g->down,
                         g->size, (uint64_t)gc.qk_norm};
    memcpy(m->dims, dims, sizeof dims);
    return 0;
}

const ModelKind IGPT_MODEL = {"igpt", IGPT_KEYS, "pixels", igpt_memory_bytes, igpt_create, NULL};
