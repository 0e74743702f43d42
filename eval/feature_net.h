/* feature_net: a trained evalnet (eval/evalnet.h) loaded from its checkpoint, and the
 * features and class probabilities it gives the images of a pixel store — what every
 * distribution metric of `tessera eval` is computed on.
 *
 * Its identity is the checkpoint's CRC-32, printed and recorded in every report that uses
 * it: two FDs are comparable only when measured by the same network. The weights used are
 * the EMA weights when the run kept them, else the trained ones. Everything is
 * deterministic: the same checkpoint and images give the same bits. */
#ifndef TESSERA_FEATURE_NET_H
#define TESSERA_FEATURE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "evalnet.h"
#include "feature_set.h"

typedef struct {
    EvalNet net;
    char *path;
    char *train_store; /* the store it was trained on (the default floor), from its config */
    uint32_t checksum;
    uint64_t step;
} FeatureNet;

/* Refuses a file that is not a checkpoint, is corrupted or truncated, or is of another
 * model, naming the file. */
int feature_net_open(FeatureNet *f, const char *path, Err *err);
void feature_net_close(FeatureNet *f);

/* The network as a feature source (eval/feature_set.h): features and softmax probabilities. */
FeatureSource feature_net_source(FeatureNet *f);

#endif
