/* attention: per (sample, head), three gemms forward and four backward, on strided views
 * of the packed qkv; the masked softmax and its gradient in between. */
#include "attention.h"

#include <assert.h>
#include <limits.h>
#include <tgmath.h>

/* BLAS takes int dimensions; a layer larger than that is a programming error. */
void attention_causal_mask(uint8_t *mask, size_t T) {
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) mask[i * T + j] = j <= i;
}

/* Softmax of each row of a (T,T) score matrix over its allowed entries (all when mask is
 * NULL), in place; disallowed entries and rows with no allowed entry become 0. */
static void masked_softmax(scalar *a, const uint8_t *mask, size_t T) {
    for (size_t i = 0; i < T; i++) {
        scalar *row = a + i * T;
        const uint8_t *allow = mask ? mask + i * T : NULL;
        int any = 0;
        scalar max = 0;
        for (size_t j = 0; j < T; j++)
            if (!allow || allow[j]) {
                if (!any || row[j] > max) max = row[j];
                any = 1;
            }
        scalar sum = 0;
        for (size_t j = 0; j < T; j++) {
            row[j] = any && (!allow || allow[j]) ? exp(row[j] - max) : 0;
            sum += row[j];
        }
        scalar inv = any ? 1 / sum : 0;
        for (size_t j = 0; j < T; j++) row[j] *= inv;
    }
}

void attention_forward(scalar *out, scalar *att, const scalar *qkv, const uint8_t *mask, int mask_per_sample,
                       size_t B, size_t T, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    const size_t HS = C / NH;
    const int t = blas_int(T), hs = blas_int(HS), ld_qkv = blas_int(3 * C), ld_out = blas_int(C);
    const scalar scale = 1 / sqrt((scalar)HS);
    for (size_t b = 0; b < B; b++) {
        const uint8_t *m = mask ? mask + (mask_per_sample ? b * T * T : 0) : NULL;
        for (size_t h = 0; h < NH; h++) {
            const scalar *q = qkv + b * T * 3 * C + h * HS, *k = q + C, *v = q + 2 * C;
            scalar *a = att + (b * NH + h) * T * T;
            scalar *o = out + b * T * C + h * HS;
            /* a (T,T) = scale · q (T,HS) · kᵀ (HS,T) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, hs, scale, q, ld_qkv, k, ld_qkv, 0, a, t);
            masked_softmax(a, m, T);
            /* o (T,HS) = a (T,T) · v (T,HS) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hs, t, 1, a, t, v, ld_qkv, 0, o, ld_out);
        }
    }
}

void attention_backward(scalar *dqkv, scalar *scratch, const scalar *dout, const scalar *qkv, const scalar *att,
                        size_t B, size_t T, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    const size_t HS = C / NH;
    const int t = blas_int(T), hs = blas_int(HS), ld_qkv = blas_int(3 * C), ld_out = blas_int(C);
    const scalar scale = 1 / sqrt((scalar)HS);
    scalar *ds = scratch; /* (T,T): gradient of the probabilities, then of the scores */
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const size_t at = b * T * 3 * C + h * HS;
            const scalar *q = qkv + at, *k = q + C, *v = q + 2 * C;
            scalar *dq = dqkv + at, *dk = dq + C, *dv = dq + 2 * C;
            const scalar *a = att + (b * NH + h) * T * T;
            const scalar *dout_h = dout + b * T * C + h * HS;
            /* dv (T,HS) += aᵀ (T,T) · dout_h (T,HS) */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, hs, t, 1, a, t, dout_h, ld_out, 1, dv, ld_qkv);
            /* da (T,T) = dout_h (T,HS) · vᵀ (HS,T) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, hs, 1, dout_h, ld_out, v, ld_qkv, 0, ds, t);
            /* softmax backward, row by row: ds = a ⊙ (da - Σ_j a·da). Masked entries and
             * empty rows have a = 0, so their score gradient is 0 with no mask needed. */
            for (size_t i = 0; i < T; i++) {
                const scalar *ar = a + i * T;
                scalar *dr = ds + i * T;
                scalar dot = 0;
                for (size_t j = 0; j < T; j++) dot += ar[j] * dr[j];
                for (size_t j = 0; j < T; j++) dr[j] = ar[j] * (dr[j] - dot);
            }
            /* dq (T,HS) += scale · ds (T,T) · k (T,HS);  dk (T,HS) += scale · dsᵀ (T,T) · q (T,HS) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hs, t, scale, ds, t, k, ld_qkv, 1, dq, ld_qkv);
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, hs, t, scale, ds, t, q, ld_qkv, 1, dk, ld_qkv);
        }
    }
}
