/* ar_bench: the speed of the autoregressive token model (train/ar.h), for issue 6.
 *
 *   ar_bench train  [--batch B] [--grid H] [--warmup W] [--steps S]     (under mpirun: B is global)
 *   ar_bench sample [--grid H] [--images n] [--cfg g] [--no-cache] [--repeats R] [--warmup-images w]
 *   ar_bench predict [--grid H]
 * Shape options for all three: [--K 512] [--classes 10] [--layers 6] [--heads 4] [--width 128].
 * The defaults are configs/fmnist-rar.ini's model over the demo tokenizer's 7×7 codes.
 *
 * train: full RAR training steps at r = 1, every sample in a fresh uniform order (the
 * expensive case): Fisher–Yates and ar_sequence per sample, label dropout 0.1,
 * gpt_forward_batch with the causal mask, gpt_zero_grad, gpt_backward, [the MPI gradient
 * mean, dist_allreduce_mean], clip_grad_norm 1.0 and adamw_step with the config's AdamW
 * (lr 1e-3, betas 0.9/0.96, weight decay 0.03 on the matrices), as train/train_cmd.c does.
 * Random seeded codes and classes: the speed does not depend on their values. The step
 * time is the slowest rank's; the median over the timed steps is reported. FLOPs per step
 * follow bench/train_bench.c: tokens · (6·N_mat + 12·L·T·C), attention over the full T×T.
 *
 * sample: ar_sample_codes on randomly initialised weights (the work does not depend on
 * them), n images of classes 0,1,2,..., temperature 1, all codes, constant guidance g
 * (g ≠ 1 doubles the rows), with the key/value cache or, with --no-cache, rerunning the
 * whole prefix every step. One warm-up call on w images (4; 0: none), then R timed calls;
 * the median is reported.
 *
 * predict: the forward FLOPs per image of both samplers (the FLOP model below) and the
 * speed-up of the cache they predict.
 *
 * The last line of train and sample is "RESULT key=value ..." for bench/run_ar_bench.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/adamw.h"
#include "nn/attention.h"
#include "nn/clip.h"
#include "train/ar.h"
#include "train/ar_sample.h"
#include "train/dist.h"
#include "train/gpt.h"
#include "median.h"

void openblas_set_num_threads(int);

enum { ATT_ROWS = 32 }; /* nn/attention.c's ATT_ROW_BLOCK: causal query blocks see keys [0, block end) */
/* configs/fmnist-rar.ini's training settings */
static const double LABEL_DROPOUT = 0.1, LR = 1e-3, BETA1 = 0.9, BETA2 = 0.96, WEIGHT_DECAY = 0.03, GRAD_CLIP = 1.0;

typedef struct {
    const char *mode;
    ArShape shape;
    size_t batch, images, warmup_images;
    int warmup, steps, repeats, no_cache;
    double cfg;
} Options;


static int parse(Options *o, int argc, char **argv) {
    *o = (Options){.mode = argc > 1 ? argv[1] : "",
                   .shape = {.K = 512, .classes = 10, .grid_h = 7, .grid_w = 7, .layers = 6, .heads = 4, .width = 128,
                             .target_aware = 1},
                   .batch = 64, .images = 100, .warmup_images = 4, .warmup = 3, .steps = 10, .repeats = 3, .cfg = 1.0};
    if (strcmp(o->mode, "train") && strcmp(o->mode, "sample") && strcmp(o->mode, "predict")) return -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-cache")) {
            o->no_cache = 1;
            continue;
        }
        if (i + 1 >= argc) return -1;
        const char *v = argv[++i];
        size_t n = strtoul(v, NULL, 10);
        if (!strcmp(a, "--grid")) o->shape.grid_h = o->shape.grid_w = n;
        else if (!strcmp(a, "--K")) o->shape.K = n;
        else if (!strcmp(a, "--classes")) o->shape.classes = n;
        else if (!strcmp(a, "--layers")) o->shape.layers = n;
        else if (!strcmp(a, "--heads")) o->shape.heads = n;
        else if (!strcmp(a, "--width")) o->shape.width = n;
        else if (!strcmp(a, "--batch")) o->batch = n;
        else if (!strcmp(a, "--images")) o->images = n;
        else if (!strcmp(a, "--warmup-images")) o->warmup_images = n;
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--repeats")) o->repeats = atoi(v);
        else if (!strcmp(a, "--cfg")) o->cfg = atof(v);
        else return -1;
    }
    const ArShape *s = &o->shape;
    if (!s->K || !s->classes || ar_seq(s) < 2 || !s->layers || !s->heads || !s->width || s->width % s->heads ||
        !o->batch || !o->images || o->warmup < 0 || o->steps < 1 || o->steps > 1000 || o->repeats < 1 ||
        o->repeats > 1000 || !(o->cfg > 0))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ the FLOP model
 *
 * Forward FLOPs (a multiply-add is 2) of one sequence (one row of the batch; guidance has
 * two rows per image). Per token: the block matrices, 2·12·C² per layer, and the lm head,
 * 2·C·K (biases, norms, GELU and embeddings are left out). Per query and layer, attention
 * costs 4·C per key it reads: q·kᵀ and a·v, 2·HS each, over NH heads.
 *   cached:   N slots, slot t (1-based) reads t keys:
 *             N·F_tok + 4CL·Σ_{t≤N} t
 *   uncached: step T runs all T slots of the prefix through every layer and the head:
 *             Σ_{T≤N} (T·F_tok + 4CL·keys(T)), with keys(T) = T(T+1)/2 for exact causal
 *             attention, or, as nn/attention.c computes it, Σ over its 32-row query blocks
 *             [r0, r1) of (r1 − r0)·r1.
 * The linear part alone gives the ratio (N+1)/2; attention grows as N³/6 uncached against
 * N²/2 cached, a ratio of only about (N+2)/3, so it pulls the prediction below (N+1)/2. */

static double token_flops(const ArShape *s) {
    double C = (double)s->width;
    return 2.0 * 12.0 * C * C * (double)s->layers + 2.0 * C * (double)s->K;
}

static double causal_keys(size_t T, int blocked) {
    if (!blocked) return 0.5 * (double)T * (double)(T + 1);
    double keys = 0;
    for (size_t r0 = 0; r0 < T; r0 += ATT_ROWS) {
        size_t r1 = r0 + ATT_ROWS < T ? r0 + ATT_ROWS : T;
        keys += (double)(r1 - r0) * (double)r1;
    }
    return keys;
}

/* Forward FLOPs of one row over a whole image; with linear_only, without attention. */
static double sample_flops(const ArShape *s, int cached, int blocked, int linear_only) {
    size_t N = ar_seq(s);
    double att = linear_only ? 0 : 4.0 * (double)s->width * (double)s->layers, total = 0;
    for (size_t T = 1; T <= N; T++)
        total += cached ? token_flops(s) + att * (double)T : (double)T * token_flops(s) + att * causal_keys(T, blocked);
    return total;
}

static void predict(const ArShape *s) {
    size_t N = ar_seq(s);
    double lin_c = sample_flops(s, 1, 0, 1), lin_u = sample_flops(s, 0, 0, 1);
    double c = sample_flops(s, 1, 0, 0), u = sample_flops(s, 0, 0, 0), ub = sample_flops(s, 0, 1, 0);
    printf("prediction at %zux%zu = %zu codes (K %zu, width %zu, layers %zu; forward FLOPs per image and "
           "guidance row):\n", s->grid_h, s->grid_w, N, s->K, s->width, s->layers);
    printf("  per token: block matrices %.3f MFLOP + lm head %.3f MFLOP; attention 4*C*L = %.0f FLOP per key read\n",
           (token_flops(s) - 2.0 * (double)s->width * (double)s->K) / 1e6, 2.0 * (double)s->width * (double)s->K / 1e6,
           4.0 * (double)s->width * (double)s->layers);
    printf("  token positions through the linear layers: cached N = %zu, uncached N(N+1)/2 = %zu -> ratio (N+1)/2 = "
           "%.1f (linear layers + lm head: uncached %.3f, cached %.3f GFLOP)\n",
           N, N * (N + 1) / 2, 0.5 * (double)(N + 1), lin_u / 1e9, lin_c / 1e9);
    printf("  with attention: cached %.4f GFLOP (attention %.1f%%), uncached %.3f GFLOP (attention %.1f%%) -> "
           "predicted cache speed-up %.1fx\n",
           c / 1e9, 100.0 * (c - lin_c) / c, u / 1e9, 100.0 * (u - lin_u) / u, u / c);
    printf("  uncached attention as nn/attention.c computes it (32-row causal blocks): %.3f GFLOP -> %.1fx\n", ub / 1e9,
           ub / c);
    printf("PREDICT N=%zu lin_ratio=%.2f flop_ratio=%.2f flop_ratio_blocked=%.2f cached_gflop=%.5f "
           "uncached_gflop=%.4f\n", N, 0.5 * (double)(N + 1), u / c, ub / c, c / 1e9, u / 1e9);
}

/* ------------------------------------------------------------------ training */

static int bench_train(const Options *o, const Dist *d) {
    ArShape s = o->shape;
    size_t N = ar_seq(&s), ranks = (size_t)d->size, B = o->batch;
    int rank0 = d->rank == 0;
    if (B % ranks) {
        if (rank0) fprintf(stderr, "ar_bench: batch %zu is not divisible by %zu ranks\n", B, ranks);
        return 2;
    }
    size_t Bl = B / ranks;
    GptConfig gc = ar_gpt_config(&s, 0);
    Gpt g;
    gpt_create(&g, &gc);
    gpt_init_weights(&g, 1);
    size_t n = g.table.total;
    float *m = param_table_alloc(&g.table), *v = param_table_alloc(&g.table);
    AdamWConfig ac = {.beta1 = BETA1, .beta2 = BETA2, .eps = 1e-8, .weight_decay = WEIGHT_DECAY};

    /* This rank's examples: random codes and classes, a stream per rank. */
    Rng rng;
    rng_seed(&rng, mix64(42 + (uint64_t)d->rank));
    int32_t *codes = xmalloc(Bl * N * sizeof *codes), *labels = xmalloc(Bl * sizeof *labels);
    for (size_t i = 0; i < Bl * N; i++) codes[i] = (int32_t)rng_below(&rng, s.K);
    for (size_t i = 0; i < Bl; i++) labels[i] = (int32_t)rng_below(&rng, s.classes);
    int32_t *inputs = xmalloc(Bl * N * sizeof *inputs), *positions = xmalloc(Bl * N * sizeof *positions);
    int32_t *target_positions = xmalloc(Bl * N * sizeof *target_positions), *targets = xmalloc(Bl * N * sizeof *targets);
    int32_t *order = xmalloc(N * sizeof *order);
    uint8_t *mask = xmalloc(N * N);
    attention_causal_mask(mask, N);

    int total = o->warmup + o->steps;
    double *ts = xmalloc((size_t)o->steps * 5 * sizeof *ts); /* step, prep, fwd, bwd, allreduce+opt: columns */
    float loss = 0;
    for (int step = 0; step < total; step++) {
        dist_barrier();
        double t0 = now_seconds();
        /* ar_step at r = 1: a fresh order for every sample, the class dropped to null at 0.1 */
        for (size_t i = 0; i < Bl; i++) {
            int32_t cls = rng_float(&rng) < LABEL_DROPOUT ? ar_null_id(&s) : ar_class_id(&s, (size_t)labels[i]);
            for (size_t t = 0; t < N; t++) order[t] = (int32_t)t;
            for (size_t t = N - 1; t > 0; t--) {
                size_t j = (size_t)rng_below(&rng, t + 1);
                int32_t tmp = order[t];
                order[t] = order[j], order[j] = tmp;
            }
            size_t at = i * N;
            ar_sequence(N, codes + at, cls, order, inputs + at, positions + at, target_positions + at, targets + at);
        }
        double t1 = now_seconds();
        GptBatch b = {.inputs = inputs, .positions = positions, .target_positions = target_positions,
                      .targets = targets, .mask = mask, .B = Bl, .T = N};
        loss = gpt_forward_batch(&g, &b);
        double t2 = now_seconds();
        gpt_zero_grad(&g);
        gpt_backward(&g);
        double t3 = now_seconds();
        dist_allreduce_mean(g.grads, n, ranks);
        clip_grad_norm(g.grads, n, GRAD_CLIP);
        adamw_step(g.params, m, v, g.grads, &g.table, &ac, LR, (long)step + 1);
        double t4 = now_seconds();
        double t = dist_max(t4 - t0); /* the step ends when the slowest rank is done */
        if (step >= o->warmup) {
            size_t k = (size_t)(step - o->warmup), S = (size_t)o->steps;
            ts[k] = t, ts[S + k] = t1 - t0, ts[2 * S + k] = t2 - t1, ts[3 * S + k] = t3 - t2, ts[4 * S + k] = t4 - t3;
        }
    }
    double part[5];
    for (int c = 0; c < 5; c++) part[c] = median(ts + (size_t)c * (size_t)o->steps, o->steps);
    double C = (double)s.width, L = (double)s.layers;
    double n_mat = L * 12.0 * C * C + (double)s.K * C;
    double flops = (double)(B * N) * (6.0 * n_mat + 12.0 * L * (double)N * C);
    double tok_s = (double)(B * N) / part[0];
    if (rank0) {
        printf("config: K %zu, %zu classes + null, grid %zux%zu = %zu codes, layers %zu, heads %zu, width %zu, "
               "target-aware; global batch %zu (%zu per rank), ranks %zu; RAR r = 1 (every sample permuted), label "
               "dropout %.1f; AdamW lr %g betas %.2f/%.2f wd %.2f, clip %.1f\n",
               s.K, s.classes, s.grid_h, s.grid_w, N, s.layers, s.heads, s.width, B, Bl, ranks, LABEL_DROPOUT, LR,
               BETA1, BETA2, WEIGHT_DECAY, GRAD_CLIP);
        printf("parameters: %zu; FLOPs/step = B*T*(6*N_mat + 12*L*T*C) = %.3f GFLOP (N_mat %.0f)\n", n, flops / 1e9,
               n_mat);
        printf("warm-up %d, timed %d steps; loss at the last step %.4f (ln K = %.4f)\n", o->warmup, o->steps, loss,
               log((double)s.K));
        printf("step median %.4f s: orders + sequences %.4f, forward %.4f, zero_grad + backward %.4f, "
               "[allreduce] + clip + AdamW %.4f (rank 0 medians)\n", part[0], part[1], part[2], part[3], part[4]);
        printf("tokens/s %.0f, examples/s %.1f, %.2f GFLOP/s\n", tok_s, tok_s / (double)N, flops / part[0] / 1e9);
        printf("RESULT mode=train ranks=%zu batch=%zu N=%zu params=%zu step_s=%.5f tok_s=%.1f gflops=%.3f prep_s=%.5f "
               "fwd_s=%.5f bwd_s=%.5f opt_s=%.5f loss=%.4f\n", ranks, B, N, n, part[0], tok_s, flops / part[0] / 1e9,
               part[1], part[2], part[3], part[4], loss);
        fflush(stdout);
    }
    free(ts), free(codes), free(labels), free(inputs), free(positions), free(target_positions), free(targets);
    free(order), free(mask), free(m), free(v);
    gpt_free(&g);
    return 0;
}

/* ------------------------------------------------------------------ sampling */

/* System CPU seconds of this process so far: page faults of fresh allocations show up here. */
static double system_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

static int bench_sample(const Options *o) {
    ArShape s = o->shape;
    size_t N = ar_seq(&s), n = o->images;
    GptConfig gc = ar_gpt_config(&s, 0);
    Gpt g;
    gpt_create(&g, &gc);
    gpt_init_weights(&g, 1);
    int32_t *classes = xmalloc(n * sizeof *classes), *codes = xmalloc(n * N * sizeof *codes);
    for (size_t i = 0; i < n; i++) classes[i] = (int32_t)(i % s.classes);
    ArSampleOptions so = ar_sample_defaults();
    so.cfg = o->cfg;
    so.no_cache = o->no_cache;
    size_t rows = o->cfg == 1.0 ? n : 2 * n;

    if (o->warmup_images) ar_sample_codes(&g, &s, classes, n < o->warmup_images ? n : o->warmup_images, 0, &so, codes);
    double *ts = xmalloc((size_t)o->repeats * sizeof *ts), sys0 = system_seconds();
    for (int r = 0; r < o->repeats; r++) {
        double t0 = now_seconds();
        ar_sample_codes(&g, &s, classes, n, (uint64_t)r * n, &so, codes);
        ts[r] = now_seconds() - t0;
    }
    double sys = (system_seconds() - sys0) / o->repeats;
    double lo = ts[0], hi = ts[0];
    for (int r = 0; r < o->repeats; r++) lo = fmin(lo, ts[r]), hi = fmax(hi, ts[r]);
    double sec = median(ts, o->repeats);
    double flops = sample_flops(&s, !o->no_cache, 1, 0) * (double)rows; /* as computed */
    printf("sample: %zux%zu = %zu codes, %zu images (%zu rows: guidance %s), %s, %d timed call%s: median %.3f s "
           "(%.3f-%.3f) = %.2f images/s, %.0f codes/s, %.2f GFLOP/s; system CPU %.3f s per call\n",
           s.grid_h, s.grid_w, N, n, rows, rows > n ? "on, cfg 2" : "off", o->no_cache ? "no cache" : "KV cache",
           o->repeats, o->repeats > 1 ? "s" : "", sec, lo, hi, (double)n / sec, (double)(n * N) / sec,
           flops / sec / 1e9, sys);
    printf("RESULT mode=sample N=%zu images=%zu rows=%zu cfg=%g cache=%d s=%.5f img_s=%.3f gflops=%.3f sys_s=%.4f\n",
           N, n, rows, o->cfg, !o->no_cache, sec, (double)n / sec, flops / sec / 1e9, sys);
    free(ts), free(classes), free(codes);
    gpt_free(&g);
    return 0;
}

int main(int argc, char **argv) {
    Options o;
    if (parse(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: ar_bench train|sample|predict [--grid H] [--batch B] [--images n] [--cfg g] "
                        "[--no-cache] [--warmup W] [--steps S] [--repeats R] [--warmup-images w] [--K K] [--classes n] "
                        "[--layers L] [--heads NH] [--width C]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    if (!strcmp(o.mode, "predict")) {
        predict(&o.shape);
        return 0;
    }
    if (!strcmp(o.mode, "sample")) return bench_sample(&o);
    Dist d;
    dist_init(&d, &argc, &argv);
    int rc = bench_train(&o, &d);
    if (rc) dist_abort(rc);
    dist_finalize();
    return 0;
}
