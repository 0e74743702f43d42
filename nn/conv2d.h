/* conv2d: 2-D convolution of NCHW batches, as torch.nn.Conv2d with zero padding,
 * dilation 1 and one group, computed per image as im2col + one GEMM:
 *
 *   col (C_in*KH*KW, OH*OW)   the input patch under each output pixel, one column each
 *   out (C_out, OH*OW)        = weight (C_out, C_in*KH*KW) @ col + bias
 *
 * Backward rebuilds the same column matrix: dweight += dout @ colᵀ, dcol = weightᵀ @ dout,
 * and col2im adds each dcol entry back onto the input pixel it was copied from. The column
 * matrix of one image is the caller's scratch (conv2d_scratch_size scalars); it is rebuilt
 * in backward rather than kept from forward, one more im2col per image instead of B times
 * its memory. A 1×1 convolution with stride 1 and no padding skips im2col: its column
 * matrix is the input itself.
 *
 * im2col/col2im are public because conv_transpose2d is the same pair run the other way. */
#ifndef TESSERA_CONV2D_H
#define TESSERA_CONV2D_H

#include <stddef.h>

#include "scalar.h"

/* The geometry of a convolution, shared by conv2d and conv_transpose2d. Nine positional
 * ints per call would be easy to swap unnoticed (H for W, stride for pad), hence a struct. */
typedef struct {
    int B;           /* batch */
    int C_in, H, W;  /* input (B, C_in, H, W) */
    int C_out;       /* output channels */
    int KH, KW;      /* kernel height and width */
    int stride, pad; /* the same on both axes; padding is zeros */
    int out_pad;     /* conv_transpose2d only (torch's output_padding, < stride); conv2d ignores it */
} ConvDims;

/* Output size: (H + 2 pad - KH) / stride + 1, and the same for W. */
int conv2d_out_h(const ConvDims *d);
int conv2d_out_w(const ConvDims *d);
/* Scalars of scratch that conv2d_forward and conv2d_backward need: one image's column matrix. */
size_t conv2d_scratch_size(const ConvDims *d);

void conv2d_forward(scalar *out,            // (B, C_out, OH, OW)
                    scalar *scratch,        // conv2d_scratch_size(d)
                    const scalar *in,       // (B, C_in, H, W)
                    const scalar *weight,   // (C_out, C_in, KH, KW)
                    const scalar *bias,     // (C_out), or NULL for none
                    const ConvDims *d);

/* Adds into din (NULL: not needed, e.g. for the input images), dweight and dbias (NULL when
 * there is no bias). */
void conv2d_backward(scalar *din,           // (B, C_in, H, W)
                     scalar *dweight,       // (C_out, C_in, KH, KW)
                     scalar *dbias,         // (C_out)
                     scalar *scratch,       // conv2d_scratch_size(d)
                     const scalar *dout,    // (B, C_out, OH, OW)
                     const scalar *in,      // (B, C_in, H, W)
                     const scalar *weight,  // (C_out, C_in, KH, KW)
                     const ConvDims *d);

/* One image (C, H, W) to its column matrix (C*KH*KW, OH*OW): row (c, kh, kw), column
 * (oh, ow) holds img[c][oh*stride - pad + kh][ow*stride - pad + kw], 0 outside the image.
 * OH, OW are given rather than derived so that conv_transpose2d can pass its output_padding. */
void conv2d_im2col(scalar *col, const scalar *img, int C, int H, int W, int KH, int KW, int stride, int pad,
                   int OH, int OW);
/* The adjoint of im2col: adds every column entry onto the pixel it names (entries that
 * fall in the padding are dropped). */
void conv2d_col2im(scalar *img, const scalar *col, int C, int H, int W, int KH, int KW, int stride, int pad,
                   int OH, int OW);

#endif
