/* lbfgs: unconstrained minimization of a smooth function of n doubles by limited-memory BFGS
 * (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4 with the two-loop
 * recursion 7.5), keeping the last LBFGS_MEMORY step/gradient-change pairs.
 *
 * The line search backtracks from step 1 (from 1/‖g‖₂ on the first iteration and after a
 * reset, when no curvature is known yet) and accepts a step α along p that satisfies either
 *   - Armijo:             f(x + αp) ≤ f(x) + c·α·g·p, c = 1e-4, or
 *   - approximate Armijo: f(x + αp) ≤ f(x) + 1e-10·|f(x)| and g(x + αp)·p ≤ (1 − 2c)·|g·p|
 *     (Hager & Zhang, SIAM J. Optim. 2005). For a quadratic the two are the same condition;
 *     the second is read from gradients, which stay accurate near the minimum where the
 *     decrease of f drops below its rounding error, so tolerances like 1e-8 on the gradient
 *     are reachable. It trusts f not to rise by more than that 1e-10 relative slack.
 * A pair (s, y) enters the memory only when s·y > ε·y·y (ε = DBL_EPSILON), so the implied
 * Hessian stays positive definite even on non-convex functions; the curvature (Wolfe)
 * condition itself is not enforced. When the search fails 50 times along an L-BFGS
 * direction the memory is cleared and steepest descent tried once more before giving up.
 * Checked on a quadratic and Rosenbrock's function by tests/unit/test_eval_probe.c. */
#ifndef TESSERA_LBFGS_H
#define TESSERA_LBFGS_H

#include <stddef.h>

enum { LBFGS_MEMORY = 10 };

/* Returns f(x) and writes its gradient (n doubles) into grad. */
typedef double (*LbfgsObjective)(const double *x, double *grad, void *ctx);

typedef enum {
    LBFGS_CONVERGED = 0,  /* max_i |∂f/∂x_i| ≤ tol at the returned x */
    LBFGS_MAX_ITERATIONS, /* max_iter steps taken without reaching tol */
    LBFGS_STALLED,        /* no step along −g is accepted: the rounding floor of f and g */
    LBFGS_NOT_FINITE,     /* f or its gradient is not finite at the starting point */
} LbfgsStatus;

typedef struct {
    LbfgsStatus status;
    int iterations;      /* accepted steps */
    int evaluations;     /* calls of the objective */
    double f;            /* f at the returned x */
    double max_gradient; /* max_i |∂f/∂x_i| at the returned x */
} LbfgsReport;

/* Minimizes f from x (n values, updated in place to the last accepted point). Stops as soon
 * as max_i |∂f/∂x_i| ≤ tol (the ∞-norm of the gradient, checked at the start too, so an
 * already optimal x takes 0 iterations), after max_iter accepted steps, or when the line
 * search stalls. report may be NULL. Allocates (2·LBFGS_MEMORY + 4)·n doubles for the call. */
LbfgsStatus lbfgs_minimize(double *x, size_t n, LbfgsObjective f, void *ctx, int max_iter, double tol,
                           LbfgsReport *report);

/* "converged", "max iterations", "stalled", "not finite": for messages. */
const char *lbfgs_status_name(LbfgsStatus status);

#endif
