/* convnet: a list of convolutional nodes run forward and backward (see convnet.h). */
#include "convnet.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/xalloc.h"
#include "conv_transpose2d.h"
#include "groupnorm.h"
#include "pool.h"
#include "silu.h"

static size_t node_size(const ConvNode *d) { return (size_t)d->C * d->H * d->W; }

static int add_node(ConvNet *n, ConvNode node) {
    if (n->n_nodes == n->cap_nodes) {
        n->cap_nodes = n->cap_nodes ? 2 * n->cap_nodes : 16;
        n->nodes = xrealloc(n->nodes, (size_t)n->cap_nodes * sizeof *n->nodes);
    }
    size_t act = 0, stats = 0;
    if (n->n_nodes) {
        const ConvNode *prev = &n->nodes[n->n_nodes - 1];
        act = prev->act + node_size(prev);
        stats = prev->stats + (prev->kind == NODE_GROUPNORM ? 2 * (size_t)prev->groups : 0);
    }
    node.act = act;
    node.stats = stats;
    n->nodes[n->n_nodes] = node;
    n->per_image = act + node_size(&node);
    n->stats_per_image = stats + (node.kind == NODE_GROUPNORM ? 2 * (size_t)node.groups : 0);
    return n->n_nodes++;
}

static int add_spec(ConvNet *n, int node, const char *what, size_t count, int flags) {
    if (n->n_specs == n->cap_specs) {
        n->cap_specs = n->cap_specs ? 2 * n->cap_specs : 16;
        n->specs = xrealloc(n->specs, n->cap_specs * sizeof *n->specs);
    }
    char name[128];
    snprintf(name, sizeof name, "%s.%d.%s", n->prefix, node, what);
    n->specs[n->n_specs] = (ParamSpec){xstrdup(name), count, flags};
    return (int)n->n_specs++;
}

void convnet_init(ConvNet *n, const char *prefix, int C, int H, int W) {
    memset(n, 0, sizeof *n);
    n->prefix = xstrdup(prefix);
    add_node(n, (ConvNode){.kind = NODE_INPUT, .in = -1, .skip = -1, .C = C, .H = H, .W = W, .weight = -1, .bias = -1});
}

void convnet_free(ConvNet *n) {
    for (size_t i = 0; i < n->n_specs; i++) free((char *)n->specs[i].name);
    free(n->specs);
    free(n->nodes);
    free(n->prefix);
    free(n->acts);
    free(n->dacts);
    free(n->stats);
    free(n->scratch);
    memset(n, 0, sizeof *n);
}

static int add_convolution(ConvNet *n, ConvNodeKind kind, int in, int C_out, int kernel, int stride, int pad) {
    assert(in >= 0 && in < n->n_nodes);
    const ConvNode *src = &n->nodes[in];
    ConvDims d = {.B = 0, .C_in = src->C, .H = src->H, .W = src->W, .C_out = C_out, .KH = kernel, .KW = kernel,
                  .stride = stride, .pad = pad};
    int OH = kind == NODE_CONV ? conv2d_out_h(&d) : conv_transpose2d_out_h(&d);
    int OW = kind == NODE_CONV ? conv2d_out_w(&d) : conv_transpose2d_out_w(&d);
    assert(OH > 0 && OW > 0);
    int id = n->n_nodes;
    size_t weights = (size_t)C_out * src->C * kernel * kernel;
    ConvNode node = {.kind = kind, .in = in, .skip = -1, .C = C_out, .H = OH, .W = OW, .dims = d};
    node.weight = add_spec(n, id, "weight", weights, 0);
    node.bias = add_spec(n, id, "bias", (size_t)C_out, PARAM_NO_DECAY);
    return add_node(n, node);
}

int convnet_conv(ConvNet *n, int in, int C_out, int kernel, int stride, int pad) {
    return add_convolution(n, NODE_CONV, in, C_out, kernel, stride, pad);
}

int convnet_conv_transpose(ConvNet *n, int in, int C_out, int kernel, int stride, int pad) {
    return add_convolution(n, NODE_CONV_TRANSPOSE, in, C_out, kernel, stride, pad);
}

int convnet_groupnorm(ConvNet *n, int in, int groups) {
    const ConvNode *src = &n->nodes[in];
    assert(groups > 0 && src->C % groups == 0);
    int id = n->n_nodes;
    ConvNode node = {.kind = NODE_GROUPNORM, .in = in, .skip = -1, .C = src->C, .H = src->H, .W = src->W,
                     .groups = groups};
    node.weight = add_spec(n, id, "weight", (size_t)src->C, PARAM_NO_DECAY);
    node.bias = add_spec(n, id, "bias", (size_t)src->C, PARAM_NO_DECAY);
    return add_node(n, node);
}

int convnet_silu(ConvNet *n, int in) {
    const ConvNode *src = &n->nodes[in];
    return add_node(n, (ConvNode){.kind = NODE_SILU, .in = in, .skip = -1, .C = src->C, .H = src->H, .W = src->W,
                                  .weight = -1, .bias = -1});
}

int convnet_add(ConvNet *n, int a, int b) {
    const ConvNode *x = &n->nodes[a], *y = &n->nodes[b];
    assert(x->C == y->C && x->H == y->H && x->W == y->W);
    return add_node(n, (ConvNode){.kind = NODE_ADD, .in = a, .skip = b, .C = x->C, .H = x->H, .W = x->W,
                                  .weight = -1, .bias = -1});
}

int convnet_avgpool(ConvNet *n, int in, int k) {
    const ConvNode *src = &n->nodes[in];
    assert(k >= 1 && src->H >= k && src->W >= k);
    return add_node(n, (ConvNode){.kind = NODE_AVGPOOL, .in = in, .skip = -1, .C = src->C, .H = src->H / k,
                                  .W = src->W / k, .pool = k, .weight = -1, .bias = -1});
}

const ParamSpec *convnet_specs(const ConvNet *n, size_t *count) {
    *count = n->n_specs;
    return n->specs;
}

size_t convnet_param_count(const ConvNet *n) {
    size_t total = 0;
    for (size_t i = 0; i < n->n_specs; i++) total += n->specs[i].count;
    return total;
}

void convnet_bind(ConvNet *n, scalar *params, scalar *grads, const size_t *offsets) {
    n->params = params;
    n->grads = grads;
    n->offsets = offsets;
}

static scalar *param(const ConvNet *n, int spec) { return spec < 0 ? NULL : n->params + n->offsets[spec]; }
static scalar *grad(const ConvNet *n, int spec) { return spec < 0 ? NULL : n->grads + n->offsets[spec]; }

void convnet_init_weights(ConvNet *n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 1; i < n->n_nodes; i++) {
        const ConvNode *d = &n->nodes[i];
        if (d->kind == NODE_GROUPNORM) {
            for (int c = 0; c < d->C; c++) param(n, d->weight)[c] = 1, param(n, d->bias)[c] = 0;
        } else if (d->kind == NODE_CONV || d->kind == NODE_CONV_TRANSPOSE) {
            /* torch computes fan_in from weight.shape[1]: C_in for conv, C_out for the
             * transposed one (its weight is (C_in, C_out, K, K)). */
            int fan_channels = d->kind == NODE_CONV ? d->dims.C_in : d->dims.C_out;
            double bound = 1.0 / sqrt((double)fan_channels * d->dims.KH * d->dims.KW);
            size_t nw = n->specs[d->weight].count;
            for (size_t k = 0; k < nw; k++) param(n, d->weight)[k] = (scalar)((2.0 * rng_float(&r) - 1.0) * bound);
            for (int c = 0; c < d->C; c++) param(n, d->bias)[c] = (scalar)((2.0 * rng_float(&r) - 1.0) * bound);
        }
    }
}

static size_t scratch_per_image(const ConvNet *n) {
    size_t most = 0;
    for (int i = 1; i < n->n_nodes; i++) {
        const ConvNode *d = &n->nodes[i];
        size_t s = d->kind == NODE_CONV ? conv2d_scratch_size(&d->dims)
                   : d->kind == NODE_CONV_TRANSPOSE ? conv_transpose2d_scratch_size(&d->dims) : 0;
        if (s > most) most = s;
    }
    return most;
}

size_t convnet_activation_bytes(const ConvNet *n, int B) {
    return ((size_t)B * (2 * n->per_image + n->stats_per_image) + scratch_per_image(n)) * sizeof(scalar);
}

void convnet_reserve(ConvNet *n, int B) {
    if (B <= n->B) return;
    free(n->acts);
    free(n->dacts);
    free(n->stats);
    free(n->scratch);
    n->acts = xmalloc((size_t)B * n->per_image * sizeof *n->acts);
    n->dacts = xmalloc((size_t)B * n->per_image * sizeof *n->dacts);
    n->stats = xmalloc(((size_t)B * n->stats_per_image + 1) * sizeof *n->stats);
    n->scratch_size = scratch_per_image(n);
    n->scratch = xmalloc((n->scratch_size + 1) * sizeof *n->scratch);
    n->B = B;
}

/* Node i's output and gradient for a batch of B: node-major, each B·C·H·W long. */
static scalar *act(const ConvNet *n, int i, int B) { return n->acts + n->nodes[i].act * (size_t)B; }
static scalar *dact(const ConvNet *n, int i, int B) { return n->dacts + n->nodes[i].act * (size_t)B; }

scalar *convnet_input(ConvNet *n) { return n->acts; }
const scalar *convnet_input_grad(const ConvNet *n) { return n->dacts; }
const ConvNode *convnet_last(const ConvNet *n) { return &n->nodes[n->n_nodes - 1]; }
const scalar *convnet_output(const ConvNet *n) { return act(n, n->n_nodes - 1, n->batch); }
scalar *convnet_output_grad(ConvNet *n) { return dact(n, n->n_nodes - 1, n->batch); }
const scalar *convnet_node_output(const ConvNet *n, int node) { return act(n, node, n->batch); }

void convnet_forward(ConvNet *n, int B) {
    assert(B <= n->B);
    n->batch = B;
    for (int i = 1; i < n->n_nodes; i++) {
        ConvNode *d = &n->nodes[i];
        scalar *out = act(n, i, B);
        const scalar *in = act(n, d->in, B);
        size_t count = (size_t)B * node_size(d);
        switch (d->kind) {
        case NODE_CONV:
            d->dims.B = B;
            conv2d_forward(out, n->scratch, in, param(n, d->weight), param(n, d->bias), &d->dims);
            break;
        case NODE_CONV_TRANSPOSE:
            d->dims.B = B;
            conv_transpose2d_forward(out, n->scratch, in, param(n, d->weight), param(n, d->bias), &d->dims);
            break;
        case NODE_GROUPNORM: {
            scalar *mean = n->stats + d->stats * (size_t)B, *rstd = mean + (size_t)B * d->groups;
            groupnorm_forward(out, mean, rstd, in, param(n, d->weight), param(n, d->bias), B, d->C, d->H, d->W,
                              d->groups);
            break;
        }
        case NODE_SILU: silu_forward(out, in, count); break;
        case NODE_ADD:
            for (size_t k = 0; k < count; k++) out[k] = in[k] + act(n, d->skip, B)[k];
            break;
        case NODE_AVGPOOL: {
            const ConvNode *src = &n->nodes[d->in];
            avgpool2d_forward(out, in, B, src->C, src->H, src->W, d->pool);
            break;
        }
        case NODE_INPUT: break;
        }
    }
}

void convnet_backward(ConvNet *n, int B) {
    assert(B == n->batch);
    /* Every gradient but the output's (the caller's) accumulates: zero them first. */
    memset(n->dacts, 0, n->nodes[n->n_nodes - 1].act * (size_t)B * sizeof *n->dacts);
    for (int i = n->n_nodes - 1; i >= 1; i--) {
        ConvNode *d = &n->nodes[i];
        const scalar *dout = dact(n, i, B), *in = act(n, d->in, B);
        scalar *din = dact(n, d->in, B);
        size_t count = (size_t)B * node_size(d);
        switch (d->kind) {
        case NODE_CONV:
            d->dims.B = B;
            conv2d_backward(din, grad(n, d->weight), grad(n, d->bias), n->scratch, dout, in, param(n, d->weight),
                            &d->dims);
            break;
        case NODE_CONV_TRANSPOSE:
            d->dims.B = B;
            conv_transpose2d_backward(din, grad(n, d->weight), grad(n, d->bias), n->scratch, dout, in,
                                      param(n, d->weight), &d->dims);
            break;
        case NODE_GROUPNORM: {
            const scalar *mean = n->stats + d->stats * (size_t)B, *rstd = mean + (size_t)B * d->groups;
            groupnorm_backward(din, grad(n, d->weight), grad(n, d->bias), dout, in, param(n, d->weight), mean, rstd,
                               B, d->C, d->H, d->W, d->groups);
            break;
        }
        case NODE_SILU: silu_backward(din, dout, in, count); break;
        case NODE_ADD: {
            scalar *dskip = dact(n, d->skip, B);
            for (size_t k = 0; k < count; k++) din[k] += dout[k], dskip[k] += dout[k];
            break;
        }
        case NODE_AVGPOOL: {
            const ConvNode *src = &n->nodes[d->in];
            avgpool2d_backward(din, dout, B, src->C, src->H, src->W, d->pool);
            break;
        }
        case NODE_INPUT: break;
        }
    }
}
