/* fd_dense: every dense layer's backward pass against central finite differences of its
 * own forward pass, in double precision (built with -DNN_DOUBLE against build-f64/nn/).
 *
 * For each layer, on shapes drawn at random (odd sizes among them), the test loss is
 * L = sum(out * R) for a fixed random R. Every input and weight element (FD_SUBSET of
 * them at random when a tensor has more) is moved by ±h, h = 1e-6, and (L+ - L-)/(x+ - x-)
 * is compared with the analytic gradient. The error of one element is
 * |analytic - fd| / max(|analytic|, |fd|, 1e-2 · max|analytic| over the tensor), bounded
 * by 1e-6. The quotient's own error is its truncation, h²·L'''/6 ~ 1e-13, plus the
 * rounding of the outputs that depend on the element, eps·|out|/h ~ 1e-10 (fd_check
 * sums Σ (out+ - out-)·R so that all other outputs cancel exactly). Over 300 seeds of
 * this file the worst element came to 1.8e-7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../nn/attention.h"
#include "../../nn/crossentropy.h"
#include "../../nn/dropout.h"
#include "../../nn/embedding.h"
#include "../../nn/gelu.h"
#include "../../nn/layernorm.h"
#include "../../nn/linear.h"
#include "../../nn/qknorm.h"
#include "../../nn/residual.h"
#include "../../nn/silu.h"

#define FD_H 1e-6
#define FD_TOL 1e-6
#define FD_SUBSET 256 /* elements checked per tensor when it has more */

_Static_assert(sizeof(scalar) == sizeof(double), "fd_dense is built with -DNN_DOUBLE");

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state;

/* Each test seeds its own draws, so adding a test does not change the others' shapes. */
static void rng_seed(uint64_t seed) { rng_state = seed; }

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1p-53; }

/* An integer in [lo, hi]. */
static size_t rng_range(size_t lo, size_t hi) { return lo + (size_t)(rng_next() % (hi - lo + 1)); }

static double rng_normal(void) {
    double u = rng_uniform(), v = rng_uniform();
    return sqrt(-2 * log(u + 0x1p-60)) * cos(2 * M_PI * v);
}

/* ---- buffers: one list per test, freed together ---- */

static void *bufs[64];
static size_t n_bufs;

static double *zeros(size_t n) {
    assert_true(n_bufs < sizeof bufs / sizeof bufs[0]);
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return bufs[n_bufs++] = p;
}

static double *randn(size_t n, double scale) {
    double *p = zeros(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal();
    return p;
}

static int free_bufs(void **state) {
    for (size_t i = 0; i < n_bufs; i++) free(bufs[i]);
    n_bufs = 0;
    return 0;
}

/* ---- the check ---- */

typedef void (*ForwardFn)(void *ctx); /* runs the forward pass on the current inputs into out */

/* Compares grad with central differences of L = sum(out * R) over the elements of x;
 * prints and returns the worst relative error, failing above FD_TOL. L+ - L- is summed
 * as Σ (out+ - out-)·R: outputs that do not depend on the element come out bit-identical
 * and cancel exactly, so only the rounding of the outputs that do depend on it remains. */
static double fd_check(const char *layer, const char *name, ForwardFn forward, void *ctx, const double *out,
                       const double *R, size_t n_out, double *x, const double *grad, size_t n) {
    double *plus = malloc(n_out * sizeof *plus);
    assert_non_null(plus);
    double max_g = 0;
    for (size_t i = 0; i < n; i++) max_g = fmax(max_g, fabs(grad[i]));
    const double floor = max_g > 0 ? 1e-2 * max_g : 1e-300;
    const size_t checks = n <= FD_SUBSET ? n : FD_SUBSET;
    double worst = 0;
    for (size_t c = 0; c < checks; c++) {
        size_t i = n <= FD_SUBSET ? c : (size_t)(rng_next() % n);
        double saved = x[i], up = saved + FD_H, down = saved - FD_H;
        x[i] = up;
        forward(ctx);
        memcpy(plus, out, n_out * sizeof *plus);
        x[i] = down;
        forward(ctx);
        x[i] = saved;
        double diff = 0;
        for (size_t k = 0; k < n_out; k++) diff += (plus[k] - out[k]) * R[k];
        double fd = diff / (up - down);
        double err = fabs(grad[i] - fd) / fmax(fmax(fabs(grad[i]), fabs(fd)), floor);
        if (err > worst) worst = err;
        if (err > FD_TOL) {
            free(plus);
            fail_msg("%s d%s[%zu]: analytic %.12g, finite difference %.12g (rel error %.3g)", layer, name, i,
                     grad[i], fd, err);
        }
    }
    free(plus);
    forward(ctx); /* leave the saved buffers as the unperturbed forward pass wrote them */
    printf("  %-34s d%-7s %4zu of %4zu elements, max rel error %.2e (tol %.0e)\n", layer, name, checks, n, worst,
           FD_TOL);
    return worst;
}

/* ---- linear ---- */

typedef struct { size_t N, C, OC; double *in, *w, *b, *out, *R; int bias; } LinearCase;

static void forward_linear(void *p) {
    LinearCase *c = p;
    linear_forward(c->out, c->in, c->w, c->bias ? c->b : NULL, c->N, c->C, c->OC);
}

static void test_linear(void **state) {
    rng_seed(1);
    for (int round = 0; round < 2; round++) {
        LinearCase c = {0};
        c.N = rng_range(1, 9), c.C = rng_range(1, 17), c.OC = rng_range(1, 13);
        c.bias = round == 0;
        c.in = randn(c.N * c.C, 1), c.w = randn(c.OC * c.C, 0.5), c.b = randn(c.OC, 1);
        c.out = zeros(c.N * c.OC), c.R = randn(c.N * c.OC, 1);
        double *din = zeros(c.N * c.C), *dw = zeros(c.OC * c.C), *db = zeros(c.OC);
        linear_backward(din, GRAD_ADD, dw, c.bias ? db : NULL, c.R, c.in, c.w, c.N, c.C, c.OC);
        char layer[64];
        snprintf(layer, sizeof layer, "linear N%zu C%zu OC%zu%s", c.N, c.C, c.OC, c.bias ? "" : " nobias");
        fd_check(layer, "in", forward_linear, &c, c.out, c.R, c.N * c.OC, c.in, din, c.N * c.C);
        fd_check(layer, "weight", forward_linear, &c, c.out, c.R, c.N * c.OC, c.w, dw, c.OC * c.C);
        if (c.bias) fd_check(layer, "bias", forward_linear, &c, c.out, c.R, c.N * c.OC, c.b, db, c.OC);
    }
}

/* ---- embedding ---- */

typedef struct { size_t N, V, C; int32_t ids[64]; double *table, *out, *R; } EmbeddingCase;

static void forward_embedding(void *p) {
    EmbeddingCase *c = p;
    embedding_forward(c->out, c->ids, c->table, c->N, c->V, c->C);
}

static void test_embedding(void **state) {
    rng_seed(2);
    EmbeddingCase c = {0};
    c.N = rng_range(20, 40), c.V = rng_range(3, 9), c.C = rng_range(5, 15); /* N > V: ids repeat */
    for (size_t i = 0; i < c.N; i++) c.ids[i] = (int32_t)(rng_next() % c.V);
    c.table = randn(c.V * c.C, 1), c.out = zeros(c.N * c.C), c.R = randn(c.N * c.C, 1);
    double *dtable = zeros(c.V * c.C);
    embedding_backward(dtable, c.R, c.ids, c.N, c.V, c.C);
    char layer[64];
    snprintf(layer, sizeof layer, "embedding N%zu V%zu C%zu", c.N, c.V, c.C);
    fd_check(layer, "table", forward_embedding, &c, c.out, c.R, c.N * c.C, c.table, dtable, c.V * c.C);
}

/* ---- layernorm ---- */

typedef struct { size_t N, C; double *in, *w, *b, *out, *mean, *rstd, *R; } LayernormCase;

static void forward_layernorm(void *p) {
    LayernormCase *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->in, c->w, c->b, c->N, c->C);
}

static void test_layernorm(void **state) {
    rng_seed(3);
    for (int round = 0; round < 2; round++) {
        LayernormCase c = {0};
        c.N = rng_range(1, 9), c.C = rng_range(3, 17); /* at C = 2 the output is ±1 and the gradient ~eps */
        c.in = randn(c.N * c.C, 2);
        for (size_t i = 0; i < c.N * c.C; i++) c.in[i] += 1.5; /* an offset to normalise away */
        c.w = randn(c.C, 1), c.b = randn(c.C, 1);
        c.out = zeros(c.N * c.C), c.mean = zeros(c.N), c.rstd = zeros(c.N), c.R = randn(c.N * c.C, 1);
        double *din = zeros(c.N * c.C), *dw = zeros(c.C), *db = zeros(c.C);
        forward_layernorm(&c);
        layernorm_backward(din, dw, db, c.R, c.in, c.w, c.mean, c.rstd, c.N, c.C);
        char layer[64];
        snprintf(layer, sizeof layer, "layernorm N%zu C%zu", c.N, c.C);
        fd_check(layer, "in", forward_layernorm, &c, c.out, c.R, c.N * c.C, c.in, din, c.N * c.C);
        fd_check(layer, "weight", forward_layernorm, &c, c.out, c.R, c.N * c.C, c.w, dw, c.C);
        fd_check(layer, "bias", forward_layernorm, &c, c.out, c.R, c.N * c.C, c.b, db, c.C);
    }
}

/* ---- gelu, silu, residual, dropout: elementwise ---- */

typedef struct { size_t n; GeluKind kind; double *in, *out, *R; } GeluCase;

static void forward_gelu(void *p) {
    GeluCase *c = p;
    gelu_forward(c->out, c->in, c->n, c->kind);
}

static void test_gelu(void **state) {
    rng_seed(4);
    for (int kind = GELU_ERF; kind <= GELU_TANH; kind++) {
        GeluCase c = {0};
        c.n = rng_range(40, 90), c.kind = (GeluKind)kind;
        c.in = randn(c.n, 3), c.out = zeros(c.n), c.R = randn(c.n, 1);
        double *din = zeros(c.n);
        gelu_backward(din, GRAD_ADD, c.R, c.in, c.n, c.kind);
        char layer[64];
        snprintf(layer, sizeof layer, "gelu (%s) n%zu", kind == GELU_ERF ? "erf" : "tanh", c.n);
        fd_check(layer, "in", forward_gelu, &c, c.out, c.R, c.n, c.in, din, c.n);
        /* the trainer's pair: forward keeps the slope, backward multiplies by it */
        double *slope = zeros(c.n), *out = zeros(c.n), *din_slope = zeros(c.n);
        gelu_forward_slope(out, slope, c.in, c.n, c.kind);
        gelu_backward_slope(din_slope, GRAD_ADD, c.R, slope, c.n);
        snprintf(layer, sizeof layer, "gelu slope (%s) n%zu", kind == GELU_ERF ? "erf" : "tanh", c.n);
        fd_check(layer, "in", forward_gelu, &c, c.out, c.R, c.n, c.in, din_slope, c.n);
    }
}

typedef struct { size_t n; double *in, *out, *R; } SiluCase;

static void forward_silu(void *p) {
    SiluCase *c = p;
    silu_forward(c->out, c->in, c->n);
}

static void test_silu(void **state) {
    rng_seed(5);
    SiluCase c = {0};
    c.n = rng_range(40, 90);
    c.in = randn(c.n, 4), c.out = zeros(c.n), c.R = randn(c.n, 1);
    double *din = zeros(c.n);
    silu_backward(din, c.R, c.in, c.n);
    char layer[64];
    snprintf(layer, sizeof layer, "silu n%zu", c.n);
    fd_check(layer, "in", forward_silu, &c, c.out, c.R, c.n, c.in, din, c.n);
}

typedef struct { size_t n; double *a, *b, *out, *R; } ResidualCase;

static void forward_residual(void *p) {
    ResidualCase *c = p;
    residual_forward(c->out, c->a, c->b, c->n);
}

static void test_residual(void **state) {
    rng_seed(6);
    ResidualCase c = {0};
    c.n = rng_range(20, 60);
    c.a = randn(c.n, 1), c.b = randn(c.n, 1), c.out = zeros(c.n), c.R = randn(c.n, 1);
    double *da = zeros(c.n), *db = zeros(c.n);
    residual_backward(da, db, c.R, c.n);
    char layer[64];
    snprintf(layer, sizeof layer, "residual n%zu", c.n);
    fd_check(layer, "a", forward_residual, &c, c.out, c.R, c.n, c.a, da, c.n);
    fd_check(layer, "b", forward_residual, &c, c.out, c.R, c.n, c.b, db, c.n);
}

typedef struct { size_t n; double p; uint64_t seed, first; double *in, *out, *R; } DropoutCase;

static void forward_dropout(void *p) {
    DropoutCase *c = p;
    dropout_forward(c->out, c->in, c->n, c->p, c->seed, c->first, 1);
}

static void test_dropout(void **state) {
    rng_seed(7);
    DropoutCase c = {0};
    c.n = rng_range(40, 90), c.p = 0.4, c.seed = 99, c.first = 17;
    c.in = randn(c.n, 1), c.out = zeros(c.n), c.R = randn(c.n, 1);
    double *din = zeros(c.n);
    dropout_backward(din, c.R, c.n, c.p, c.seed, c.first, 1);
    char layer[64];
    snprintf(layer, sizeof layer, "dropout n%zu p0.4", c.n);
    fd_check(layer, "in", forward_dropout, &c, c.out, c.R, c.n, c.in, din, c.n);
}

/* ---- cross-entropy ----
 * The layer's output is the scalar loss Σ w_i·nll_i / Σ w_i (non-ignored i). As a sum
 * over the per-position losses it is sum(losses * R) with R_i = dloss · w_i / Σw, 0 where
 * ignored; the test checks the returned loss is exactly that, then differentiates it
 * through the per-position losses (see fd_check on why). */

typedef struct {
    size_t N, V;
    int32_t targets[32], ignore;
    double *logits, *weights, *row_max, *row_logsum, *losses, *R, dloss, loss;
} CrossentropyCase;

static void forward_crossentropy(void *p) {
    CrossentropyCase *c = p;
    c->loss = crossentropy_forward(c->losses, c->row_max, c->row_logsum, c->logits, c->targets, c->weights, c->ignore,
                                   c->N, c->V);
}

static void test_crossentropy(void **state) {
    rng_seed(8);
    for (int weighted = 0; weighted < 2; weighted++) {
        CrossentropyCase c = {0};
        c.N = rng_range(4, 20), c.V = rng_range(2, 17);
        c.ignore = -1, c.dloss = 0.7;
        for (size_t i = 0; i < c.N; i++) c.targets[i] = i % 3 == 1 ? c.ignore : (int32_t)(rng_next() % c.V);
        c.logits = randn(c.N * c.V, 2);
        for (size_t v = 0; v < c.V; v++) c.logits[v] += 300; /* far from 0: the max shift must hold */
        c.weights = NULL;
        if (weighted) {
            c.weights = zeros(c.N);
            for (size_t i = 0; i < c.N; i++) c.weights[i] = 0.25 + rng_uniform();
        }
        c.row_max = zeros(c.N), c.row_logsum = zeros(c.N), c.losses = zeros(c.N), c.R = zeros(c.N);
        double wsum = 0, total = 0;
        for (size_t i = 0; i < c.N; i++)
            if (c.targets[i] != c.ignore) wsum += c.weights ? c.weights[i] : 1;
        for (size_t i = 0; i < c.N; i++)
            if (c.targets[i] != c.ignore) c.R[i] = c.dloss * (c.weights ? c.weights[i] : 1) / wsum;
        forward_crossentropy(&c);
        for (size_t i = 0; i < c.N; i++) {
            if (c.targets[i] == c.ignore) assert_true(c.losses[i] == 0);
            total += c.R[i] * c.losses[i];
        }
        assert_true(fabs(c.dloss * c.loss - total) <= 1e-14 * fabs(total));
        double *dlogits = zeros(c.N * c.V);
        crossentropy_backward(dlogits, c.dloss, c.logits, c.row_max, c.row_logsum, c.targets, c.weights, c.ignore, c.N,
                              c.V);
        char layer[64];
        snprintf(layer, sizeof layer, "crossentropy N%zu V%zu%s", c.N, c.V, weighted ? " weighted" : "");
        fd_check(layer, "logits", forward_crossentropy, &c, c.losses, c.R, c.N, c.logits, dlogits, c.N * c.V);
    }
}

/* ---- attention (and QK-norm in front of it) ---- */

typedef struct {
    size_t B, T, C, NH;
    const uint8_t *mask;
    int per_sample, qk_norm;
    double *qkv, *normed, *mean, *rstd, *out, *att, *R;
} AttentionCase;

static void forward_attention(void *p) {
    AttentionCase *c = p;
    const double *in = c->qkv;
    if (c->qk_norm) {
        qknorm_forward(c->normed, c->mean, c->rstd, c->qkv, c->B * c->T, c->C, c->NH);
        in = c->normed;
    }
    attention_forward(c->out, c->att, in, c->mask, c->per_sample, c->B, c->T, c->C, c->NH);
}

/* Backward, then the finite differences, for a case whose shape, mask and flags are set. */
static void fd_attention(AttentionCase *c, const char *kind) {
    const size_t B = c->B, T = c->T, C = c->C, NH = c->NH, nqkv = B * T * 3 * C;
    c->qkv = randn(nqkv, 1.5), c->normed = zeros(nqkv), c->mean = zeros(B * T * 2 * NH);
    c->rstd = zeros(B * T * 2 * NH), c->out = zeros(B * T * C), c->att = zeros(B * NH * T * T);
    c->R = randn(B * T * C, 1);
    double *dqkv = zeros(nqkv), *dnormed = zeros(nqkv), *scratch = zeros(T * T);
    forward_attention(c);
    if (c->qk_norm) {
        attention_backward(dnormed, scratch, c->R, c->normed, c->att, B, T, C, NH);
        qknorm_backward(dqkv, dnormed, c->qkv, c->mean, c->rstd, B * T, C, NH);
    } else {
        attention_backward(dqkv, scratch, c->R, c->qkv, c->att, B, T, C, NH);
    }
    char layer[64];
    snprintf(layer, sizeof layer, "attention %s B%zu T%zu NH%zu HS%zu", kind, B, T, NH, C / NH);
    fd_check(layer, "qkv", forward_attention, c, c->out, c->R, B * T * C, c->qkv, dqkv, nqkv);
}

static void run_attention(const char *kind, int qk_norm, uint64_t seed) {
    rng_seed(seed);
    AttentionCase c = {0};
    c.B = rng_range(2, 3), c.T = rng_range(3, 9), c.NH = rng_range(2, 3);
    c.C = c.NH * rng_range(3, 7); /* HS >= 3: QK-norm over 2 values is ±1, its gradient ~eps */
    c.qk_norm = qk_norm;
    const size_t B = c.B, T = c.T;
    uint8_t *mask = (uint8_t *)zeros(B * T * T); /* (as bytes; large enough for every kind) */
    if (strcmp(kind, "causal") == 0) {
        attention_causal_mask(mask, T);
    } else if (strcmp(kind, "shared") == 0) {
        for (size_t i = 0; i < T * T; i++) mask[i] = rng_uniform() < 0.6;
    } else if (strcmp(kind, "per_sample") == 0) {
        for (size_t i = 0; i < B * T * T; i++) mask[i] = rng_uniform() < 0.5;
        memset(mask + (B - 1) * T * T + 1 * T, 0, T); /* a query that sees no key */
        c.per_sample = 1;
    }
    c.mask = strcmp(kind, "none") == 0 ? NULL : mask;
    fd_attention(&c, kind);
}

/* Rows r0..r1-1 of a (T,T) mask: query i sees key i only. */
static void self_only(uint8_t *m, size_t T, size_t r0, size_t r1) {
    for (size_t i = r0; i < r1; i++)
        for (size_t j = 0; j < T; j++) m[i * T + j] = j == i;
}

/* Random (T,T) mask entries at density p, and one key in [lo, hi) for every row. */
static void random_mask(uint8_t *m, size_t T, double p, size_t lo, size_t hi) {
    for (size_t i = 0; i < T * T; i++) m[i] = rng_uniform() < p;
    for (size_t i = 0; i < T; i++) m[i * T + rng_range(lo, hi - 1)] = 1;
}

/* T over several of attention.c's 32-row blocks, whose keys it computes only as far as
 * the mask needs: B 2, 2 heads of HS (4: BLAS; 8 and 24, whole vectors of 8 doubles:
 * nn/headgemm.c's tiles), the masks of ref_dense.py's block_masks. shared:
 * random with holes, every row seeing some key; at T > 64 rows 32..63 see only keys
 * [16, 48). per_sample: random, some rows seeing only themselves, one seeing nothing; at
 * T > 64 sample 1's second block is self-only and its third sees nothing. */
static void run_attention_blocks(const char *kind, size_t T, size_t HS, uint64_t seed) {
    rng_seed(seed);
    AttentionCase c = {0};
    c.B = 2, c.T = T, c.NH = 2, c.C = 2 * HS;
    uint8_t *mask = (uint8_t *)zeros(2 * T * T); /* (as bytes) */
    if (strcmp(kind, "causal") == 0) {
        attention_causal_mask(mask, T);
    } else if (strcmp(kind, "shared") == 0) {
        random_mask(mask, T, 0.5, 0, T);
        if (T > 64)
            for (size_t i = 32; i < 64; i++) {
                for (size_t j = 0; j < T; j++)
                    if (j < 16 || j >= 48) mask[i * T + j] = 0;
                mask[i * T + rng_range(16, 47)] = 1;
            }
    } else if (strcmp(kind, "per_sample") == 0) {
        uint8_t *m0 = mask, *m1 = mask + T * T;
        random_mask(m0, T, 0.4, 0, T);
        random_mask(m1, T, 0.4, 0, T);
        if (T > 64) {
            const size_t rows[] = {0, 5, 31, 40, 69};
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) self_only(m0, T, rows[r], rows[r] + 1);
            memset(m0 + 50 * T, 0, T);           /* a query that sees no key */
            self_only(m1, T, 32, 64);            /* a whole block self-only */
            memset(m1 + 64 * T, 0, (T - 64) * T); /* a whole block that sees nothing */
        } else {
            self_only(m0, T, T - 1, T); /* the last block's row(s) */
            memset(m0 + 3 * T, 0, T);
            self_only(m1, T, 0, 32);
        }
        c.per_sample = 1;
    }
    c.mask = strcmp(kind, "none") == 0 ? NULL : mask;
    fd_attention(&c, kind);
}

static void test_attention_none(void **state) { run_attention("none", 0, 9); }
static void test_attention_causal(void **state) { run_attention("causal", 0, 10); }
static void test_attention_shared(void **state) { run_attention("shared", 0, 11); }
static void test_attention_per_sample(void **state) { run_attention("per_sample", 0, 12); }
static void test_attention_qknorm(void **state) { run_attention("causal", 1, 13); }
static void test_attention_T70_causal(void **state) { run_attention_blocks("causal", 70, 4, 14); }
static void test_attention_T70_none(void **state) { run_attention_blocks("none", 70, 4, 15); }
static void test_attention_T70_shared(void **state) { run_attention_blocks("shared", 70, 4, 16); }
static void test_attention_T70_per_sample(void **state) { run_attention_blocks("per_sample", 70, 4, 17); }
static void test_attention_T33_causal(void **state) { run_attention_blocks("causal", 33, 4, 18); }
static void test_attention_T33_none(void **state) { run_attention_blocks("none", 33, 4, 19); }
static void test_attention_T33_shared(void **state) { run_attention_blocks("shared", 33, 4, 20); }
static void test_attention_T33_per_sample(void **state) { run_attention_blocks("per_sample", 33, 4, 21); }
static void test_attention_hs8_causal(void **state) { run_attention_blocks("causal", 70, 8, 22); }
static void test_attention_hs8_shared(void **state) { run_attention_blocks("shared", 70, 8, 23); }
static void test_attention_hs8_per_sample(void **state) { run_attention_blocks("per_sample", 70, 8, 24); }
static void test_attention_hs24_none(void **state) { run_attention_blocks("none", 33, 24, 25); }
static void test_attention_hs24_per_sample(void **state) { run_attention_blocks("per_sample", 33, 24, 26); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_linear, free_bufs),
        cmocka_unit_test_teardown(test_embedding, free_bufs),
        cmocka_unit_test_teardown(test_layernorm, free_bufs),
        cmocka_unit_test_teardown(test_gelu, free_bufs),
        cmocka_unit_test_teardown(test_silu, free_bufs),
        cmocka_unit_test_teardown(test_residual, free_bufs),
        cmocka_unit_test_teardown(test_dropout, free_bufs),
        cmocka_unit_test_teardown(test_crossentropy, free_bufs),
        cmocka_unit_test_teardown(test_attention_none, free_bufs),
        cmocka_unit_test_teardown(test_attention_causal, free_bufs),
        cmocka_unit_test_teardown(test_attention_shared, free_bufs),
        cmocka_unit_test_teardown(test_attention_per_sample, free_bufs),
        cmocka_unit_test_teardown(test_attention_qknorm, free_bufs),
        cmocka_unit_test_teardown(test_attention_T70_causal, free_bufs),
        cmocka_unit_test_teardown(test_attention_T70_none, free_bufs),
        cmocka_unit_test_teardown(test_attention_T70_shared, free_bufs),
        cmocka_unit_test_teardown(test_attention_T70_per_sample, free_bufs),
        cmocka_unit_test_teardown(test_attention_T33_causal, free_bufs),
        cmocka_unit_test_teardown(test_attention_T33_none, free_bufs),
        cmocka_unit_test_teardown(test_attention_T33_shared, free_bufs),
        cmocka_unit_test_teardown(test_attention_T33_per_sample, free_bufs),
        cmocka_unit_test_teardown(test_attention_hs8_causal, free_bufs),
        cmocka_unit_test_teardown(test_attention_hs8_shared, free_bufs),
        cmocka_unit_test_teardown(test_attention_hs8_per_sample, free_bufs),
        cmocka_unit_test_teardown(test_attention_hs24_none, free_bufs),
        cmocka_unit_test_teardown(test_attention_hs24_per_sample, free_bufs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
