/* train_bench: times full training steps of train/gpt.c's GPT (forward, zero_grad,
 * backward, [MPI gradient sum], clip, AdamW) on random tokens with a causal mask, and the
 * single-thread sgemm rate of the same OpenBLAS, so the model's achieved GFLOP/s can be
 * put against it. Run as one process, or under mpirun for data parallelism (the global
 * batch is split across ranks, as `tessera train` does).
 *
 *   train_bench [--seq T] [--batch B] [--width C] [--layers L] [--heads NH] [--vocab V]
 *               [--warmup W] [--steps N] [--no-peak] [--breakdown] [--grad-bucket-mb MB]
 *
 * FLOPs per step (printed): tokens · (6·N_mat + 12·L·T·C), where N_mat counts the
 * parameters that take part in matrix products (the four block matrices and the lm head;
 * not the embeddings, which are lookups, nor norms and biases), and 12·L·T·C is the
 * attention's q·kᵀ and a·v, forward (4·T·C per token and layer) and backward (twice that),
 * counted over the full T×T score matrix, as PyTorch computes it (nn/attention.c skips most
 * of the masked half, so this slightly overstates the work it does).
 * The last line is "RESULT key=value ..." for bench/run_train_bench.sh. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "nn/adamw.h"
#include "nn/attention.h"
#include "nn/clip.h"
#include "nn/crossentropy.h"
#include "nn/gelu.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "train/dist.h"
#include "train/gpt.h"
#include "train/grad_sync.h"
#include "median.h"

void openblas_set_num_threads(int);
/* The kernel family OpenBLAS runs: OPENBLAS_CORETYPE if set, else its own detection. */
char *openblas_get_corename(void);


static float *rand_buf(size_t n, Rng *r) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rng_float(r) - 0.5f;
    return p;
}

/* GFLOP/s of C(M,N) = A(M,K)·op(B), best of `reps` timed calls after one warm-up. transb
 * as linear_forward uses it (weights stored (out,in)). */
static double sgemm_rate(int M, int N, int K, int ta, int tb, int reps) {
    Rng r;
    rng_seed(&r, 7);
    float *A = rand_buf((size_t)M * K, &r), *B = rand_buf((size_t)K * N, &r), *C = rand_buf((size_t)M * N, &r);
    int lda = ta ? M : K, ldb = tb ? K : N;
    double best = 1e30;
    for (int i = 0; i <= reps; i++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                    lda, B, ldb, 0.0f, C, N);
        double t = now_seconds() - t0;
        if (i > 0 && t < best) best = t;
    }
    free(A);
    free(B);
    free(C);
    return 2.0 * M * N * K / best / 1e9;
}

/* Median seconds of the statement(s) over reps runs (after one warm-up). */
#define TIME_MEDIAN(out, reps, ...)                                                                                    \
    do {                                                                                                               \
        double ts_[64];                                                                                                \
        int n_ = (reps) > 64 ? 64 : (reps);                                                                            \
        { __VA_ARGS__; }                                                                                                   \
        for (int i_ = 0; i_ < n_; i_++) {                                                                              \
            double t0_ = now_seconds();                                                                                \
            __VA_ARGS__;                                                                                               \
            ts_[i_] = now_seconds() - t0_;                                                                             \
        }                                                                                                              \
        (out) = median(ts_, n_);                                                                                       \
    } while (0)

int main(int argc, char **argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    openblas_set_num_threads(1);
    size_t T = 64, B = 32, C = 256, L = 6, NH = 8, V = 1035;
    int warmup = 3, steps = 10, peak = 1, breakdown = 0;
    double bucket_mb = 0; /* as tessera train's grad_bucket_mb: > 0 overlaps the gradient sum with backward */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--seq")) T = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--batch")) B = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--width")) C = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--layers")) L = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--heads")) NH = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--vocab")) V = strtoul(v, NULL, 10), i++;
        else if (!strcmp(a, "--warmup")) warmup = atoi(v), i++;
        else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
        else if (!strcmp(a, "--no-peak")) peak = 0;
        else if (!strcmp(a, "--breakdown")) breakdown = 1;
        else if (!strcmp(a, "--grad-bucket-mb")) bucket_mb = atof(v), i++;
        else {
            if (d.rank == 0) fprintf(stderr, "train_bench: unknown option %s\n", a);
            dist_abort(2);
        }
    }
    if (steps < 1 || steps > 1000) steps = 10;
    int ranks = d.size, rank0 = d.rank == 0;
    if (B % (size_t)ranks) {
        if (rank0) fprintf(stderr, "train_bench: batch %zu not divisible by %d ranks\n", B, ranks);
        dist_abort(2);
    }
    size_t Bl = B / (size_t)ranks, BT = Bl * T;

    GptConfig cfg = {.vocab_in = V, .vocab_out = V, .max_seq = T, .layers = L, .heads = NH, .width = C,
                     .gelu = GELU_ERF};
    Gpt g;
    gpt_create(&g, &cfg);
    gpt_init_weights(&g, 1234);
    size_t n = g.table.total;
    float *m = param_table_alloc(&g.table), *v = param_table_alloc(&g.table);
    GradSync *sync = grad_sync_create(d.size, (size_t)(bucket_mb * 1e6 / sizeof(float)));
    if (bucket_mb > 0) g.hook = grad_sync_hook(sync);
    AdamWConfig ac = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};

    /* Random tokens, seeded; each rank takes its own slice of the global batch. */
    Rng r;
    rng_seed(&r, 42);
    int32_t *all_in = malloc(B * T * sizeof *all_in), *all_tg = malloc(B * T * sizeof *all_tg);
    for (size_t i = 0; i < B * T; i++) all_in[i] = (int32_t)rng_below(&r, V);
    for (size_t i = 0; i < B * T; i++) all_tg[i] = (int32_t)rng_below(&r, V);
    const int32_t *in = all_in + (size_t)d.rank * BT, *tg = all_tg + (size_t)d.rank * BT;
    uint8_t *mask = malloc(T * T);
    attention_causal_mask(mask, T);

    double n_mat = (double)L * 12.0 * (double)(C * C) + (double)(V * C);
    double flops_per_token = 6.0 * n_mat + 12.0 * (double)L * (double)T * (double)C;
    double flops_per_step = flops_per_token * (double)(B * T);

    /* Peak first, on every rank at once (under mpirun both cores are busy, as in training). */
    double peak1024 = 0, peak_qkv = 0, peak_fc = 0, peak_fcp = 0, peak_lm = 0, peak_dw = 0;
    if (peak) {
        dist_barrier();
        peak1024 = sgemm_rate(1024, 1024, 1024, 0, 0, 5);
        int bt = (int)(B * T);           /* the one-rank shapes: (B·T, C) activations */
        int c = (int)C;
        peak_qkv = sgemm_rate(bt, 3 * c, c, 0, 1, 5);  /* qkv forward  (BT,C)·(3C,C)ᵀ */
        peak_fc = sgemm_rate(bt, 4 * c, c, 0, 1, 5);   /* fc forward   (BT,C)·(4C,C)ᵀ */
        peak_fcp = sgemm_rate(bt, c, 4 * c, 0, 1, 5);  /* fcproj fwd   (BT,4C)·(C,4C)ᵀ */
        peak_lm = sgemm_rate(bt, (int)V, c, 0, 1, 5);  /* lm head      (BT,C)·(V,C)ᵀ */
        peak_dw = sgemm_rate(4 * c, c, bt, 1, 0, 5);   /* fc dW        (4C,BT)·(BT,C) */
        dist_barrier();
    }

    double *ts = malloc((size_t)steps * sizeof *ts);
    double *t_fwd = malloc((size_t)steps * sizeof *t_fwd), *t_bwd = malloc((size_t)steps * sizeof *t_bwd);
    double *t_ar = malloc((size_t)steps * sizeof *t_ar), *t_opt = malloc((size_t)steps * sizeof *t_opt);
    float loss = 0;
    for (int s = 0; s < warmup + steps; s++) {
        dist_barrier();
        double t0 = now_seconds();
        loss = gpt_forward(&g, in, tg, mask, 0, Bl, T);
        double t1 = now_seconds();
        gpt_zero_grad(&g);
        grad_sync_begin(sync, g.grads, n);
        gpt_backward(&g);
        double t2 = now_seconds();
        grad_sync_end(sync); /* without the hook: one allreduce of the whole buffer */
        double t3 = now_seconds();
        clip_grad_norm(g.grads, n, 1.0);
        adamw_step(g.params, m, v, g.grads, &g.table, &ac, 3e-4, (long)s + 1);
        double t4 = now_seconds();
        /* The step ends when the slowest rank is done. */
        double t = dist_max(t4 - t0);
        if (s >= warmup) {
            int k = s - warmup;
            ts[k] = t;
            t_fwd[k] = t1 - t0;
            t_bwd[k] = t2 - t1;
            t_ar[k] = t3 - t2;
            t_opt[k] = t4 - t3;
        }
    }
    double step = median(ts, steps), fwd = median(t_fwd, steps), bwd = median(t_bwd, steps);
    double ar = median(t_ar, steps), opt = median(t_opt, steps);
    double tok_s = (double)(B * T) / step, gflops = flops_per_step / step / 1e9;

    /* Optional: the non-model-step parts timed alone at this rank's shapes, for "where the
     * time goes" (one layer's worth, multiplied by L where the model has L of them). */
    double b_att_f = 0, b_att_b = 0, b_ln_f = 0, b_ln_b = 0, b_gelu_f = 0, b_gelu_b = 0, b_bias = 0, b_lin = 0;
    double b_att_gemm = 0, b_lin_all = 0, b_ce = 0, b_memset = 0;
    if (breakdown) {
        Rng rr;
        rng_seed(&rr, 3);
        float *qkv = rand_buf(BT * 3 * C, &rr), *att = rand_buf(Bl * NH * T * T, &rr), *out = rand_buf(BT * C, &rr);
        float *dqkv = rand_buf(BT * 3 * C, &rr), *scr = rand_buf(T * T, &rr), *dout = rand_buf(BT * C, &rr);
        float *x = rand_buf(BT * C, &rr), *y = rand_buf(BT * C, &rr), *mean = rand_buf(BT, &rr), *rstd = rand_buf(BT, &rr);
        float *w = rand_buf(C, &rr), *bb = rand_buf(4 * C, &rr), *dw = rand_buf(C, &rr), *db = rand_buf(C, &rr);
        float *h = rand_buf(BT * 4 * C, &rr), *hg = rand_buf(BT * 4 * C, &rr), *dh = rand_buf(BT * 4 * C, &rr);
        float *W = rand_buf(4 * C * C, &rr), *dW = rand_buf(4 * C * C, &rr);
        int reps = 9;
        TIME_MEDIAN(b_att_f, reps, attention_forward(out, att, qkv, mask, 0, Bl, T, C, NH));
        TIME_MEDIAN(b_att_b, reps, attention_backward(dqkv, scr, dout, qkv, att, Bl, T, C, NH));
        TIME_MEDIAN(b_ln_f, reps, layernorm_forward(y, mean, rstd, x, w, w, BT, C));
        TIME_MEDIAN(b_ln_b, reps, layernorm_backward(y, dw, db, x, x, w, mean, rstd, BT, C));
        /* both in place, as gpt.c: h becomes the slope, dh the gradient of h */
        TIME_MEDIAN(b_gelu_f, reps, gelu_forward_slope(hg, h, h, BT * 4 * C, GELU_ERF));
        TIME_MEDIAN(b_gelu_b, reps, gelu_backward_slope(dh, GRAD_SET, dh, h, BT * 4 * C));
        /* the bias broadcast + bias-gradient column sum of the fc layer (linear.c's loops,
         * copied here so they are timed without the gemm) */
        TIME_MEDIAN(b_bias, reps, {
            for (size_t i = 0; i < BT; i++)
                for (size_t o = 0; o < 4 * C; o++) h[i * 4 * C + o] = bb[o];
            for (size_t i = 0; i < BT; i++)
                for (size_t o = 0; o < 4 * C; o++) bb[o] += dh[i * 4 * C + o] * 1e-30f;
        });
        /* one fc layer, forward + backward, for the gemm share */
        TIME_MEDIAN(b_lin, reps, {
            linear_forward(h, x, W, bb, BT, C, 4 * C);
            linear_backward(y, GRAD_SET, dW, bb, dh, x, W, BT, C, 4 * C);
        });
        /* the attention's gemms alone (no softmax) at the same shapes */
        TIME_MEDIAN(b_att_gemm, reps, {
            int t = (int)T, hs = (int)(C / NH), ld = (int)(3 * C), lo = (int)C;
            for (size_t b = 0; b < Bl; b++)
                for (size_t hh = 0; hh < NH; hh++) {
                    const float *q = qkv + b * T * 3 * C + hh * (C / NH), *k = q + C, *vv = q + 2 * C;
                    float *a = att + (b * NH + hh) * T * T;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, hs, 1, q, ld, k, ld, 0, a, t);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hs, t, 1, a, t, vv, ld, 0,
                                out + b * T * C + hh * (C / NH), lo);
                }
        });
        /* every linear layer of the model, forward + backward (bias included), at its shape and
         * called as gpt.c calls it: proj and fcproj add onto the residual stream, and every
         * input gradient is written over (GRAD_SET) */
        {
            float *lin_in = rand_buf(BT * 4 * C, &rr), *lin_out = rand_buf(BT * (V > 4 * C ? V : 4 * C), &rr);
            float *lin_din = rand_buf(BT * (V > 4 * C ? V : 4 * C), &rr), *lin_W = rand_buf(V * C > 4 * C * C ? V * C : 4 * C * C, &rr);
            float *lin_dW = rand_buf(V * C > 4 * C * C ? V * C : 4 * C * C, &rr);
            const size_t shapes[4][2] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}};
            TIME_MEDIAN(b_lin_all, reps, {
                for (int k = 0; k < 4; k++) {
                    if (shapes[k][1] == C) /* proj, fcproj */
                        linear_forward_residual(lin_out, lin_out, lin_in, lin_W, bb, BT, shapes[k][0], C);
                    else
                        linear_forward(lin_out, lin_in, lin_W, bb, BT, shapes[k][0], shapes[k][1]);
                    linear_backward(lin_din, GRAD_SET, lin_dW, bb, lin_out, lin_in, lin_W, BT, shapes[k][0], shapes[k][1]);
                }
            });
            b_lin_all *= (double)L;
            double lm;
            TIME_MEDIAN(lm, reps, {
                linear_forward(lin_out, lin_in, lin_W, NULL, BT, C, V);
                linear_backward(lin_din, GRAD_SET, lin_dW, NULL, lin_out, lin_in, lin_W, BT, C, V);
            });
            b_lin_all += lm;
            float *cm = rand_buf(BT, &rr), *cs = rand_buf(BT, &rr);
            int32_t *tg2 = malloc(BT * sizeof *tg2);
            for (size_t i = 0; i < BT; i++) tg2[i] = (int32_t)rng_below(&rr, V);
            TIME_MEDIAN(b_ce, reps, {
                crossentropy_forward(NULL, cm, cs, lin_out, tg2, NULL, -1, BT, V);
                crossentropy_backward(lin_din, 1, lin_out, cm, cs, tg2, NULL, -1, BT, V);
            });
            /* the zeroing gpt_zero_grad + gpt_backward still do: the gradients, and the
             * qkv, residual-stream and logits gradients (one block's slots, as the step) */
            TIME_MEDIAN(b_memset, reps, {
                memset(g.grads, 0, n * sizeof *g.grads);
                for (size_t l = 0; l < L; l++) memset(g.dacts, 0, BT * 3 * C * sizeof *g.dacts);
                memset(g.dacts + BT * 3 * C, 0, BT * (C + V) * sizeof *g.dacts);
            });
            free(lin_in), free(lin_out), free(lin_din), free(lin_W), free(lin_dW), free(cm), free(cs), free(tg2);
        }
        free(qkv), free(att), free(out), free(dqkv), free(scr), free(dout), free(x), free(y), free(mean), free(rstd);
        free(w), free(bb), free(dw), free(db), free(h), free(hg), free(dh), free(W), free(dW);
    }

    if (rank0) {
        printf("config: vocab %zu, layers %zu, width %zu, heads %zu, mlp %zu, seq %zu, global batch %zu (%zu per rank), "
               "ranks %d, fp32, AdamW, causal mask; OpenBLAS kernel %s\n",
               V, L, C, NH, 4 * C, T, B, Bl, ranks, openblas_get_corename());
        printf("parameters: %zu (%.3f M); in matrix products (block matrices + lm head): %.0f\n", n, n / 1e6, n_mat);
        printf("FLOPs/step = B*T*(6*N_mat + 12*L*T*C) = %.2f GFLOP\n", flops_per_step / 1e9);
        printf("warm-up %d, timed %d steps; loss at last step %.4f\n", warmup, steps, loss);
        printf("step time median %.4f s (min %.4f, max %.4f)\n", step, ts[0], ts[steps - 1]);
        printf("  forward %.4f, zero_grad+backward %.4f, allreduce %.4f, clip+adamw %.4f (rank 0 medians)\n", fwd, bwd,
               ar, opt);
        printf("tokens/s %.0f, achieved %.2f GFLOP/s (%.2f per rank)\n", tok_s, gflops, gflops / ranks);
        if (peak) {
            printf("sgemm single-thread GFLOP/s%s: 1024^3 %.1f; qkv (%zux%zu)x(%zux%zu)^T %.1f; fc %.1f; fcproj %.1f; "
                   "lm head %.1f; fc dW %.1f\n",
                   ranks > 1 ? " (every rank at once)" : "", peak1024, B * T, C, 3 * C, C, peak_qkv, peak_fc, peak_fcp,
                   peak_lm, peak_dw);
            printf("achieved per rank / sgemm 1024^3 peak: %.1f%%\n", 100.0 * gflops / ranks / peak1024);
        }
        if (breakdown) {
            double per = (double)L;
            printf("breakdown (rank-local shapes, seconds per step, L=%zu layers):\n", L);
            printf("  attention fwd %.4f + bwd %.4f = %.4f (its gemms alone, fwd only: %.4f)\n", b_att_f * per,
                   b_att_b * per, (b_att_f + b_att_b) * per, b_att_gemm * per);
            printf("  layernorm fwd+bwd x2/layer %.4f\n", (b_ln_f + b_ln_b) * 2 * per);
            printf("  gelu fwd+bwd %.4f\n", (b_gelu_f + b_gelu_b) * per);
            printf("  fc bias fill + bias-grad sum %.4f\n", b_bias * per);
            printf("  all linear layers fwd+bwd (gemms + bias loops) %.4f -> %.1f GFLOP/s\n", b_lin_all,
                   6.0 * n_mat * (double)BT / b_lin_all / 1e9);
            printf("  crossentropy fwd+bwd %.4f\n", b_ce);
            printf("  zeroing: gradients + qkv, residual and logits gradients (%.0f MB) %.4f\n",
                   (double)(n + L * BT * 3 * C + BT * (C + V)) * 4 / 1e6, b_memset);
            printf("  one fc linear fwd+bwd (3 gemms) %.4f -> %.1f GFLOP/s\n", b_lin,
                   3 * 2.0 * BT * C * 4 * C / b_lin / 1e9);
        }
        printf("RESULT ranks=%d seq=%zu batch=%zu width=%zu layers=%zu params=%zu step_s=%.5f tok_s=%.1f gflops=%.3f "
               "peak1024=%.2f peak_qkv=%.2f fwd_s=%.5f bwd_s=%.5f ar_s=%.5f opt_s=%.5f att_s=%.5f ln_s=%.5f gelu_s=%.5f blas_core=%s\n",
               ranks, T, B, C, L, n, step, tok_s, gflops, peak1024, peak_qkv, fwd, bwd, ar, opt,
               (b_att_f + b_att_b) * L, (b_ln_f + b_ln_b) * 2 * L, (b_gelu_f + b_gelu_b) * L, openblas_get_corename());
        fflush(stdout);
    }
    free(ts), free(t_fwd), free(t_bwd), free(t_ar), free(t_opt);
    free(m), free(v), free(all_in), free(all_tg), free(mask);
    gpt_free(&g);
    grad_sync_free(sync);
    dist_finalize();
    return 0;
}
