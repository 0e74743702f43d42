/* conv_transpose2d: transposed convolution as GEMM + col2im (see conv_transpose2d.h). */
#include "conv_transpose2d.h"

#include <string.h>

int conv_transpose2d_out_h(const ConvDims *d) { return (d->H - 1) * d->stride - 2 * d->pad + d->KH + d->out_pad; }
int conv_transpose2d_out_w(const ConvDims *d) { return (d->W - 1) * d->stride - 2 * d->pad + d->KW + d->out_pad; }

size_t conv_transpose2d_scratch_size(const ConvDims *d) {
    return (size_t)d->C_out * d->KH * d->KW * (size_t)d->H * (size_t)d->W;
}

void conv_transpose2d_forward(scalar *out, scalar *scratch, const scalar *in, const scalar *weight,
                              const scalar *bias, const ConvDims *d) {
    int OH = conv_transpose2d_out_h(d), OW = conv_transpose2d_out_w(d);
    size_t n = (size_t)d->H * d->W, k = (size_t)d->C_out * d->KH * d->KW, on = (size_t)OH * OW;
    size_t in_size = (size_t)d->C_in * n, out_size = (size_t)d->C_out * on;
    for (int b = 0; b < d->B; b++) {
        scalar *y = out + b * out_size;
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, d->C_in, 1, weight, (int)k,
                   in + b * in_size, (int)n, 0, scratch, (int)n);
        /* The input grid is the "output" of the conv2d this layer is the adjoint of. */
        memset(y, 0, out_size * sizeof *y);
        conv2d_col2im(y, scratch, d->C_out, OH, OW, d->KH, d->KW, d->stride, d->pad, d->H, d->W);
        if (bias)
            for (int oc = 0; oc < d->C_out; oc++)
                for (size_t i = 0; i < on; i++) y[oc * on + i] += bias[oc];
    }
}

void conv_transpose2d_backward(scalar *din, scalar *dweight, scalar *dbias, scalar *scratch, const scalar *dout,
                               const scalar *in, const scalar *weight, const ConvDims *d) {
    int OH = conv_transpose2d_out_h(d), OW = conv_transpose2d_out_w(d);
    size_t n = (size_t)d->H * d->W, k = (size_t)d->C_out * d->KH * d->KW, on = (size_t)OH * OW;
    size_t in_size = (size_t)d->C_in * n, out_size = (size_t)d->C_out * on;
    for (int b = 0; b < d->B; b++) {
        const scalar *dy = dout + b * out_size;
        conv2d_im2col(scratch, dy, d->C_out, OH, OW, d->KH, d->KW, d->stride, d->pad, d->H, d->W);
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->C_in, (int)k, (int)n, 1, in + b * in_size, (int)n,
                   scratch, (int)n, 1, dweight, (int)k);
        if (din)
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->C_in, (int)n, (int)k, 1, weight, (int)k,
                       scratch, (int)n, 1, din + b * in_size, (int)n);
        if (dbias)
            for (int oc = 0; oc < d->C_out; oc++) {
                scalar sum = 0;
                for (size_t i = 0; i < on; i++) sum += dy[oc * on + i];
                dbias[oc] += sum;
            }
    }
}
