/* conv_transpose2d: the transposed convolution the decoder upsamples with, as
 * torch.nn.ConvTranspose2d (zero padding, output_padding, dilation 1, one group).
 * It is the adjoint of conv2d: each input pixel scatters weight[ic] (C_out, KH, KW)
 * times its value onto the output window at (ih*stride - pad, iw*stride - pad). Per image:
 *
 *   col (C_out*KH*KW, H*W) = weightᵀ (C_out*KH*KW, C_in) @ in (C_in, H*W)
 *   out = col2im(col) + bias
 *
 * and backward runs conv2d's forward path on dout: dcol = im2col(dout),
 * din += weight @ dcol, dweight += in @ dcolᵀ. Geometry in ConvDims (conv2d.h), where
 * C_in, H, W describe this layer's input; e.g. KH = KW = 4, stride 2, pad 1 doubles H and W. */
#ifndef TESSERA_CONV_TRANSPOSE2D_H
#define TESSERA_CONV_TRANSPOSE2D_H

#include <stddef.h>

#include "conv2d.h"
#include "scalar.h"

/* Output size: (H - 1) * stride - 2 pad + KH + out_pad, and the same for W. */
int conv_transpose2d_out_h(const ConvDims *d);
int conv_transpose2d_out_w(const ConvDims *d);
/* Scalars of scratch that forward and backward need: one image's column matrix. */
size_t conv_transpose2d_scratch_size(const ConvDims *d);

void conv_transpose2d_forward(scalar *out,           // (B, C_out, OH, OW)
                              scalar *scratch,       // conv_transpose2d_scratch_size(d)
                              const scalar *in,      // (B, C_in, H, W)
                              const scalar *weight,  // (C_in, C_out, KH, KW), torch's layout
                              const scalar *bias,    // (C_out), or NULL for none
                              const ConvDims *d);

/* Adds into din (NULL: not needed), dweight and dbias (NULL when there is no bias). */
void conv_transpose2d_backward(scalar *din,           // (B, C_in, H, W)
                               scalar *dweight,       // (C_in, C_out, KH, KW)
                               scalar *dbias,         // (C_out)
                               scalar *scratch,       // conv_transpose2d_scratch_size(d)
                               const scalar *dout,    // (B, C_out, OH, OW)
                               const scalar *in,      // (B, C_in, H, W)
                               const scalar *weight,  // (C_in, C_out, KH, KW)
                               const ConvDims *d);

#endif
