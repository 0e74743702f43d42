/* tokenize_bench: single-thread throughput of the VQ-VAE tokenizer's encoder (what each
 * `tessera tokenize` worker runs per image) against the single-thread sgemm rate of the
 * same OpenBLAS, measured in the same process.
 *
 *   tokenize_bench CKPT [--store PIXELS] [--images N] [--batch B] [--reps R] [--no-peak]
 *                  [--breakdown]
 *
 * The tokenizer is loaded with tokenizer_open (EMA weights if the run kept them) at its
 * training size. Images are the first N records of a pixel store (cycled if it holds
 * fewer), or seeded random pixels without --store. vqvae_tokenize runs over all N at
 * batch 1, as pool workers call it, and at batch B (default 64, vqvae.c's inference
 * chunk); the two alternate for R rounds (default 5) after one warm-up, and each reports
 * the median round.
 *
 * FLOPs per image are counted from the encoder's ConvNet: 2·C_out·C_in·KH·KW·OH·OW for
 * every NODE_CONV (groupnorm, SiLU, residual adds, bias adds, the pixel conversion and
 * the argmin are not counted), plus the quantizer's distance GEMM, 2·cells·K·D.
 *
 * The sgemm rates are taken single-threaded: 1024³, and every GEMM shape the encoder
 * runs (a conv is weight (C_out × C_in·KH·KW) · im2col (C_in·KH·KW × OH·OW), one GEMM per
 * image whatever the batch; the quantizer is (rows × D) · codebookᵀ (D × K)). From those
 * follows the "GEMM ceiling": the encoder's rate if it spent time only in its GEMMs, each
 * at its shape's measured rate.
 *
 * --breakdown re-runs the encoder node by node with the same layer calls as
 * nn/convnet.c and conv2d.c (im2col, GEMM, bias, groupnorm, SiLU, add), checks that the
 * codes equal vqvae_tokenize's, and prints the time per part and per conv node.
 *
 * OPENBLAS_NUM_THREADS does not matter: openblas_set_num_threads(1) is called first, as
 * in tokenize/job_tokenize.c. The last line is "RESULT key=value ..." for
 * bench/run_tokenize_bench.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/conv2d.h"
#include "nn/groupnorm.h"
#include "nn/quantizer.h"
#include "nn/silu.h"
#include "store/store.h"
#include "tokenize/tokenizer.h"
#include "median.h"


/* ------------------------------------------------------------------ sgemm rates */

/* GFLOP/s of C (M,N) = A (M,K) · op(B), row-major as conv2d and the quantizer call it
 * (tb: B stored (N,K), as the codebook). Small shapes take microseconds, so each sample
 * repeats the call until it lasts at least 20 ms; the best of 5 samples is kept. */
static double sgemm_rate(int M, int N, int K, int tb) {
    Rng r;
    rng_seed(&r, 7);
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *A = xmalloc(na * sizeof *A), *B = xmalloc(nb * sizeof *B), *C = xmalloc(nc * sizeof *C);
    for (size_t i = 0; i < na; i++) A[i] = rng_float(&r) - 0.5f;
    for (size_t i = 0; i < nb; i++) B[i] = rng_float(&r) - 0.5f;
    int ldb = tb ? K : N;
    long calls = 1;
    double best = 1e30;
    for (int sample = -1; sample < 5;) {
        double t0 = now_seconds();
        for (long c = 0; c < calls; c++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, K, B, ldb,
                        0.0f, C, N);
        double t = now_seconds() - t0;
        if (t < 0.02 && calls < (1L << 30)) { /* too short to time: more calls, same sample */
            calls *= 2;
            continue;
        }
        if (sample >= 0 && t / (double)calls < best) best = t / (double)calls; /* sample -1 warms up */
        sample++;
    }
    free(A);
    free(B);
    free(C);
    return 2.0 * M * N * K / best / 1e9;
}

/* One GEMM shape of the encoder, how many FLOPs per image it does, and its sgemm rate. */
typedef struct {
    int M, N, K, tb;
    double flops_per_image, gflops;
    char what[64];
} GemmShape;

/* Adds flops to the entry of this shape, or appends one. */
static void add_shape(GemmShape *s, int *n, int M, int N, int K, int tb, double flops, const char *what) {
    for (int i = 0; i < *n; i++)
        if (s[i].M == M && s[i].N == N && s[i].K == K && s[i].tb == tb) {
            s[i].flops_per_image += flops;
            return;
        }
    s[*n] = (GemmShape){.M = M, .N = N, .K = K, .tb = tb, .flops_per_image = flops};
    snprintf(s[*n].what, sizeof s[*n].what, "%s", what);
    (*n)++;
}

/* ------------------------------------------------------------------ the encoder, node by node */

enum { PART_INPUT, PART_IM2COL, PART_GEMM, PART_BIAS, PART_GROUPNORM, PART_SILU, PART_ADD, PART_TO_ROWS,
       PART_QUANTIZER, N_PARTS };
static const char *PART_NAMES[N_PARTS] = {"pixels to floats", "im2col",  "conv GEMMs", "conv bias",
                                          "groupnorm",        "SiLU",    "residual add",
                                          "maps to rows",     "quantizer (distance GEMM + argmin)"};

typedef struct {
    double part[N_PARTS];
    double *node; /* per encoder node */
} Breakdown;

static const scalar *node_param(const ConvNet *n, int spec) { return spec < 0 ? NULL : n->params + n->offsets[spec]; }
static scalar *node_act(const ConvNet *n, int i, int B) { return n->acts + n->nodes[i].act * (size_t)B; }

/* vqvae_tokenize of m ≤ v->cap images, with every layer timed: the same calls in the same
 * order as vqvae_encode_forward, convnet_forward and conv2d_forward, so the codes match. */
static void tokenize_timed(VqVae *v, const uint8_t *const *images, size_t m, int32_t *codes, Breakdown *bd) {
    ConvNet *n = &v->enc;
    const VqVaeShape *s = &v->s;
    int B = (int)m;
    size_t C = (size_t)s->channels, HW = (size_t)s->height * s->width;
    double t = now_seconds(), t1;
#define LAP(which, node_index)                                                                                         \
    do {                                                                                                               \
        t1 = now_seconds();                                                                                            \
        bd->part[which] += t1 - t;                                                                                     \
        if ((node_index) >= 0) bd->node[node_index] += t1 - t;                                                         \
        t = t1;                                                                                                        \
    } while (0)
    scalar *x = convnet_input(n);
    for (size_t b = 0; b < m; b++)
        for (size_t p = 0; p < HW; p++)
            for (size_t c = 0; c < C; c++) x[(b * C + c) * HW + p] = (scalar)(images[b][p * C + c] / 127.5 - 1.0);
    LAP(PART_INPUT, -1);
    n->batch = B;
    for (int i = 1; i < n->n_nodes; i++) {
        ConvNode *d = &n->nodes[i];
        scalar *out = node_act(n, i, B);
        const scalar *in = node_act(n, d->in, B);
        size_t count = (size_t)B * d->C * d->H * d->W;
        switch (d->kind) {
        case NODE_CONV: {
            const ConvDims *cd = &d->dims;
            int OH = conv2d_out_h(cd), OW = conv2d_out_w(cd);
            size_t np = (size_t)OH * OW, k = (size_t)cd->C_in * cd->KH * cd->KW;
            size_t in_size = (size_t)cd->C_in * cd->H * cd->W, out_size = (size_t)cd->C_out * np;
            int pointwise = cd->KH == 1 && cd->KW == 1 && cd->stride == 1 && cd->pad == 0;
            const scalar *w = node_param(n, d->weight), *bias = node_param(n, d->bias);
            for (int b = 0; b < B; b++) {
                const scalar *xi = in + b * in_size, *col = xi;
                scalar *y = out + b * out_size;
                if (!pointwise) {
                    conv2d_im2col(n->scratch, xi, cd->C_in, cd->H, cd->W, cd->KH, cd->KW, cd->stride, cd->pad, OH, OW);
                    col = n->scratch;
                    LAP(PART_IM2COL, i);
                }
                cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cd->C_out, (int)np, (int)k, 1, w, (int)k, col,
                           (int)np, 0, y, (int)np);
                LAP(PART_GEMM, i);
                for (int oc = 0; oc < cd->C_out; oc++)
                    for (size_t j = 0; j < np; j++) y[oc * np + j] += bias[oc];
                LAP(PART_BIAS, i);
            }
            break;
        }
        case NODE_GROUPNORM: {
            scalar *mean = n->stats + d->stats * (size_t)B, *rstd = mean + (size_t)B * d->groups;
            groupnorm_forward(out, mean, rstd, in, node_param(n, d->weight), node_param(n, d->bias), B, d->C, d->H,
                              d->W, d->groups);
            LAP(PART_GROUPNORM, i);
            break;
        }
        case NODE_SILU:
            silu_forward(out, in, count);
            LAP(PART_SILU, i);
            break;
        case NODE_ADD: {
            const scalar *skip = node_act(n, d->skip, B);
            for (size_t k = 0; k < count; k++) out[k] = in[k] + skip[k];
            LAP(PART_ADD, i);
            break;
        }
        case NODE_CONV_TRANSPOSE: /* decoders only */
        case NODE_AVGPOOL:        /* the feature network only */
        case NODE_INPUT: break;
        }
    }
    /* (m, D, h, w) maps to (m·h·w, D) rows, as vqvae.c's maps_to_rows */
    size_t D = (size_t)s->q.D, cells = (size_t)v->grid_h * v->grid_w;
    const scalar *maps = convnet_output(n);
    for (size_t b = 0; b < m; b++)
        for (size_t dd = 0; dd < D; dd++)
            for (size_t c = 0; c < cells; c++) v->z[(b * cells + c) * D + dd] = maps[(b * D + dd) * cells + c];
    LAP(PART_TO_ROWS, -1);
    quantizer_encode(codes, v->qscratch, v->z, vqvae_param(v, v->codebook), m * cells, &s->q);
    LAP(PART_QUANTIZER, -1);
#undef LAP
}

/* ------------------------------------------------------------------ images */

/* The first n records of a pixel store (cycled), which must match the tokenizer's shape. */
static uint8_t *load_store_images(const char *path, size_t n, const Tokenizer *t) {
    Store st;
    StoreRead rd;
    Err err;
    if (store_open(&st, path, 0, 0, &err) != 0 || store_read_begin(&st, &rd, &err) != 0) {
        fprintf(stderr, "tokenize_bench: %s\n", err.msg);
        exit(1);
    }
    uint64_t have = store_record_count(&st);
    size_t image = (size_t)t->height * t->width * t->channels;
    if (have == 0) {
        fprintf(stderr, "tokenize_bench: %s holds no records\n", path);
        exit(1);
    }
    uint8_t *pixels = xmalloc(n * image);
    for (size_t i = 0; i < n; i++) {
        RecordView r;
        if (store_read_record(&rd, i % have, &r, &err) != 0) {
            fprintf(stderr, "tokenize_bench: %s: record %zu: %s\n", path, (size_t)(i % have), err.msg);
            exit(1);
        }
        if (r.dtype != DTYPE_U8 || r.height != t->height || r.width != t->width || r.channels != t->channels ||
            r.payload_bytes != image) {
            fprintf(stderr,
                    "tokenize_bench: %s: record %zu is %u×%u×%u (dtype %u), the tokenizer takes %d×%d×%d uint8\n", path,
                    (size_t)(i % have), r.height, r.width, r.channels, r.dtype, t->height, t->width, t->channels);
            exit(1);
        }
        memcpy(pixels + i * image, r.payload, image);
    }
    store_read_end(&rd);
    store_close(&st);
    return pixels;
}

/* ------------------------------------------------------------------ main */

/* Seconds for one pass of vqvae_tokenize over all n images, `batch` at a time. */
static double tokenize_pass(VqVae *v, const uint8_t *const *images, size_t n, size_t batch, int32_t *codes) {
    size_t cells = (size_t)v->grid_h * v->grid_w;
    double t0 = now_seconds();
    for (size_t at = 0; at < n; at += batch)
        vqvae_tokenize(v, images + at, n - at < batch ? n - at : batch, codes + at * cells);
    return now_seconds() - t0;
}

int main(int argc, char **argv) {
    openblas_set_num_threads(1);
    const char *ckpt = NULL, *store_path = NULL;
    size_t n = 2000, batch = 64;
    int reps = 5, peak = 1, breakdown = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--store")) store_path = v, i++;
        else if (!strcmp(a, "--images")) n = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--batch")) batch = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--reps")) reps = atoi(v), i++;
        else if (!strcmp(a, "--no-peak")) peak = 0;
        else if (!strcmp(a, "--breakdown")) breakdown = 1;
        else if (a[0] != '-' && !ckpt) ckpt = a;
        else {
            fprintf(stderr, "tokenize_bench: unknown option %s\n"
                            "usage: tokenize_bench CKPT [--store PIXELS] [--images N] [--batch B] [--reps R] "
                            "[--no-peak] [--breakdown]\n", a);
            return 2;
        }
    }
    if (!ckpt || n < 1 || batch < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: tokenize_bench CKPT [--store PIXELS] [--images N ≥ 1] [--batch B ≥ 1] [--reps 1..1000] "
                        "[--no-peak] [--breakdown]\n");
        return 2;
    }

    Tokenizer tok;
    Err err;
    if (tokenizer_open(&tok, ckpt, 0, 0, &err) != 0) {
        fprintf(stderr, "tokenize_bench: %s\n", err.msg);
        return 1;
    }
    VqVae *v = &tok.net;
    const VqVaeShape *s = &v->s;
    size_t image = (size_t)tok.height * tok.width * tok.channels, cells = (size_t)tok.grid_h * tok.grid_w;
    size_t K = (size_t)s->q.K, D = (size_t)s->q.D;

    uint8_t *pixels;
    if (store_path) {
        pixels = load_store_images(store_path, n, &tok);
    } else {
        Rng r;
        rng_seed(&r, 42);
        pixels = xmalloc(n * image);
        for (size_t i = 0; i < n * image; i++) pixels[i] = (uint8_t)rng_below(&r, 256);
    }
    const uint8_t **images = xmalloc(n * sizeof *images);
    for (size_t i = 0; i < n; i++) images[i] = pixels + i * image;
    int32_t *codes = xmalloc(n * cells * sizeof *codes), *check = xmalloc(n * cells * sizeof *check);

    /* FLOPs per image and the GEMM shapes behind them. */
    const ConvNet *enc = &v->enc;
    GemmShape *shapes = xcalloc((size_t)enc->n_nodes + 2, sizeof *shapes);
    int n_shapes = 0;
    double conv_flops = 0;
    for (int i = 1; i < enc->n_nodes; i++) {
        const ConvNode *d = &enc->nodes[i];
        if (d->kind != NODE_CONV) continue;
        int M = d->dims.C_out, N = d->H * d->W, Kc = d->dims.C_in * d->dims.KH * d->dims.KW;
        double f = 2.0 * M * N * Kc;
        conv_flops += f;
        char what[64];
        snprintf(what, sizeof what, "conv %dx%d/%d %d->%d at %dx%d", d->dims.KH, d->dims.KW, d->dims.stride,
                 d->dims.C_in, d->dims.C_out, d->H, d->W);
        add_shape(shapes, &n_shapes, M, N, Kc, 0, f, what);
    }
    double quant_flops = 2.0 * (double)cells * (double)K * (double)D, flops = conv_flops + quant_flops;
    /* The quantizer's GEMM: at batch 1 one chunk of `cells` rows; at batch B, chunks of up
     * to QUANTIZER_CHUNK rows (the last one shorter, ignored here). */
    size_t rows_big = batch * cells < QUANTIZER_CHUNK ? batch * cells : QUANTIZER_CHUNK;
    int quant_b1 = n_shapes, quant_bn = n_shapes + 1;
    shapes[quant_b1] = (GemmShape){.M = (int)cells, .N = (int)K, .K = (int)D, .tb = 1, .flops_per_image = quant_flops};
    snprintf(shapes[quant_b1].what, sizeof shapes[quant_b1].what, "quantizer distances, batch 1");
    shapes[quant_bn] =
        (GemmShape){.M = (int)rows_big, .N = (int)K, .K = (int)D, .tb = 1, .flops_per_image = quant_flops};
    snprintf(shapes[quant_bn].what, sizeof shapes[quant_bn].what, "quantizer distances, batch %zu", batch);

    double peak1024 = 0, ceiling_b1 = 0, ceiling_bn = 0;
    if (peak) {
        peak1024 = sgemm_rate(1024, 1024, 1024, 0);
        for (int i = 0; i < n_shapes + 2; i++)
            shapes[i].gflops = sgemm_rate(shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].tb);
        double conv_seconds = 0; /* per image, if every conv GEMM ran at its shape's rate */
        for (int i = 0; i < n_shapes; i++) conv_seconds += shapes[i].flops_per_image / (shapes[i].gflops * 1e9);
        ceiling_b1 = flops / (conv_seconds + quant_flops / (shapes[quant_b1].gflops * 1e9)) / 1e9;
        ceiling_bn = flops / (conv_seconds + quant_flops / (shapes[quant_bn].gflops * 1e9)) / 1e9;
    }

    /* Batch 1 and batch B take turns, after one warm-up pass of each. */
    double *t1 = xmalloc((size_t)reps * sizeof *t1), *tn = xmalloc((size_t)reps * sizeof *tn);
    tokenize_pass(v, images, n, 1, codes);
    tokenize_pass(v, images, n, batch, check);
    int same_codes = memcmp(codes, check, n * cells * sizeof *codes) == 0;
    for (int r = 0; r < reps; r++) {
        t1[r] = tokenize_pass(v, images, n, 1, codes);
        tn[r] = tokenize_pass(v, images, n, batch, codes);
    }
    double t1_min = t1[0], tn_min = tn[0];
    for (int r = 1; r < reps; r++) t1_min = t1[r] < t1_min ? t1[r] : t1_min, tn_min = tn[r] < tn_min ? tn[r] : tn_min;
    double sec1 = median(t1, reps), secn = median(tn, reps);
    double img_s1 = (double)n / sec1, img_sn = (double)n / secn;
    double gf1 = flops * (double)n / sec1 / 1e9, gfn = flops * (double)n / secn / 1e9;

    printf("tokenizer %s: %d×%d×%d → %d×%d codes (K %zu, D %zu), channels", ckpt, tok.height, tok.width, tok.channels,
           tok.grid_h, tok.grid_w, K, D);
    for (int l = 0; l <= s->levels; l++) printf("%s%d", l ? "," : " ", s->level_channels[l]);
    printf(", res_blocks %d, groups %d; encoder: %d nodes\n", s->res_blocks, s->groups, enc->n_nodes);
    printf("images: %zu, %s\n", n, store_path ? store_path : "random pixels (seed 42)");
    printf("FLOPs per image: %.3f M = convs %.3f M + quantizer distances %.3f M (2·%zu·%zu·%zu)\n", flops / 1e6,
           conv_flops / 1e6, quant_flops / 1e6, cells, K, D);
    printf("codes at batch 1 %s codes at batch %zu\n", same_codes ? "==" : "DIFFER FROM", batch);
    printf("batch 1:   median %.4f s per pass (min %.4f) = %.1f images/s, %.3f ms/image, %.2f GFLOP/s\n", sec1, t1_min,
           img_s1, 1e3 / img_s1, gf1);
    printf("batch %-3zu: median %.4f s per pass (min %.4f) = %.1f images/s, %.3f ms/image, %.2f GFLOP/s\n", batch, secn,
           tn_min, img_sn, 1e3 / img_sn, gfn);
    if (peak) {
        printf("sgemm single thread, GFLOP/s (best of 5 samples of ≥ 20 ms): 1024^3 %.1f\n", peak1024);
        printf("  %-44s %5s %6s %6s %9s %8s\n", "encoder GEMM", "M", "N", "K", "MFLOP/img", "GFLOP/s");
        for (int i = 0; i < n_shapes + 2; i++)
            printf("  %-44s %5d %6d %6d %9.3f %8.1f\n", shapes[i].what, shapes[i].M, shapes[i].N, shapes[i].K,
                   shapes[i].flops_per_image / 1e6, shapes[i].gflops);
        printf("GEMM ceiling (every GEMM at its shape's rate, nothing else): batch 1 %.1f, batch %zu %.1f GFLOP/s\n",
               ceiling_b1, batch, ceiling_bn);
        printf("encoder / sgemm 1024^3 peak: batch 1 %.1f%%, batch %zu %.1f%%\n", 100 * gf1 / peak1024, batch,
               100 * gfn / peak1024);
        printf("encoder / GEMM ceiling:      batch 1 %.1f%%, batch %zu %.1f%%\n", 100 * gf1 / ceiling_b1, batch,
               100 * gfn / ceiling_bn);
    }

    /* Per part and per node, at batch 1 and batch B: one warm-up pass, then reps passes. */
    double bd_share[2][N_PARTS] = {{0}};
    double bd_total[2] = {0};
    if (breakdown) {
        for (int which = 0; which < 2; which++) {
            size_t b = which == 0 ? 1 : batch;
            Breakdown bd = {.node = xcalloc((size_t)enc->n_nodes, sizeof(double))};
            vqvae_reserve(v, b);
            for (int r = -1; r < reps; r++) {
                if (r == 0) { /* the warm-up pass is not counted */
                    memset(bd.part, 0, sizeof bd.part);
                    memset(bd.node, 0, (size_t)enc->n_nodes * sizeof *bd.node);
                }
                for (size_t at = 0; at < n; at += b) {
                    size_t m = n - at < b ? n - at : b;
                    tokenize_timed(v, images + at, m, check + at * cells, &bd);
                }
            }
            tokenize_pass(v, images, n, b, codes);
            int match = memcmp(codes, check, n * cells * sizeof *codes) == 0;
            double per = 1e3 / ((double)reps * (double)n), total = 0; /* ms per image */
            for (int p = 0; p < N_PARTS; p++) total += bd.part[p] * per;
            bd_total[which] = total;
            printf("breakdown, batch %zu (ms per image, mean of %d passes; codes %s vqvae_tokenize's):\n", b, reps,
                   match ? "equal" : "DIFFER FROM");
            for (int p = 0; p < N_PARTS; p++) {
                bd_share[which][p] = bd.part[p] * per / total;
                printf("  %-36s %8.4f  %5.1f%%\n", PART_NAMES[p], bd.part[p] * per, 100 * bd_share[which][p]);
            }
            double conv_gemm_s = bd.part[PART_GEMM] / ((double)reps * (double)n);
            printf("  %-36s %8.4f  (conv GEMMs alone run at %.1f GFLOP/s)\n", "total", total,
                   conv_flops / conv_gemm_s / 1e9);
            printf("  per node (ms per image; convs: im2col + GEMM + bias, and the GEMM's FLOPs at that time):\n");
            for (int i = 1; i < enc->n_nodes; i++) {
                const ConvNode *d = &enc->nodes[i];
                static const char *kinds[] = {"input", "conv", "convT", "groupnorm", "silu", "add"};
                printf("    %2d %-9s %3d×%2d×%2d %8.4f", i, kinds[d->kind], d->C, d->H, d->W, bd.node[i] * per);
                if (d->kind == NODE_CONV) {
                    double f = 2.0 * d->dims.C_out * d->H * d->W * d->dims.C_in * d->dims.KH * d->dims.KW;
                    printf("  %6.1f GFLOP/s (k %dx%d/%d)", f / (bd.node[i] * per * 1e-3) / 1e9, d->dims.KH, d->dims.KW,
                           d->dims.stride);
                }
                printf("\n");
            }
            free(bd.node);
        }
    }

    printf("RESULT images=%zu batch=%zu mflop_per_image=%.4f b1_img_s=%.1f b1_gflops=%.3f bn_img_s=%.1f bn_gflops=%.3f "
           "peak1024=%.2f ceiling_b1=%.2f ceiling_bn=%.2f frac_peak_b1=%.4f frac_peak_bn=%.4f same_codes=%d",
           n, batch, flops / 1e6, img_s1, gf1, img_sn, gfn, peak1024, ceiling_b1, ceiling_bn,
           peak ? gf1 / peak1024 : 0, peak ? gfn / peak1024 : 0, same_codes);
    if (breakdown) {
        static const char *keys[N_PARTS] = {"input", "im2col", "gemm", "bias", "groupnorm",
                                            "silu",  "add",    "rows", "quant"};
        for (int p = 0; p < N_PARTS; p++) printf(" b1_share_%s=%.4f", keys[p], bd_share[0][p]);
        printf(" b1_ms=%.4f bn_ms=%.4f", bd_total[0], bd_total[1]);
    }
    printf("\n");
    free(shapes), free(t1), free(tn), free(codes), free(check), free(images), free(pixels);
    tokenizer_close(&tok);
    return 0;
}
