/* pool: resampling NCHW maps by a whole factor k. Average pooling shrinks H and W by k
 * (kernel = stride = k, as torch.nn.AvgPool2d(k): rows and columns past the last whole
 * window are dropped, and get zero gradient); nearest-neighbour upsampling grows them by k
 * (torch.nn.Upsample(scale_factor=k, mode="nearest")), the parameter-free alternative to
 * conv_transpose2d in the decoder. The names say which way they go rather than carry the
 * file's prefix. */
#ifndef TESSERA_POOL_H
#define TESSERA_POOL_H

#include "scalar.h"

void avgpool2d_forward(scalar *out,       // (B, C, H/k, W/k)
                       const scalar *in,  // (B, C, H, W)
                       int B, int C, int H, int W, int k);
/* Adds into din. */
void avgpool2d_backward(scalar *din,        // (B, C, H, W)
                        const scalar *dout, // (B, C, H/k, W/k)
                        int B, int C, int H, int W, int k);

void upsample_nearest_forward(scalar *out,       // (B, C, H*k, W*k)
                              const scalar *in,  // (B, C, H, W)
                              int B, int C, int H, int W, int k);
/* Adds into din: each input pixel gets the sum of its k×k copies' gradients. */
void upsample_nearest_backward(scalar *din,        // (B, C, H, W)
                               const scalar *dout, // (B, C, H*k, W*k)
                               int B, int C, int H, int W, int k);

#endif
