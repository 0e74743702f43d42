/* convnet: a convolutional network described as a list of nodes and run forward and
 * backward over flat buffers, so that the encoders and decoders of the tokenizers (VQ-VAE
 * now, DQ-VAE and DeciAE later) are written as a few lines of construction instead of a
 * hand-kept forward function and its mirror-image backward.
 *
 *   ConvNet e;
 *   convnet_init(&e, "enc", 1, 28, 28);                 // node 0: the input (B, 1, 28, 28)
 *   int h = convnet_conv(&e, 0, 32, 3, 1, 1);           // conv 3×3, 32 channels
 *   int r = convnet_silu(&e, convnet_groupnorm(&e, h, 8));
 *   h = convnet_add(&e, h, convnet_conv(&e, r, 32, 3, 1, 1));   // a residual connection
 *
 * Each node's output is kept for backward (activations are one allocation, sized by
 * convnet_reserve for a batch). Backward zeroes the activation gradients, takes
 * dL/d(output) from the caller (convnet_output_grad), and runs the nodes in reverse; every
 * layer's backward adds into its input's gradient, so a node read by two others (a residual
 * branch) gets the sum. Parameters are named "<prefix>.<node>.weight|bias" in a ParamSpec
 * list the caller lays into its own ParamTable, then binds with convnet_bind. Layers are
 * nn/conv2d, nn/conv_transpose2d, nn/groupnorm, nn/silu, nn/pool; their tests cover the arithmetic,
 * and tests/unit/fd_convnet.c the wiring. */
#ifndef TESSERA_CONVNET_H
#define TESSERA_CONVNET_H

#include <stddef.h>
#include <stdint.h>

#include "conv2d.h"
#include "params.h"
#include "scalar.h"

typedef enum { NODE_INPUT, NODE_CONV, NODE_CONV_TRANSPOSE, NODE_GROUPNORM, NODE_SILU, NODE_ADD, NODE_AVGPOOL } ConvNodeKind;

typedef struct {
    ConvNodeKind kind;
    int in, skip;       /* the nodes it reads (skip: NODE_ADD's second operand, else -1) */
    int C, H, W;        /* its output, per image */
    ConvDims dims;      /* convolutions (B is set at run time) */
    int groups;         /* groupnorm */
    int pool;           /* avgpool: the factor k */
    int weight, bias;   /* indices into the net's specs, -1 for none */
    size_t act, stats;  /* offsets of its output in acts/dacts and of its groupnorm mean/rstd */
} ConvNode;

typedef struct {
    char *prefix;
    ConvNode *nodes;
    int n_nodes, cap_nodes;
    ParamSpec *specs; /* names malloc'd */
    size_t n_specs, cap_specs;
    /* bound by convnet_bind */
    scalar *params, *grads;
    const size_t *offsets; /* of this net's specs in the flat buffers */
    /* sized by convnet_reserve */
    int B;     /* capacity */
    int batch; /* the batch of the last forward */
    scalar *acts, *dacts, *stats, *scratch;
    size_t per_image, stats_per_image, scratch_size;
} ConvNet;

/* Node 0 is the input (B, C, H, W). */
void convnet_init(ConvNet *n, const char *prefix, int C, int H, int W);
void convnet_free(ConvNet *n);

/* Each adds a node reading `in` and returns its id. Convolutions have a bias. */
int convnet_conv(ConvNet *n, int in, int C_out, int kernel, int stride, int pad);
/* torch.nn.ConvTranspose2d(kernel, stride, pad): kernel 4, stride 2, pad 1 doubles H and W. */
int convnet_conv_transpose(ConvNet *n, int in, int C_out, int kernel, int stride, int pad);
int convnet_groupnorm(ConvNet *n, int in, int groups);
int convnet_silu(ConvNet *n, int in);
int convnet_add(ConvNet *n, int a, int b); /* shapes must match */
/* torch.nn.AvgPool2d(k): H and W shrink by k, rows and columns past the last whole window dropped. */
int convnet_avgpool(ConvNet *n, int in, int k);

/* The parameters of every node, in order, for the caller's ParamTable. */
const ParamSpec *convnet_specs(const ConvNet *n, size_t *count);
size_t convnet_param_count(const ConvNet *n);
/* offsets: where each of this net's specs starts in params and grads (e.g. t->offsets + first). */
void convnet_bind(ConvNet *n, scalar *params, scalar *grads, const size_t *offsets);
/* torch's defaults: convolution weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * groupnorm weight 1 and bias 0. */
void convnet_init_weights(ConvNet *n, uint64_t seed);

/* Activation memory for a batch of B (grows, never shrinks); bytes it would take. */
void convnet_reserve(ConvNet *n, int B);
size_t convnet_activation_bytes(const ConvNet *n, int B);

scalar *convnet_input(ConvNet *n);            // (B, C, H, W) of node 0, filled by the caller
const scalar *convnet_output(const ConvNet *n); // the last node's output
scalar *convnet_output_grad(ConvNet *n);      // dL/d(last node), set by the caller before backward
const ConvNode *convnet_last(const ConvNet *n);
/* Any node's output from the last forward (B, C, H, W): a classifier's penultimate features. */
const scalar *convnet_node_output(const ConvNet *n, int node);

void convnet_forward(ConvNet *n, int B);
/* Zeroes every activation gradient but the output's, runs backward, adds into the bound
 * grads. The input's gradient is left in convnet_input_grad. */
void convnet_backward(ConvNet *n, int B);
const scalar *convnet_input_grad(const ConvNet *n);

#endif
