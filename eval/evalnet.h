/* evalnet: the frozen feature network the distribution metrics (FD, KID, IS, PRDC, CAS)
 * measure in, standing in for Inception-v3, which has never seen Fashion-MNIST's 28×28
 * grey clothes (docs/EVAL.md says why). A small CNN classifier, ~97K parameters at the
 * defaults on 28×28×1:
 *
 *   conv3×3 → ch[0], GN, SiLU, avgpool 2        28 → 14
 *   conv3×3 → ch[1], GN, SiLU, avgpool 2        14 → 7
 *   conv3×3 stride 2 → ch[2], GN, SiLU           7 → 4
 *   conv over the whole 4×4 map → F, SiLU       the features: F numbers per image
 *   conv1×1 → classes                           the logits
 *
 * (the last two are linear layers written as convolutions). The features are the
 * penultimate layer, after its SiLU; the softmax of the logits is the classifier of IS and
 * CAS. It learns either the store's labels (task = labels, Fashion-MNIST's ten classes) or,
 * for an unlabelled corpus, which of the four rotations 0°, 90°, 180°, 270° an image was
 * turned by (task = rotation, Gidaris et al. 2018): each image is shown in all four, so the
 * labels cost no randomness and the features must see object shape and orientation.
 *
 * Pixels enter as x/127.5 − 1, as the tokenizers take them. Images must be square (the
 * rotations and the whole-map layer need it) and at least 8 pixels a side. This file holds
 * the network; eval/evalnet_model.c trains it under `tessera train` (model = evalnet) and
 * eval/feature_net.c loads a checkpoint of it for `tessera eval`. */
#ifndef TESSERA_EVALNET_H
#define TESSERA_EVALNET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../nn/convnet.h"
#include "../nn/params.h"
#include "../store/meta.h"

enum { EVALNET_LEVELS = 3, EVALNET_N_DIMS = 10, EVALNET_ROTATIONS = 4 };

typedef enum { EVALNET_LABELS = 0, EVALNET_ROTATION = 1 } EvalNetTask;

typedef struct {
    int size, channels; /* size × size images */
    int level_channels[EVALNET_LEVELS];
    int features, groups;
    int classes; /* the store's num_labels, or 4 rotations */
    EvalNetTask task;
} EvalNetShape;

typedef struct {
    EvalNetShape s;
    ConvNet net;
    int feature_node;
    ParamTable table;
    scalar *params, *grads;
    /* sized by evalnet_reserve */
    size_t cap;
    int32_t *targets;
    scalar *row_max, *row_logsum;
} EvalNet;

extern const ConfigKey EVALNET_KEYS[];

/* The shape for this config and a store of size × size × channels images with num_labels
 * labels (0: unlabelled). Says what is wrong with the config or the store. */
int evalnet_shape(EvalNetShape *s, const Config *c, int height, int width, int channels, int num_labels, Err *err);
/* The shape as checkpoint dimensions, and back (checked: a corrupt header is refused). */
void evalnet_shape_dims(const EvalNetShape *s, uint64_t dims[EVALNET_N_DIMS]);
int evalnet_shape_from_dims(EvalNetShape *s, const uint64_t *dims, uint32_t n_dims, Err *err);

void evalnet_create(EvalNet *v, const EvalNetShape *s);
void evalnet_free(EvalNet *v);
void evalnet_init_weights(EvalNet *v, uint64_t seed);
size_t evalnet_memory_bytes(const EvalNetShape *s, size_t B);
/* Room for B network inputs (a training step on n images with task = rotation needs 4n). */
void evalnet_reserve(EvalNet *v, size_t B);

/* Input row i ← image i (HWC uint8) turned by quarter_turns[i] × 90° counter-clockwise
 * (NULL: none), as torch.rot90(x, k, dims=(-2, -1)). */
void evalnet_set_inputs(EvalNet *v, const uint8_t *const *images, const int *quarter_turns, size_t n);
void evalnet_forward(EvalNet *v, size_t n);
const scalar *evalnet_logits(const EvalNet *v);   /* (n, classes) of the last forward */
const scalar *evalnet_features(const EvalNet *v); /* (n, features) of the last forward */
/* Cross-entropy of the last forward's logits against targets (−1: ignored), its backward
 * through the network into v->grads (added); returns the mean loss. */
float evalnet_backward(EvalNet *v, const int32_t *targets, size_t n);
/* How many of the last forward's n rows have their target as the arg-max logit. */
size_t evalnet_correct(const EvalNet *v, const int32_t *targets, size_t n);

#endif
