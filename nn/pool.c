/* pool: average pooling and nearest-neighbour upsampling by a whole factor (see pool.h). */
#include "pool.h"

#include <stddef.h>

void avgpool2d_forward(scalar *out, const scalar *in, int B, int C, int H, int W, int k) {
    int OH = H / k, OW = W / k;
    scalar area = (scalar)(k * k);
    for (size_t p = 0; p < (size_t)B * C; p++) {
        const scalar *x = in + p * H * W;
        scalar *y = out + p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                scalar sum = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) sum += x[(size_t)(oh * k + i) * W + ow * k + j];
                y[(size_t)oh * OW + ow] = sum / area; /* divide, as torch does, for the same rounding */
            }
    }
}

void avgpool2d_backward(scalar *din, const scalar *dout, int B, int C, int H, int W, int k) {
    int OH = H / k, OW = W / k;
    scalar area = (scalar)(k * k);
    for (size_t p = 0; p < (size_t)B * C; p++) {
        scalar *dx = din + p * H * W;
        const scalar *dy = dout + p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                scalar g = dy[(size_t)oh * OW + ow] / area;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) dx[(size_t)(oh * k + i) * W + ow * k + j] += g;
            }
    }
}

void upsample_nearest_forward(scalar *out, const scalar *in, int B, int C, int H, int W, int k) {
    size_t OW = (size_t)W * k;
    for (size_t p = 0; p < (size_t)B * C; p++) {
        const scalar *x = in + p * H * W;
        scalar *y = out + p * H * W * k * k;
        for (size_t oh = 0; oh < (size_t)H * k; oh++)
            for (size_t ow = 0; ow < OW; ow++) y[oh * OW + ow] = x[(oh / k) * W + ow / k];
    }
}

void upsample_nearest_backward(scalar *din, const scalar *dout, int B, int C, int H, int W, int k) {
    size_t OW = (size_t)W * k;
    for (size_t p = 0; p < (size_t)B * C; p++) {
        scalar *dx = din + p * H * W;
        const scalar *dy = dout + p * H * W * k * k;
        for (size_t oh = 0; oh < (size_t)H * k; oh++)
            for (size_t ow = 0; ow < OW; ow++) dx[(oh / k) * W + ow / k] += dy[oh * OW + ow];
    }
}
