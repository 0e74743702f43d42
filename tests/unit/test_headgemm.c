/* headgemm's three products against the plain triple loops in double, over every tile
 * shape: row counts that leave remainders (1..19 rows), column counts across the partial
 * last vector and several column tiles, head sizes of 1 to 5 vectors, a column offset
 * into the packed matrix, alpha, overwrite and accumulate. Cells outside each product's
 * output must stay as they were (NaN guard cells around every row). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../core/rng.h"
#include "../../nn/headgemm.h"

static Rng rng;

static float *random_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rng_float(&rng) * 2 - 1;
    return p;
}

/* |got - want| within 1e-5 of the size of the terms summed (sum_abs). */
static void assert_close(double got, double want, double sum_abs, const char *what, size_t i, size_t j) {
    if (!(fabs(got - want) <= 1e-5 * (sum_abs + 1e-3)))
        fail_msg("%s[%zu][%zu] = %.9g, expected %.9g", what, i, j, got, want);
}

/* c (m, n) = alpha · a (m, hs) · b (n, hs)ᵀ, b given packed from a column offset. */
static void check_a_bt(size_t m, size_t n, size_t hs, size_t offset) {
    const size_t lda = hs + 3, ldb = hs + 5, ldc = n + 7, rows_b = n + offset;
    const float alpha = 0.37f;
    float *a = random_floats(m * lda), *b = random_floats(rows_b * ldb), *c = malloc(m * ldc * sizeof *c);
    for (size_t i = 0; i < m * ldc; i++) c[i] = NAN;
    size_t stride = headgemm_packed_stride(rows_b);
    float *bt = malloc(hs * stride * sizeof *bt);
    headgemm_pack_t(bt, stride, b, ldb, rows_b, hs);
    headgemm_a_bt(c, ldc, alpha, a, lda, bt + offset, stride, m, n, hs);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double want = 0, sum_abs = 0;
            for (size_t d = 0; d < hs; d++) {
                double t = (double)a[i * lda + d] * b[(offset + j) * ldb + d];
                want += t, sum_abs += fabs(t);
            }
            assert_close(c[i * ldc + j], alpha * want, sum_abs, "a_bt", i, j);
        }
        for (size_t j = n; j < ldc; j++) assert_true(isnan(c[i * ldc + j])); /* untouched */
    }
    free(a), free(b), free(c), free(bt);
}

/* c (m, hs) = [c +] alpha · p (m, n) · x (n, hs), or c (n, hs) += alpha · pᵀ · x (m, hs). */
static void check_p_x(size_t m, size_t n, size_t hs, int transposed, int accumulate) {
    const size_t ldp = n + 3, ldx = hs + 16, ldc = hs + 16, out_rows = transposed ? n : m;
    const size_t x_rows = transposed ? m : n;
    const float alpha = -1.3f;
    float *p = random_floats(m * ldp), *x = random_floats(x_rows * ldx), *c = random_floats(out_rows * ldc);
    float *c0 = malloc(out_rows * ldc * sizeof *c0);
    for (size_t i = 0; i < out_rows; i++)
        for (size_t d = hs; d < ldc; d++) c[i * ldc + d] = NAN;
    for (size_t i = 0; i < out_rows * ldc; i++) c0[i] = c[i];
    if (transposed)
        headgemm_pt_x(c, ldc, alpha, p, ldp, x, ldx, m, n, hs);
    else
        headgemm_p_x(c, ldc, accumulate, alpha, p, ldp, x, ldx, m, n, hs);
    const size_t sum_over = transposed ? m : n;
    for (size_t i = 0; i < out_rows; i++) {
        for (size_t d = 0; d < hs; d++) {
            double want = 0, sum_abs = 0;
            for (size_t k = 0; k < sum_over; k++) {
                double pk = transposed ? p[k * ldp + i] : p[i * ldp + k];
                double t = pk * x[k * ldx + d];
                want += t, sum_abs += fabs(t);
            }
            want = alpha * want + (transposed || accumulate ? c0[i * ldc + d] : 0);
            assert_close(c[i * ldc + d], want, sum_abs + fabs(c0[i * ldc + d]), transposed ? "pt_x" : "p_x", i, d);
        }
        for (size_t d = hs; d < ldc; d++) assert_true(isnan(c[i * ldc + d]));
    }
    free(p), free(x), free(c), free(c0);
}

static const size_t ROWS[] = {1, 3, 4, 7, 8, 9, 16, 19};
static const size_t COLS[] = {1, 5, 15, 16, 17, 33, 64, 65, 70};
#define COUNT(a) (sizeof(a) / sizeof (a)[0])

static void test_fits(void **state) {
    assert_true(headgemm_fits(HEADGEMM_LANES));
    assert_true(headgemm_fits(5 * HEADGEMM_LANES));
    assert_false(headgemm_fits(0));
    assert_false(headgemm_fits(HEADGEMM_LANES + HEADGEMM_LANES / 2));
    assert_true(headgemm_packed_stride(1) == 2 * HEADGEMM_LANES);
    assert_true(headgemm_packed_stride(HEADGEMM_LANES) == 2 * HEADGEMM_LANES);
}

static void test_a_bt(void **state) {
    rng_seed(&rng, 1);
    for (size_t v = 1; v <= 5; v++)
        for (size_t r = 0; r < COUNT(ROWS); r++)
            for (size_t c = 0; c < COUNT(COLS); c++) check_a_bt(ROWS[r], COLS[c], v * HEADGEMM_LANES, (r + c) % 5);
}

static void test_p_x(void **state) {
    rng_seed(&rng, 2);
    for (size_t v = 1; v <= 5; v++)
        for (size_t r = 0; r < COUNT(ROWS); r++)
            for (size_t c = 0; c < COUNT(COLS); c++) {
                check_p_x(ROWS[r], COLS[c], v * HEADGEMM_LANES, 0, 0);
                check_p_x(ROWS[r], COLS[c], v * HEADGEMM_LANES, 0, 1);
            }
}

static void test_pt_x(void **state) {
    rng_seed(&rng, 3);
    for (size_t v = 1; v <= 5; v++)
        for (size_t r = 0; r < COUNT(ROWS); r++)
            for (size_t c = 0; c < COUNT(COLS); c++) check_p_x(ROWS[r], COLS[c], v * HEADGEMM_LANES, 1, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_a_bt),
        cmocka_unit_test(test_p_x),
        cmocka_unit_test(test_pt_x),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
