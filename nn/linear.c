/* linear: out = in · Wᵀ + b as one gemm; backward as two gemms and a column sum. */
#include "linear.h"

#include <assert.h>
#include <limits.h>

/* BLAS takes int dimensions; a layer larger than that is a programming error. */
void linear_forward(scalar *out, const scalar *in, const scalar *weight, const scalar *bias,
                    size_t N, size_t C, size_t OC) {
    assert(C > 0);
    if (N == 0 || OC == 0) return;
    scalar beta = 0;
    if (bias) { /* start every row at the bias and let gemm add the product onto it */
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < OC; o++) out[n * OC + o] = bias[o];
        beta = 1;
    }
    cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(N), blas_int(OC), blas_int(C),
               1, in, blas_int(C), weight, blas_int(C), beta, out, blas_int(OC));
}

void linear_backward(scalar *din, scalar *dweight, scalar *dbias, const scalar *dout,
                     const scalar *in, const scalar *weight, size_t N, size_t C, size_t OC) {
    assert(C > 0);
    if (N == 0 || OC == 0) return;
    if (din) /* din (N,C) += dout (N,OC) · W (OC,C) */
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(N), blas_int(C), blas_int(OC),
                   1, dout, blas_int(OC), weight, blas_int(C), 1, din, blas_int(C));
    if (dweight) /* dW (OC,C) += doutᵀ (OC,N) · in (N,C) */
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(OC), blas_int(C), blas_int(N),
                   1, dout, blas_int(OC), in, blas_int(C), 1, dweight, blas_int(C));
    if (dbias)
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < OC; o++) dbias[o] += dout[n * OC + o];
}
