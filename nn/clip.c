/* clip: global-norm gradient clipping (see clip.h). */
#include "clip.h"

#include <math.h>

/* Σ grads², in double. NORM_LANES partial sums side by side, added up at the end, so that
 * the loop vectorizes (GCC keeps one sum in its written order) and the result depends
 * only on the data and n. */
enum { NORM_LANES = 8 };

static double sum_of_squares(const scalar *x, size_t n) {
    double part[NORM_LANES] = {0};
    size_t i = 0;
    for (; i + NORM_LANES <= n; i += NORM_LANES)
        for (int k = 0; k < NORM_LANES; k++) part[k] += (double)x[i + k] * (double)x[i + k];
    for (; i < n; i++) part[0] += (double)x[i] * (double)x[i];
    double sum = 0;
    for (int k = 0; k < NORM_LANES; k++) sum += part[k];
    return sum;
}

double clip_grad_norm(scalar *grads, size_t n, double max_norm) {
    double norm = sqrt(sum_of_squares(grads, n));
    double coef = max_norm / (norm + 1e-6); /* torch's 1e-6 keeps a zero norm finite */
    if (coef < 1.0) {
        scalar s = (scalar)coef;
        for (size_t i = 0; i < n; i++) grads[i] *= s;
    }
    return norm;
}
