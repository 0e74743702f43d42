/* evalnet: the feature network and its passes (see evalnet.h). */
#include "evalnet.h"

#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"
#include "../nn/crossentropy.h"

const ConfigKey EVALNET_KEYS[] = {
    {"task", CFG_ENUM, "labels", 0, -1, "labels|rotation", "learn the store's labels, or the rotation of unlabelled images"},
    {"channels", CFG_STRING, "32,64,48", 0, -1, NULL, "channels of the three convolution levels"},
    {"features", CFG_INT, "64", 2, 4096, NULL, "F: the feature dimension (the penultimate layer)"},
    {"groups", CFG_INT, "8", 1, 512, NULL, "GroupNorm groups (must divide every level's channels)"},
    {"val_store", CFG_STRING, "", 0, -1, NULL, "held-out pixel store for accuracy (empty: none)"},
    {"val_every", CFG_INT, "1000", 1, 1e9, NULL, "steps between validations (and one at the end)"},
    {"val_images", CFG_INT, "0", 0, 1e9, NULL, "validate on the first N held-out images (0: all)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int check_shape(const EvalNetShape *s, Err *err) {
    for (int l = 0; l < EVALNET_LEVELS; l++)
        if (s->level_channels[l] % s->groups)
            return err_set(err, "groups = %d does not divide channels %d", s->groups, s->level_channels[l]);
    if (s->channels != 1 && s->channels != 3)
        return err_set(err, "the images have %d channels; evalnet takes 1 or 3", s->channels);
    if (s->size < 8 || s->size > 4096) return err_set(err, "evalnet takes images of 8 to 4096 pixels a side, not %d", s->size);
    if (s->classes < 2 || s->classes > 65536) return err_set(err, "evalnet needs 2 to 65536 classes, not %d", s->classes);
    return 0;
}

int evalnet_shape(EvalNetShape *s, const Config *c, int height, int width, int channels, int num_labels, Err *err) {
    memset(s, 0, sizeof *s);
    if (height != width)
        return err_set(err, "the store's images are %d×%d; evalnet takes square images (rotations need them)", height,
                       width);
    s->size = height;
    s->channels = channels;
    s->task = strcmp(config_str(c, "task"), "rotation") == 0 ? EVALNET_ROTATION : EVALNET_LABELS;
    if (s->task == EVALNET_LABELS && num_labels < 2)
        return err_set(err, "task = labels, but the store has %s; give task = rotation for an unlabelled corpus",
                       num_labels == 1 ? "one label" : "no labels");
    s->classes = s->task == EVALNET_ROTATION ? EVALNET_ROTATIONS : num_labels;
    s->features = (int)config_int(c, "features");
    s->groups = (int)config_int(c, "groups");
    int n = config_int_list(c, "channels", s->level_channels, EVALNET_LEVELS, 1, 4096, err);
    if (n < 0) return -1;
    if (n != EVALNET_LEVELS)
        return err_set(err, "channels = %s: expected %d channel counts, one per level", config_str(c, "channels"),
                       EVALNET_LEVELS);
    return check_shape(s, err);
}

void evalnet_shape_dims(const EvalNetShape *s, uint64_t dims[EVALNET_N_DIMS]) {
    uint64_t d[EVALNET_N_DIMS] = {(uint64_t)s->size, (uint64_t)s->channels, (uint64_t)s->level_channels[0],
                                  (uint64_t)s->level_channels[1], (uint64_t)s->level_channels[2],
                                  (uint64_t)s->features, (uint64_t)s->groups, (uint64_t)s->classes,
                                  (uint64_t)s->task, 0};
    memcpy(dims, d, sizeof d);
}

int evalnet_shape_from_dims(EvalNetShape *s, const uint64_t *d, uint32_t n_dims, Err *err) {
    memset(s, 0, sizeof *s);
    if (n_dims != EVALNET_N_DIMS) return err_set(err, "an evalnet checkpoint has %d dimensions, not %u", EVALNET_N_DIMS, n_dims);
    for (int i = 0; i < EVALNET_N_DIMS - 1; i++)
        if (d[i] > 65536) return err_set(err, "dimension %d is %llu: not an evalnet shape", i, (unsigned long long)d[i]);
    if (d[8] > EVALNET_ROTATION || d[9] != 0 || d[5] < 2 || d[6] < 1 || !d[2] || !d[3] || !d[4])
        return err_set(err, "its dimensions are not an evalnet shape");
    *s = (EvalNetShape){.size = (int)d[0], .channels = (int)d[1], .level_channels = {(int)d[2], (int)d[3], (int)d[4]},
                        .features = (int)d[5], .groups = (int)d[6], .classes = (int)d[7], .task = (EvalNetTask)d[8]};
    return check_shape(s, err);
}

static int conv_block(ConvNet *n, int in, int channels, int stride, int groups) {
    int h = convnet_conv(n, in, channels, 3, stride, 1);
    return convnet_silu(n, convnet_groupnorm(n, h, groups));
}

void evalnet_create(EvalNet *v, const EvalNetShape *s) {
    memset(v, 0, sizeof *v);
    v->s = *s;
    ConvNet *n = &v->net;
    convnet_init(n, "evalnet", s->channels, s->size, s->size);
    int h = convnet_avgpool(n, conv_block(n, 0, s->level_channels[0], 1, s->groups), 2);
    h = convnet_avgpool(n, conv_block(n, h, s->level_channels[1], 1, s->groups), 2);
    h = conv_block(n, h, s->level_channels[2], 2, s->groups);
    v->feature_node = convnet_silu(n, convnet_conv(n, h, s->features, n->nodes[h].H, 1, 0));
    convnet_conv(n, v->feature_node, s->classes, 1, 1, 0);
    size_t count;
    const ParamSpec *specs = convnet_specs(n, &count);
    param_table_init(&v->table, specs, count);
    v->params = param_table_alloc(&v->table);
    v->grads = param_table_alloc(&v->table);
    convnet_bind(n, v->params, v->grads, v->table.offsets);
}

void evalnet_free(EvalNet *v) {
    convnet_free(&v->net);
    param_table_free(&v->table);
    free(v->params);
    free(v->grads);
    free(v->targets);
    free(v->row_max);
    free(v->row_logsum);
    memset(v, 0, sizeof *v);
}

void evalnet_init_weights(EvalNet *v, uint64_t seed) { convnet_init_weights(&v->net, seed ^ 0xe7a1); }

size_t evalnet_memory_bytes(const EvalNetShape *s, size_t B) {
    EvalNet v;
    evalnet_create(&v, s);
    size_t bytes = 4 * v.table.total * sizeof(scalar) + convnet_activation_bytes(&v.net, (int)B) + 3 * B * sizeof(scalar);
    evalnet_free(&v);
    return bytes;
}

void evalnet_reserve(EvalNet *v, size_t B) {
    if (B <= v->cap) return;
    convnet_reserve(&v->net, (int)B);
    v->targets = xrealloc(v->targets, B * sizeof *v->targets);
    v->row_max = xrealloc(v->row_max, B * sizeof *v->row_max);
    v->row_logsum = xrealloc(v->row_logsum, B * sizeof *v->row_logsum);
    v->cap = B;
}

/* The source pixel (row, column) that lands on (i, j) after k counter-clockwise quarter turns. */
static size_t rotated_pixel(int i, int j, int n, int k) {
    int r = k == 0 ? i : k == 1 ? j : k == 2 ? n - 1 - i : n - 1 - j;
    int c = k == 0 ? j : k == 1 ? n - 1 - i : k == 2 ? n - 1 - j : i;
    return (size_t)r * n + c;
}

void evalnet_set_inputs(EvalNet *v, const uint8_t *const *images, const int *quarter_turns, size_t n) {
    int S = v->s.size, C = v->s.channels;
    size_t plane = (size_t)S * S;
    scalar *x = convnet_input(&v->net);
    for (size_t b = 0; b < n; b++) {
        int k = quarter_turns ? quarter_turns[b] & 3 : 0;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                size_t src = rotated_pixel(i, j, S, k) * C, dst = (size_t)i * S + j;
                for (int c = 0; c < C; c++) x[(b * C + c) * plane + dst] = (scalar)(images[b][src + c] / 127.5 - 1.0);
            }
    }
}

void evalnet_forward(EvalNet *v, size_t n) { convnet_forward(&v->net, (int)n); }
const scalar *evalnet_logits(const EvalNet *v) { return convnet_output(&v->net); }
const scalar *evalnet_features(const EvalNet *v) { return convnet_node_output(&v->net, v->feature_node); }

float evalnet_backward(EvalNet *v, const int32_t *targets, size_t n) {
    size_t K = (size_t)v->s.classes;
    const scalar *logits = evalnet_logits(v);
    scalar loss = crossentropy_forward(NULL, v->row_max, v->row_logsum, logits, targets, NULL, -1, n, K);
    scalar *dlogits = convnet_output_grad(&v->net);
    memset(dlogits, 0, n * K * sizeof *dlogits);
    crossentropy_backward(dlogits, 1, logits, v->row_max, v->row_logsum, targets, NULL, -1, n, K);
    convnet_backward(&v->net, (int)n);
    return (float)loss;
}

size_t evalnet_correct(const EvalNet *v, const int32_t *targets, size_t n) {
    size_t K = (size_t)v->s.classes, correct = 0;
    const scalar *logits = evalnet_logits(v);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (logits[i * K + k] > logits[i * K + best]) best = k;
        correct += targets[i] >= 0 && (size_t)targets[i] == best;
    }
    return correct;
}
