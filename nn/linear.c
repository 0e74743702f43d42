/* linear: out = in · Wᵀ + b as one gemm; backward as two gemms and a column sum. */
#include "linear.h"

#include <assert.h>
#include <limits.h>

/* out (N,OC) = beta · out + in (N,C) · Wᵀ. BLAS takes int dimensions; a layer larger
 * than that is a programming error (blas_int asserts). */
static void gemm_in_wt(scalar *out, scalar beta, const scalar *in, const scalar *weight, size_t N, size_t C, size_t OC) {
    cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(N), blas_int(OC), blas_int(C), 1, in, blas_int(C),
               weight, blas_int(C), beta, out, blas_int(OC));
}

void linear_forward(scalar *out, const scalar *in, const scalar *weight, const scalar *bias, size_t N, size_t C,
                    size_t OC) {
    assert(C > 0);
    if (N == 0 || OC == 0) return;
    if (!bias) {
        gemm_in_wt(out, 0, in, weight, N, C, OC);
        return;
    }
    /* start every row at the bias and let gemm add the product onto it */
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < OC; o++) out[n * OC + o] = bias[o];
    gemm_in_wt(out, 1, in, weight, N, C, OC);
}

void linear_forward_residual(scalar *out, const scalar *residual, const scalar *in, const scalar *weight,
                             const scalar *bias, size_t N, size_t C, size_t OC) {
    assert(C > 0);
    if (N == 0 || OC == 0) return;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < OC; o++) out[n * OC + o] = residual[n * OC + o] + (bias ? bias[o] : 0);
    gemm_in_wt(out, 1, in, weight, N, C, OC);
}

void linear_backward(scalar *din, GradWrite din_write, scalar *dweight, scalar *dbias, const scalar *dout,
                     const scalar *in, const scalar *weight, size_t N, size_t C, size_t OC) {
    assert(C > 0);
    if (N == 0 || OC == 0) return;
    if (din) /* din (N,C) += (or =) dout (N,OC) · W (OC,C) */
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(N), blas_int(C), blas_int(OC),
                   1, dout, blas_int(OC), weight, blas_int(C), din_write == GRAD_SET ? 0 : 1, din, blas_int(C));
    if (dweight) /* dW (OC,C) += doutᵀ (OC,N) · in (N,C) */
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(OC), blas_int(C), blas_int(N),
                   1, dout, blas_int(OC), in, blas_int(C), 1, dweight, blas_int(C));
    if (dbias)
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < OC; o++) dbias[o] += dout[n * OC + o];
}
