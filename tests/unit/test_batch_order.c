/* test_batch_order: R ranks × B/R see exactly what 1 rank × B sees; epochs are
 * permutations that differ; seeking resumes the same order; bad sizes are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../core/rng.h"
#include "../../store/batch_order.h"

static void test_ranks_partition_the_single_rank_batches(void **state) {
    const uint64_t N = 1003, B = 12;
    for (int R = 1; R <= 4; R++) {
        if (B % R) continue;
        BatchOrder one, shard[4];
        Err err;
        assert_int_equal(batch_order_init(&one, N, B, 1, 0, 42, &err), 0);
        for (int r = 0; r < R; r++) assert_int_equal(batch_order_init(&shard[r], N, B, R, r, 42, &err), 0);
        uint64_t whole[12], part[12];
        for (int step = 0; step < 250; step++) { /* crosses three epoch boundaries (83 batches each) */
            uint64_t e = batch_order_next(&one, whole);
            for (int r = 0; r < R; r++) {
                assert_int_equal(batch_order_next(&shard[r], part + r * (B / R)), e);
            }
            assert_memory_equal(whole, part, sizeof whole);
        }
        batch_order_free(&one);
        for (int r = 0; r < R; r++) batch_order_free(&shard[r]);
    }
}

static void test_each_epoch_is_a_different_permutation(void **state) {
    const uint64_t N = 100, B = 10;
    BatchOrder o;
    Err err;
    assert_int_equal(batch_order_init(&o, N, B, 1, 0, 7, &err), 0);
    uint64_t epoch0[100], epoch1[100];
    for (int b = 0; b < 10; b++) assert_int_equal(batch_order_next(&o, epoch0 + b * 10), 0);
    for (int b = 0; b < 10; b++) assert_int_equal(batch_order_next(&o, epoch1 + b * 10), 1);
    int seen0[100] = {0}, seen1[100] = {0}, same = 0;
    for (int i = 0; i < 100; i++) {
        seen0[epoch0[i]]++;
        seen1[epoch1[i]]++;
        same += epoch0[i] == epoch1[i];
    }
    for (int i = 0; i < 100; i++) assert_true(seen0[i] == 1 && seen1[i] == 1);
    assert_true(same < 10);
    batch_order_free(&o);
}

static void test_seek_resumes_the_same_order(void **state) {
    BatchOrder straight, resumed;
    Err err;
    assert_int_equal(batch_order_init(&straight, 57, 8, 2, 1, 9, &err), 0);
    uint64_t a[4], b[4];
    for (int i = 0; i < 13; i++) batch_order_next(&straight, a);
    uint64_t epoch = straight.epoch, next = straight.next_batch;
    assert_int_equal(batch_order_init(&resumed, 57, 8, 2, 1, 9, &err), 0);
    batch_order_seek(&resumed, epoch, next);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(batch_order_next(&straight, a), batch_order_next(&resumed, b));
        assert_memory_equal(a, b, sizeof a);
    }
    batch_order_free(&straight);
    batch_order_free(&resumed);
}

static void test_bad_sizes_are_errors(void **state) {
    BatchOrder o;
    Err err;
    assert_int_equal(batch_order_init(&o, 100, 10, 3, 0, 1, &err), -1);
    assert_non_null(strstr(err.msg, "batch_size = 10 must be a positive multiple of the 3 ranks"));
    assert_int_equal(batch_order_init(&o, 5, 10, 1, 0, 1, &err), -1);
    assert_non_null(strstr(err.msg, "fewer than one batch"));
}

static void test_rng_is_reproducible_and_uniform(void **state) {
    Rng a, b;
    rng_seed(&a, 123);
    rng_seed(&b, 123);
    for (int i = 0; i < 100; i++) assert_true(rng_next(&a) == rng_next(&b));
    int counts[10] = {0};
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        counts[rng_below(&a, 10)]++;
        double z = rng_normal(&a);
        sum += z;
        sq += z * z;
    }
    for (int i = 0; i < 10; i++) assert_true(counts[i] > 9500 && counts[i] < 10500);
    assert_true(sum / 100000 < 0.02 && sum / 100000 > -0.02);
    assert_true(sq / 100000 > 0.97 && sq / 100000 < 1.03);
    float f = rng_float(&a);
    assert_true(f >= 0 && f < 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranks_partition_the_single_rank_batches),
        cmocka_unit_test(test_each_epoch_is_a_different_permutation),
        cmocka_unit_test(test_seek_resumes_the_same_order),
        cmocka_unit_test(test_bad_sizes_are_errors),
        cmocka_unit_test(test_rng_is_reproducible_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
