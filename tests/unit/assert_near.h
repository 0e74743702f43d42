/* assert_near, assert_error: the checks the metric tests share (include after cmocka.h,
 * which has no assert_double_equal in 1.1.5). */
#ifndef TESSERA_TEST_ASSERT_NEAR_H
#define TESSERA_TEST_ASSERT_NEAR_H

#include <math.h>
#include <string.h>

/* |got − want| ≤ tol, naming the expression and line when not. */
#define assert_near(got, want, tol) assert_near_at((got), (want), (tol), #got, __LINE__)
static inline void assert_near_at(double got, double want, double tol, const char *what, int line) {
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: %s = %.17g, expected %.17g ± %g", line, what, got, want, tol);
}

/* The error path: the call returns −1 and leaves a message in the caller's `Err err`
 * containing needle. */
#define assert_error(call, needle)                                                                                     \
    do {                                                                                                               \
        err.msg[0] = 0;                                                                                                \
        assert_int_equal((call), -1);                                                                                  \
        if (!strstr(err.msg, (needle))) fail_msg("line %d: message \"%s\" lacks \"%s\"", __LINE__, err.msg, (needle)); \
    } while (0)

#endif
