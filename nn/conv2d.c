/* conv2d: convolution as im2col + GEMM (see conv2d.h). */
#include "conv2d.h"

#include <string.h>

int conv2d_out_h(const ConvDims *d) { return (d->H + 2 * d->pad - d->KH) / d->stride + 1; }
int conv2d_out_w(const ConvDims *d) { return (d->W + 2 * d->pad - d->KW) / d->stride + 1; }

static int is_pointwise(const ConvDims *d) { return d->KH == 1 && d->KW == 1 && d->stride == 1 && d->pad == 0; }

size_t conv2d_scratch_size(const ConvDims *d) {
    if (is_pointwise(d)) return 0;
    return (size_t)d->C_in * d->KH * d->KW * (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d);
}

/* The outputs o in [*lo, *hi) whose input o*stride - pad + k lies inside [0, size). */
static void valid_span(int k, int stride, int pad, int size, int n_out, int *lo, int *hi) {
    int first = pad - k;        /* o*stride >= first */
    int end = size + pad - k;   /* o*stride < end */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = end <= 0 ? 0 : (end + stride - 1) / stride;
    if (*hi > n_out) *hi = n_out;
    if (*lo > *hi) *lo = *hi;
}

void conv2d_im2col(scalar *col, const scalar *img, int C, int H, int W, int KH, int KW, int stride, int pad,
                   int OH, int OW) {
    size_t n = (size_t)OH * OW;
    for (int c = 0; c < C; c++) {
        const scalar *plane = img + (size_t)c * H * W;
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                scalar *row = col + (((size_t)c * KH + kh) * KW + kw) * n;
                int lo, hi;
                valid_span(kw, stride, pad, W, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    scalar *dst = row + (size_t)oh * OW;
                    int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)OW * sizeof *dst);
                        continue;
                    }
                    const scalar *src = plane + (size_t)ih * W; /* pixel iw = ow*stride - pad + kw */
                    for (int ow = 0; ow < lo; ow++) dst[ow] = 0;
                    for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * stride - pad + kw];
                    for (int ow = hi; ow < OW; ow++) dst[ow] = 0;
                }
            }
    }
}

void conv2d_col2im(scalar *img, const scalar *col, int C, int H, int W, int KH, int KW, int stride, int pad,
                   int OH, int OW) {
    size_t n = (size_t)OH * OW;
    for (int c = 0; c < C; c++) {
        scalar *plane = img + (size_t)c * H * W;
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                const scalar *row = col + (((size_t)c * KH + kh) * KW + kw) * n;
                int lo, hi;
                valid_span(kw, stride, pad, W, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    const scalar *src = row + (size_t)oh * OW;
                    scalar *dst = plane + (size_t)ih * W;
                    for (int ow = lo; ow < hi; ow++) dst[ow * stride - pad + kw] += src[ow];
                }
            }
    }
}

void conv2d_forward(scalar *out, scalar *scratch, const scalar *in, const scalar *weight, const scalar *bias,
                    const ConvDims *d) {
    int OH = conv2d_out_h(d), OW = conv2d_out_w(d);
    size_t n = (size_t)OH * OW, k = (size_t)d->C_in * d->KH * d->KW;
    size_t in_size = (size_t)d->C_in * d->H * d->W, out_size = (size_t)d->C_out * n;
    for (int b = 0; b < d->B; b++) {
        const scalar *x = in + b * in_size;
        scalar *y = out + b * out_size;
        const scalar *col = x;
        if (!is_pointwise(d)) {
            conv2d_im2col(scratch, x, d->C_in, d->H, d->W, d->KH, d->KW, d->stride, d->pad, OH, OW);
            col = scratch;
        }
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->C_out, (int)n, (int)k, 1, weight, (int)k, col,
                   (int)n, 0, y, (int)n);
        if (bias)
            for (int oc = 0; oc < d->C_out; oc++)
                for (size_t i = 0; i < n; i++) y[oc * n + i] += bias[oc];
    }
}

void conv2d_backward(scalar *din, scalar *dweight, scalar *dbias, scalar *scratch, const scalar *dout,
                     const scalar *in, const scalar *weight, const ConvDims *d) {
    int OH = conv2d_out_h(d), OW = conv2d_out_w(d);
    size_t n = (size_t)OH * OW, k = (size_t)d->C_in * d->KH * d->KW;
    size_t in_size = (size_t)d->C_in * d->H * d->W, out_size = (size_t)d->C_out * n;
    for (int b = 0; b < d->B; b++) {
        const scalar *x = in + b * in_size, *dy = dout + b * out_size;
        const scalar *col = x;
        if (!is_pointwise(d)) {
            conv2d_im2col(scratch, x, d->C_in, d->H, d->W, d->KH, d->KW, d->stride, d->pad, OH, OW);
            col = scratch;
        }
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->C_out, (int)k, (int)n, 1, dy, (int)n, col, (int)n,
                   1, dweight, (int)k);
        if (dbias)
            for (int oc = 0; oc < d->C_out; oc++) {
                scalar sum = 0;
                for (size_t i = 0; i < n; i++) sum += dy[oc * n + i];
                dbias[oc] += sum;
            }
        if (!din) continue;
        scalar *dx = din + b * in_size;
        if (is_pointwise(d)) { /* the column matrix is the input: add straight into it */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, d->C_out, 1, weight, (int)k, dy,
                       (int)n, 1, dx, (int)n);
            continue;
        }
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, d->C_out, 1, weight, (int)k, dy,
                   (int)n, 0, scratch, (int)n);
        conv2d_col2im(dx, scratch, d->C_in, d->H, d->W, d->KH, d->KW, d->stride, d->pad, OH, OW);
    }
}
