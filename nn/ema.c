/* ema: moving average of the weights (see ema.h). */
#include "ema.h"

void ema_update(scalar *ema, const scalar *params, size_t n, double decay) {
    scalar d = (scalar)decay, rest = (scalar)(1.0 - decay);
    for (size_t i = 0; i < n; i++) ema[i] = d * ema[i] + rest * params[i];
}
