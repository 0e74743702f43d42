/* ema: an exponential moving average of the weights, kept in a flat buffer with the
 * parameters' layout and used for evaluation and sampling:
 *   ema = decay * ema + (1 - decay) * params
 * Start it as a copy of the parameters. */
#ifndef TESSERA_EMA_H
#define TESSERA_EMA_H

#include <stddef.h>

#include "scalar.h"

void ema_update(scalar *ema,            // (n)
                const scalar *params,   // (n)
                size_t n, double decay);

#endif
