/* lbfgs: limited-memory BFGS with a backtracking line search (definitions in lbfgs.h).
 *
 * The memory is a ring of the last LBFGS_MEMORY pairs s = x⁺ − x, y = g⁺ − g; the
 * direction −H·g comes from the two-loop recursion with H₀ = γI, γ = s·y / y·y of the newest
 * pair (Nocedal & Wright eq. 7.20), which makes the unit step the natural first trial. */
#include "lbfgs.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"

#define ARMIJO_C 1e-4
#define F_ROUNDING_SLACK 1e-10
#define MAX_BACKTRACKS 50

typedef struct {
    size_t n;
    double *s, *y;            /* LBFGS_MEMORY × n each, a ring; slot `newest` holds the latest pair */
    double rho[LBFGS_MEMORY]; /* 1 / (s·y) */
    int count, newest;
} History;

static double dot(const double *a, const double *b, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static double max_abs(const double *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i])); /* fmax drops a NaN: checked apart */
    return m;
}

static int all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* p = −H·g by the two-loop recursion over the pairs, newest first. */
static void lbfgs_direction(const History *h, const double *g, double *p) {
    size_t n = h->n;
    double alpha[LBFGS_MEMORY];
    for (size_t i = 0; i < n; i++) p[i] = -g[i];
    for (int k = 0; k < h->count; k++) {
        int j = (h->newest - k + LBFGS_MEMORY) % LBFGS_MEMORY;
        const double *s = h->s + (size_t)j * n, *y = h->y + (size_t)j * n;
        alpha[j] = h->rho[j] * dot(s, p, n);
        for (size_t i = 0; i < n; i++) p[i] -= alpha[j] * y[i];
    }
    if (h->count > 0) {
        const double *y = h->y + (size_t)h->newest * n;
        double gamma = 1 / (h->rho[h->newest] * dot(y, y, n));
        for (size_t i = 0; i < n; i++) p[i] *= gamma;
    }
    for (int k = h->count - 1; k >= 0; k--) {
        int j = (h->newest - k + LBFGS_MEMORY) % LBFGS_MEMORY;
        const double *s = h->s + (size_t)j * n, *y = h->y + (size_t)j * n;
        double beta = h->rho[j] * dot(y, p, n);
        for (size_t i = 0; i < n; i++) p[i] += (alpha[j] - beta) * s[i];
    }
}

/* Backtracks along p from x (value fx, slope g·p < 0) starting at step alpha. On success
 * returns 0 with the accepted point in x_new, its gradient in g_new and value in *f_new. */
static int line_search(LbfgsObjective f, void *ctx, const double *x, size_t n, double fx, double slope, const double *p,
                       double alpha, double *x_new, double *g_new, double *f_new, int *evaluations) {
    for (int t = 0; t < MAX_BACKTRACKS; t++) {
        for (size_t i = 0; i < n; i++) x_new[i] = x[i] + alpha * p[i];
        double fa = f(x_new, g_new, ctx);
        (*evaluations)++;
        if (!isfinite(fa)) {
            alpha *= 0.1;
            continue;
        }
        int armijo = fa <= fx + ARMIJO_C * alpha * slope;
        int approximate = fa <= fx + F_ROUNDING_SLACK * fabs(fx) && dot(g_new, p, n) <= (1 - 2 * ARMIJO_C) * -slope;
        if ((armijo || approximate) && all_finite(g_new, n)) {
            *f_new = fa;
            return 0;
        }
        /* The minimum of the quadratic through f(0), f'(0) and f(α), kept in [α/10, α/2].
         * Its denominator is positive whenever Armijo failed. */
        double q = -slope * alpha * alpha / (2 * (fa - fx - slope * alpha));
        alpha = fmin(fmax(q, 0.1 * alpha), 0.5 * alpha);
    }
    return -1;
}

/* Adds the pair (x_new − x, g_new − g) unless its curvature s·y is too small to keep H
 * positive definite. */
static void remember_step(History *h, const double *x, const double *x_new, const double *g, const double *g_new) {
    size_t n = h->n;
    double sy = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        double s = x_new[i] - x[i], y = g_new[i] - g[i];
        sy += s * y;
        yy += y * y;
    }
    if (!(sy > DBL_EPSILON * yy)) return;
    int j = (h->newest + 1) % LBFGS_MEMORY;
    for (size_t i = 0; i < n; i++) {
        h->s[(size_t)j * n + i] = x_new[i] - x[i];
        h->y[(size_t)j * n + i] = g_new[i] - g[i];
    }
    h->rho[j] = 1 / sy;
    h->newest = j;
    if (h->count < LBFGS_MEMORY) h->count++;
}

LbfgsStatus lbfgs_minimize(double *x, size_t n, LbfgsObjective f, void *ctx, int max_iter, double tol,
                           LbfgsReport *report) {
    double *mem = xmalloc((2 * LBFGS_MEMORY + 4) * n * sizeof *mem);
    History h = {.n = n, .s = mem, .y = mem + LBFGS_MEMORY * n, .count = 0, .newest = LBFGS_MEMORY - 1};
    double *g = h.y + LBFGS_MEMORY * n, *g_new = g + n, *x_new = g_new + n, *p = x_new + n;
    int iterations = 0, evaluations = 1;
    double fx = f(x, g, ctx), g_max = NAN;
    LbfgsStatus status;
    if (!isfinite(fx) || !all_finite(g, n)) {
        status = LBFGS_NOT_FINITE;
        goto done;
    }
    for (;;) {
        g_max = max_abs(g, n);
        if (g_max <= tol) {
            status = LBFGS_CONVERGED;
            break;
        }
        if (iterations >= max_iter) {
            status = LBFGS_MAX_ITERATIONS;
            break;
        }
        lbfgs_direction(&h, g, p);
        double slope = dot(g, p, n);
        int steepest = h.count == 0;
        if (!(slope < 0)) { /* not a descent direction: the memory misleads, start over */
            h.count = 0;
            steepest = 1;
            for (size_t i = 0; i < n; i++) p[i] = -g[i];
            slope = -dot(g, g, n);
        }
        /* Without curvature information, the first trial is a step of length 1. */
        double alpha = steepest ? 1 / sqrt(-slope) : 1, f_new;
        if (line_search(f, ctx, x, n, fx, slope, p, alpha, x_new, g_new, &f_new, &evaluations) != 0) {
            if (steepest) {
                status = LBFGS_STALLED;
                break;
            }
            h.count = 0; /* one more try along −g before giving up */
            continue;
        }
        remember_step(&h, x, x_new, g, g_new);
        memcpy(x, x_new, n * sizeof *x);
        memcpy(g, g_new, n * sizeof *g);
        fx = f_new;
        iterations++;
    }
done:
    if (report) *report = (LbfgsReport){status, iterations, evaluations, fx, g_max};
    free(mem);
    return status;
}

const char *lbfgs_status_name(LbfgsStatus status) {
    switch (status) {
    case LBFGS_CONVERGED: return "converged";
    case LBFGS_MAX_ITERATIONS: return "max iterations";
    case LBFGS_STALLED: return "stalled";
    case LBFGS_NOT_FINITE: return "not finite";
    }
    return "unknown";
}
