/* test_quantizer: nn/quantizer against PyTorch and numpy, and its codebook bookkeeping.
 *
 * The fixtures come from tests/ref/ref_quantizer.py (TESSERA_REF/quantizer_<case>.tsr):
 * z, codebook, R, the nearest codes, zq, the quantizer loss and the gradients of
 * sum(zq * R) + loss, so backward runs with dzq = R and loss_scale 1; plain and
 * l2-normalized, with the codebook loss and in EMA mode (no codebook gradient), odd sizes,
 * and 300 rows (more than one distance chunk). Codes must match exactly (the script keeps
 * every row's two nearest codes 1e-3 apart), zq and the loss to 1e-5 and the gradients to
 * 1e-4, in relative error |got - want| / max(|want|, FLOOR), FLOOR = 1e-2 · max|want| of the
 * tensor, as test_nn_conv. Backward runs twice and the halved sum is checked again:
 * gradients are accumulated. The EMA update is checked against numpy to 1e-5; dead-code
 * restart, perplexity and encode/lookup are checked on hand-made inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../nn/quantizer.h"
#include "tensorfile.h"

_Static_assert(sizeof(scalar) == sizeof(float), "test_quantizer compares float buffers; build without NN_DOUBLE");

#define TOL_FORWARD 1e-5
#define TOL_GRAD 1e-4
#define FLOOR_FRACTION 1e-2
#define EMA_DECAY 0.9 /* as in ref_quantizer.py */
#define EMA_EPS 1e-5

static double worst_forward, worst_grad;

static TensorFile *load_case(const char *name) {
    return tf_load_ref("quantizer_%s.tsr", name);
}

static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void check(const char *test, const char *what, const float *got, const float *want, size_t n, double tol) {
    double top = 0;
    for (size_t i = 0; i < n; i++) top = fmax(top, fabs((double)want[i]));
    double e = max_rel_error(got, want, n, FLOOR_FRACTION * top + 1e-30);
    printf("  %-24s %-18s max rel error %.2e\n", test, what, e);
    double *worst = tol < TOL_GRAD ? &worst_forward : &worst_grad;
    if (e > *worst) *worst = e;
    if (!(e <= tol)) fail_msg("%s: %s: max relative error %.3g > %.1g", test, what, e, tol);
}

static void halve(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] *= 0.5f;
}

static QuantizerConfig config_of(const TensorFile *tf, size_t *N) {
    const int32_t *c = tf_i32(tf, "config", 5);
    *N = (size_t)c[0];
    return (QuantizerConfig){.K = c[1], .D = c[2], .normalize = c[3], .codebook_loss = c[4]};
}

/* ---- forward and backward against PyTorch ------------------------------------------- */

static void run_case(const char *name) {
    TensorFile *tf = load_case(name);
    size_t N;
    QuantizerConfig q = config_of(tf, &N);
    q.beta = tf_f32(tf, "beta", 1)[0];
    size_t K = (size_t)q.K, D = (size_t)q.D, nz = N * D, ne = K * D;
    const float *z = tf_f32(tf, "z", nz), *codebook = tf_f32(tf, "codebook", ne), *R = tf_f32(tf, "R", nz);
    const int32_t *want_codes = tf_i32(tf, "codes", N);
    float *zq = zeros(nz), *scratch = zeros(quantizer_scratch_size(N, &q)), *dz = zeros(nz), *de = zeros(ne);
    int32_t *codes = calloc(N, sizeof *codes), *codes2 = calloc(N, sizeof *codes2);
    assert_non_null(codes), assert_non_null(codes2);

    float loss = quantizer_forward(zq, codes, scratch, z, codebook, N, &q);
    for (size_t i = 0; i < N; i++)
        if (codes[i] != want_codes[i]) fail_msg("%s: codes[%zu] = %d, torch %d", name, i, codes[i], want_codes[i]);
    check(name, "zq", zq, tf_f32(tf, "zq", nz), nz, TOL_FORWARD);
    check(name, "loss", &loss, tf_f32(tf, "loss", 1), 1, TOL_FORWARD);

    /* encode and lookup are forward's halves: the same codes, the same vectors, bit for bit. */
    float *looked_up = zeros(nz);
    quantizer_encode(codes2, scratch, z, codebook, N, &q);
    assert_memory_equal(codes2, codes, N * sizeof *codes);
    quantizer_lookup(looked_up, codes, N, codebook, &q);
    assert_memory_equal(looked_up, zq, nz * sizeof *zq);

    for (int pass = 1; pass <= 2; pass++) {
        quantizer_backward(dz, de, R, z, codebook, codes, N, 1.0f, &q);
        if (pass == 2) halve(dz, nz), halve(de, ne);
        check(name, pass == 1 ? "dz" : "dz (x2)/2", dz, tf_f32(tf, "dz", nz), nz, TOL_GRAD);
        if (q.codebook_loss)
            check(name, pass == 1 ? "dcodebook" : "dcodebook (x2)/2", de, tf_f32(tf, "dcodebook", ne), ne, TOL_GRAD);
    }
    if (!q.codebook_loss) { /* EMA mode: the codebook gets no gradient; dcodebook may be NULL */
        for (size_t j = 0; j < ne; j++) assert_true(de[j] == 0.0f);
        memset(dz, 0, nz * sizeof *dz);
        quantizer_backward(dz, NULL, R, z, codebook, codes, N, 1.0f, &q);
        check(name, "dz, NULL dcodebook", dz, tf_f32(tf, "dz", nz), nz, TOL_GRAD);
    }
    free(zq), free(scratch), free(dz), free(de), free(codes), free(codes2), free(looked_up);
    tf_free(tf);
}

static void test_plain(void **state) { run_case("plain"); }
static void test_normalized(void **state) { run_case("normalized"); }
static void test_ema_mode(void **state) {
    run_case("ema_mode");
    run_case("ema_mode_normalized");
}
static void test_odd(void **state) {
    run_case("odd");
    run_case("odd_normalized");
}
static void test_big(void **state) {
    run_case("big");
    run_case("big_normalized");
}

/* ---- EMA update against numpy -------------------------------------------------------- */

static void run_ema(const char *name) {
    TensorFile *tf = load_case(name);
    size_t N;
    QuantizerConfig q = config_of(tf, &N);
    size_t K = (size_t)q.K, D = (size_t)q.D, ne = K * D;
    const float *z = tf_f32(tf, "z", N * D);
    const int32_t *codes = tf_i32(tf, "codes", N);
    float *counts = zeros(K), *sums = zeros(ne), *codebook = zeros(ne), *ema_count = zeros(K), *ema_sum = zeros(ne);
    int32_t *nearest = calloc(N, sizeof *nearest);
    float *scratch = zeros(quantizer_scratch_size(N, &q));
    assert_non_null(nearest);
    memcpy(codebook, tf_f32(tf, "codebook0", ne), ne * sizeof *codebook);
    memcpy(ema_count, tf_f32(tf, "ema_count0", K), K * sizeof *ema_count);
    memcpy(ema_sum, tf_f32(tf, "ema_sum0", ne), ne * sizeof *ema_sum);

    quantizer_encode(nearest, scratch, z, codebook, N, &q);
    assert_memory_equal(nearest, codes, N * sizeof *codes);
    quantizer_ema_stats(counts, sums, z, codes, N, &q);
    check(name, "counts", counts, tf_f32(tf, "counts", K), K, TOL_FORWARD);
    check(name, "sums", sums, tf_f32(tf, "sums", ne), ne, TOL_FORWARD);
    quantizer_ema_update(codebook, ema_count, ema_sum, counts, sums, EMA_DECAY, EMA_EPS, &q);
    check(name, "ema_count", ema_count, tf_f32(tf, "ema_count", K), K, TOL_FORWARD);
    check(name, "ema_sum", ema_sum, tf_f32(tf, "ema_sum", ne), ne, TOL_FORWARD);
    check(name, "codebook", codebook, tf_f32(tf, "codebook", ne), ne, TOL_FORWARD);

    /* stats add: a second call doubles them */
    quantizer_ema_stats(counts, sums, z, codes, N, &q);
    halve(counts, K), halve(sums, ne);
    check(name, "counts (x2)/2", counts, tf_f32(tf, "counts", K), K, TOL_FORWARD);
    check(name, "sums (x2)/2", sums, tf_f32(tf, "sums", ne), ne, TOL_FORWARD);
    free(counts), free(sums), free(codebook), free(ema_count), free(ema_sum), free(nearest), free(scratch);
    tf_free(tf);
}

static void test_ema_update(void **state) {
    run_ema("ema_update");
    run_ema("ema_update_normalized");
}

/* ---- dead-code restart ---------------------------------------------------------------- */

enum { RK = 8, RD = 3, RC = 5 };

/* Candidate c is (c+1, 2, -1): every one points elsewhere, so each is told apart, normalized or not. */
static void restart_setup(float *codebook, float *usage, float *ema_count, float *ema_sum, float *candidates) {
    static const float u[RK] = {5, 0.01f, 3, 0, 0.2f, 7, 0.05f, 1}; /* dead below 0.1: codes 1, 3, 6 */
    for (int k = 0; k < RK; k++) {
        usage[k] = u[k];
        ema_count[k] = u[k] + 1;
        for (int d = 0; d < RD; d++) codebook[k * RD + d] = (float)(-k - 1 - d), ema_sum[k * RD + d] = (float)(k * d);
    }
    for (int c = 0; c < RC; c++)
        candidates[c * RD] = (float)(c + 1), candidates[c * RD + 1] = 2, candidates[c * RD + 2] = -1;
}

static void check_restart(int normalize, uint64_t seed, float *codebook, float *ema_count, float *ema_sum,
                          int *picked) {
    QuantizerConfig q = {.K = RK, .D = RD, .normalize = normalize, .beta = 0.25};
    float old_codebook[RK * RD], usage[RK], old_usage[RK], old_ema_sum[RK * RD], old_ema_count[RK],
        candidates[RC * RD];
    restart_setup(codebook, usage, ema_count, ema_sum, candidates);
    memcpy(old_codebook, codebook, sizeof old_codebook), memcpy(old_usage, usage, sizeof usage);
    memcpy(old_ema_count, ema_count, sizeof old_ema_count), memcpy(old_ema_sum, ema_sum, sizeof old_ema_sum);
    float mean = 0;
    for (int k = 0; k < RK; k++) mean += usage[k] / RK;

    assert_int_equal(quantizer_restart_dead(codebook, usage, ema_count, ema_sum, candidates, RC, 0.1, seed, &q), 3);
    int used[RC] = {0}, n_dead = 0;
    for (int k = 0; k < RK; k++) {
        const float *e = codebook + k * RD;
        if (old_usage[k] >= 0.1f) { /* a live code: untouched */
            assert_memory_equal(e, old_codebook + k * RD, RD * sizeof *e);
            assert_true(usage[k] == old_usage[k] && ema_count[k] == old_ema_count[k]);
            assert_memory_equal(ema_sum + k * RD, old_ema_sum + k * RD, RD * sizeof *e);
            continue;
        }
        /* a dead code: some candidate (normalized when q.normalize), none twice */
        int c = -1;
        float want[RD];
        for (int j = 0; j < RC && c < 0; j++) {
            const float *v = candidates + j * RD;
            float f = normalize ? 1 / sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) : 1;
            int same = 1;
            for (int d = 0; d < RD; d++) {
                want[d] = v[d] * f;
                same &= fabsf(e[d] - want[d]) <= 1e-6f * fabsf(want[d]);
            }
            if (same) c = j;
        }
        assert_true(c >= 0);
        assert_int_equal(used[c]++, 0);
        for (int d = 0; d < RD; d++)
            assert_true(fabsf(ema_sum[k * RD + d] - want[d] * mean) <= 1e-5f * fabsf(want[d] * mean));
        assert_true(fabsf(usage[k] - mean) <= 1e-6f * mean && ema_count[k] == usage[k]);
        picked[n_dead++] = c;
    }
    assert_int_equal(n_dead, 3);
}

static void test_restart_dead(void **state) {
    for (int normalize = 0; normalize <= 1; normalize++) {
        float codebook[RK * RD], ema_count[RK], ema_sum[RK * RD], codebook2[RK * RD], ema_count2[RK],
            ema_sum2[RK * RD];
        int picked[3], picked2[3];
        check_restart(normalize, 42, codebook, ema_count, ema_sum, picked);
        check_restart(normalize, 42, codebook2, ema_count2, ema_sum2, picked2); /* same seed, same result */
        assert_memory_equal(codebook, codebook2, sizeof codebook);
        assert_memory_equal(ema_sum, ema_sum2, sizeof ema_sum);
        assert_memory_equal(picked, picked2, sizeof picked);
        /* Another seed gives another draw (5·4·3 = 60 orders: some of 20 seeds must differ). */
        int differs = 0;
        for (uint64_t seed = 1; seed <= 20 && !differs; seed++) {
            check_restart(normalize, seed, codebook2, ema_count2, ema_sum2, picked2);
            differs = memcmp(picked, picked2, sizeof picked) != 0;
        }
        assert_true(differs);
    }
    /* Fewer candidates than dead codes: the first codes (in order of k) get them all; NULL EMA state. */
    QuantizerConfig q = {.K = RK, .D = RD, .beta = 0.25};
    float codebook[RK * RD], usage[RK], ema_count[RK], ema_sum[RK * RD], candidates[RC * RD], old[RK * RD];
    restart_setup(codebook, usage, ema_count, ema_sum, candidates);
    memcpy(old, codebook, sizeof old);
    assert_int_equal(quantizer_restart_dead(codebook, usage, NULL, NULL, candidates, 2, 0.1, 7, &q), 2);
    for (int k = 0; k < RK; k++) {
        int changed = memcmp(codebook + k * RD, old + k * RD, RD * sizeof(float)) != 0;
        assert_int_equal(changed, k == 1 || k == 3);
    }
    assert_true(memcmp(codebook + 1 * RD, codebook + 3 * RD, RD * sizeof(float)) != 0);
    /* No dead code: nothing changes. */
    restart_setup(codebook, usage, ema_count, ema_sum, candidates);
    memcpy(old, codebook, sizeof old);
    assert_int_equal(quantizer_restart_dead(codebook, usage, ema_count, ema_sum, candidates, RC, 0.0, 7, &q), 0);
    assert_memory_equal(codebook, old, sizeof old);
}

/* ---- perplexity ----------------------------------------------------------------------- */

static void assert_near(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) fail_msg("%.17g, expected %.17g (tolerance %g)", got, want, tol);
}

static void test_perplexity(void **state) {
    double uniform[16], one_hot[16] = {0}, used = -1;
    for (int k = 0; k < 16; k++) uniform[k] = 3;
    one_hot[5] = 40;
    assert_near(quantizer_perplexity(uniform, 16, &used), 16.0, 1e-12);
    assert_near(used, 1.0, 0);
    assert_near(quantizer_perplexity(one_hot, 16, &used), 1.0, 1e-12);
    assert_near(used, 1.0 / 16, 0);
    /* p = (1/4, 1/4, 1/2, 0): entropy 1.5 ln 2, perplexity 2^1.5; three of four codes used */
    double mixed[4] = {1, 1, 2, 0};
    assert_near(quantizer_perplexity(mixed, 4, &used), pow(2, 1.5), 1e-12);
    assert_near(used, 0.75, 0);
    assert_near(quantizer_perplexity(mixed, 4, NULL), pow(2, 1.5), 1e-12);
    double empty[3] = {0};
    assert_near(quantizer_perplexity(empty, 3, &used), 0.0, 0);
    assert_near(used, 0.0, 0);
}

/* ---- edges ------------------------------------------------------------------------------ */

static void test_edges(void **state) {
    /* Scratch stays bounded however many rows: one chunk of distances plus normalized copies. */
    QuantizerConfig q = {.K = 1024, .D = 32, .normalize = 1, .beta = 0.25, .codebook_loss = 1};
    size_t bound = (size_t)QUANTIZER_CHUNK * (1024 + 32) + 1024 + 1024 * 32;
    assert_true(quantizer_scratch_size(10000000, &q) <= bound);
    assert_true(quantizer_scratch_size(10000000, &q) == quantizer_scratch_size(QUANTIZER_CHUNK, &q));

    /* Ties go to the lowest code; a zero vector under normalization (F.normalize's clamp) stays finite. */
    float codebook[3 * 2] = {1, 0, 0, 1, 1, 0}, z[2 * 2] = {0, 0, 2, 0}, zq[4], dz[4] = {0}, de[6] = {0},
          R[4] = {1, 1, 1, 1};
    int32_t codes[2];
    QuantizerConfig t = {.K = 3, .D = 2, .normalize = 1, .beta = 0.25, .codebook_loss = 1};
    float scratch[64];
    assert_true(quantizer_scratch_size(2, &t) <= 64);
    float loss = quantizer_forward(zq, codes, scratch, z, codebook, 2, &t);
    assert_int_equal(codes[1], 0); /* (1,0) and (1,0) again at k = 2 */
    assert_true(isfinite(loss));
    quantizer_backward(dz, de, R, z, codebook, codes, 2, 1.0f, &t);
    for (int j = 0; j < 4; j++) assert_true(isfinite(zq[j]) && isfinite(dz[j]));
    for (int j = 0; j < 6; j++) assert_true(isfinite(de[j]));
    t.normalize = 0;
    float z2[2] = {0.5f, 0.5f}; /* equidistant from (1,0) and (0,1) */
    quantizer_encode(codes, scratch, z2, codebook, 1, &t);
    assert_int_equal(codes[0], 0);
    /* N = 0 is no work and no loss. */
    assert_true(quantizer_forward(zq, codes, scratch, z, codebook, 0, &t) == 0.0f);
}

static void test_report(void **state) {
    printf("  worst forward %.2e (limit %.0e), worst gradient %.2e (limit %.0e), floor %.0e x max|ref|\n",
           worst_forward, TOL_FORWARD, worst_grad, TOL_GRAD, FLOOR_FRACTION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),        cmocka_unit_test(test_normalized), cmocka_unit_test(test_ema_mode),
        cmocka_unit_test(test_odd),          cmocka_unit_test(test_big),        cmocka_unit_test(test_ema_update),
        cmocka_unit_test(test_restart_dead), cmocka_unit_test(test_perplexity), cmocka_unit_test(test_edges),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
