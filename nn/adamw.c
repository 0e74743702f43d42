/* adamw: decoupled-weight-decay Adam over flat buffers (see adamw.h). */
#include "adamw.h"

#include <math.h>

void adamw_update(scalar *params, scalar *m, scalar *v, const scalar *grads, size_t n, const AdamWConfig *c,
                  double lr, double weight_decay, long t_step) {
    /* torch's order: decay, moments, then p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
    scalar decay = (scalar)(1.0 - lr * weight_decay);
    scalar b1 = (scalar)c->beta1, b2 = (scalar)c->beta2;
    scalar step_size = (scalar)(lr / (1.0 - pow(c->beta1, (double)t_step)));
    scalar bc2_sqrt = (scalar)sqrt(1.0 - pow(c->beta2, (double)t_step));
    scalar eps = (scalar)c->eps;
    for (size_t i = 0; i < n; i++) {
        scalar g = grads[i];
        scalar mi = b1 * m[i] + (1 - b1) * g;
        scalar vi = b2 * v[i] + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - step_size * mi / ((scalar)sqrt(vi) / bc2_sqrt + eps);
    }
}

void adamw_step(scalar *params, scalar *m, scalar *v, const scalar *grads, const ParamTable *t, const AdamWConfig *c,
                double lr, long t_step) {
    for (size_t i = 0; i < t->n; i++) {
        if (t->specs[i].flags & PARAM_FROZEN) continue;
        size_t at = t->offsets[i];
        double wd = t->specs[i].flags & PARAM_NO_DECAY ? 0.0 : c->weight_decay;
        adamw_update(params + at, m + at, v + at, grads + at, t->specs[i].count, c, lr, wd, t_step);
    }
}
