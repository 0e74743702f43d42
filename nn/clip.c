/* clip: global-norm gradient clipping (see clip.h). */
#include "clip.h"

#include <math.h>

double clip_grad_norm(scalar *grads, size_t n, double max_norm) {
    double sq = 0;
    for (size_t i = 0; i < n; i++) sq += (double)grads[i] * grads[i];
    double norm = sqrt(sq);
    double coef = max_norm / (norm + 1e-6); /* torch's 1e-6 keeps a zero norm finite */
    if (coef < 1.0) {
        scalar s = (scalar)coef;
        for (size_t i = 0; i < n; i++) grads[i] *= s;
    }
    return norm;
}
