/* attention: per (sample, head), gemms on strided views of the packed qkv, and the masked
 * softmax and its gradient in between.
 *
 * Work skipped where the mask rules it out. Each query row i attends to keys inside a
 * span [lo_i, hi_i) (first to one past the last allowed key; empty when none is). The
 * rows go in blocks of ATT_ROW_BLOCK, and a block's gemms cover only the keys of its
 * rows' spans: with a causal mask, block [r0, r1) needs keys [0, r1), so most of the
 * upper triangle is not computed (the gemms do 3/4 of the square's flops at T = 64,
 * 33/64 at T = 1024). Adjacent blocks that need the same keys (all of them when there is
 * no mask) go in one gemm call: splitting would save nothing there and each call costs
 * (T = 64, head size 32, forward, per layer: one 64-row call per head 1.75 ms, two
 * 32-row calls 1.9 ms). The softmax runs over each row's span; inside it, a mask with
 * holes (MaskGIT, RAR) is applied entry by entry, so every mask gives the same result
 * as the full computation, up to float rounding (sums go in another order).
 *
 * Backward has no mask: it takes each block's keys from the nonzeros of the saved
 * probabilities. A probability that is exactly 0 (masked, or underflowed) contributes
 * nothing to any gradient, so leaving it out changes no result.
 *
 * The row loops (max, exp, sums) are the vectorizable ones of nn/fastmath.h. The
 * products go to nn/headgemm.h's register tiles when the head size is a multiple of its
 * vector (16 floats), to BLAS otherwise. */
#include "attention.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "../core/xalloc.h"
#include "fastmath.h"
#include "headgemm.h"

/* Rows per gemm block. Measured (train_bench --breakdown, head size 32, causal, seconds
 * per step for 6 layers' attention forward + backward, on a busy machine): T = 64:
 * 32 rows 0.031-0.036, 16 rows 0.033-0.039, 64 rows (one block) 0.039, the full square
 * before 0.054; T = 1024: 32 rows 0.50, 64 rows 0.49, the full square 0.89. */
enum { ATT_ROW_BLOCK = 32 };

typedef struct {
    size_t lo, hi; /* allowed keys lie in [lo, hi); lo == hi: none */
    int holes;     /* some key in [lo, hi) is not allowed */
} RowSpan;

typedef struct {
    size_t lo, hi; /* the keys a block of rows needs; lo == hi: none */
} KeyRange;

void attention_causal_mask(uint8_t *mask, size_t T) {
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) mask[i * T + j] = j <= i;
}

static size_t n_blocks(size_t T) { return (T + ATT_ROW_BLOCK - 1) / ATT_ROW_BLOCK; }

/* The span of every row of a (T,T) mask (NULL: every key), and the keys of every block
 * of rows: the union of its rows' spans. */
static void mask_spans(RowSpan *span, KeyRange *block, const uint8_t *mask, size_t T) {
    for (size_t i = 0; i < T; i++) {
        RowSpan s = {0, T, 0};
        if (mask) {
            const uint8_t *allow = mask + i * T;
            while (s.hi > 0 && !allow[s.hi - 1]) s.hi--;
            while (s.lo < s.hi && !allow[s.lo]) s.lo++;
            for (size_t j = s.lo; j < s.hi; j++) s.holes |= !allow[j];
        }
        span[i] = s;
    }
    for (size_t bi = 0; bi < n_blocks(T); bi++) {
        KeyRange k = {T, 0};
        for (size_t i = bi * ATT_ROW_BLOCK; i < T && i < (bi + 1) * ATT_ROW_BLOCK; i++) {
            if (span[i].lo == span[i].hi) continue;
            if (span[i].lo < k.lo) k.lo = span[i].lo;
            if (span[i].hi > k.hi) k.hi = span[i].hi;
        }
        block[bi] = k.hi ? k : (KeyRange){0, 0};
    }
}

static int any_nonzero(const scalar *x, size_t n) {
    int nz = 0;
    for (size_t j = 0; j < n; j++) nz |= x[j] != 0;
    return nz;
}

/* The keys of every block of rows of a (T,T) probability matrix: the smallest range
 * holding all the nonzeros of its rows. Each row is first tested against the range
 * found so far (a vectorized pass); only a row that widens it is searched element by
 * element. Rows go from the last: under a causal mask, that one reaches furthest. */
static void nonzero_blocks(KeyRange *block, const scalar *a, size_t T) {
    for (size_t bi = 0; bi < n_blocks(T); bi++) {
        size_t r0 = bi * ATT_ROW_BLOCK, r1 = r0 + ATT_ROW_BLOCK < T ? r0 + ATT_ROW_BLOCK : T;
        KeyRange k = {T, 0};
        for (size_t i = r1; i-- > r0;) {
            const scalar *row = a + i * T;
            if (any_nonzero(row + k.hi, T - k.hi))
                for (k.hi = T; row[k.hi - 1] == 0;) k.hi--;
            if (any_nonzero(row, k.lo))
                for (k.lo = 0; row[k.lo] == 0;) k.lo++;
        }
        block[bi] = k.hi ? k : (KeyRange){0, 0};
    }
}

/* From block bi, the end of the run of blocks that need the same keys: they go in one
 * gemm call. */
static size_t run_end(const KeyRange *block, size_t bi, size_t nb) {
    size_t bj = bi + 1;
    while (bj < nb && block[bj].lo == block[bi].lo && block[bj].hi == block[bi].hi) bj++;
    return bj;
}

/* Rows' softmax loops run over whole vectors: a span is widened to a multiple of this
 * many keys (inside the row) with -inf, which exp takes to exactly 0. A causal row's span
 * has any length, and the loops' scalar tails cost more than the widened vector work:
 * forward at T = 64, head size 32, 2.50 -> 2.25 ms per layer. */
enum { SOFTMAX_PAD = 16 };

/* [lo, hi) holding span s, widened to a multiple of SOFTMAX_PAD inside [0, T) (or all
 * of it when the row is shorter). */
static RowSpan padded_span(RowSpan s, size_t T) {
    size_t padded = (s.hi - s.lo + SOFTMAX_PAD - 1) / SOFTMAX_PAD * SOFTMAX_PAD;
    if (padded >= T) return (RowSpan){0, T, s.holes};
    if (s.lo + padded <= T) return (RowSpan){s.lo, s.lo + padded, s.holes};
    return (RowSpan){T - padded, T, s.holes}; /* holds the span: T - padded < s.lo */
}

/* One row of scores in place: softmax over the allowed keys of its span, 0 elsewhere. */
static void softmax_row(scalar *row, const uint8_t *allow, RowSpan s, size_t T) {
    if (s.lo == s.hi) {
        for (size_t j = 0; j < T; j++) row[j] = 0;
        return;
    }
    RowSpan p = padded_span(s, T);
    for (size_t j = 0; j < p.lo; j++) row[j] = 0;
    for (size_t j = p.hi; j < T; j++) row[j] = 0;
    for (size_t j = p.lo; j < s.lo; j++) row[j] = -INFINITY; /* e^-inf = 0: probability 0 */
    for (size_t j = s.hi; j < p.hi; j++) row[j] = -INFINITY;
    if (s.holes) /* a disallowed key inside the span, likewise */
        for (size_t j = s.lo; j < s.hi; j++) row[j] = allow[j] ? row[j] : -INFINITY;
    scalar *x = row + p.lo;
    size_t n = p.hi - p.lo;
    scalar max = vec_max(x, n); /* finite: the span's ends are allowed */
    for (size_t j = 0; j < n; j++) x[j] = fast_exp(x[j] - max);
    scalar inv = 1 / vec_sum(x, n);
    for (size_t j = 0; j < n; j++) x[j] *= inv;
}

/* The products of one block of rows, on views of the packed qkv (row stride ld) and of
 * (T,T) probability matrices: headgemm's tiles where the head size suits them, with the
 * keys (or values) of the current head packed transposed once per head; BLAS otherwise. */
typedef struct {
    size_t T, HS, ld, stride; /* stride: the packed rows' */
    int tiles;
    scalar *packed; /* (HS, stride): kᵀ or vᵀ of the current head, tiles only */
} Products;

static Products products_init(size_t T, size_t C, size_t NH) {
    Products pr = {.T = T, .HS = C / NH, .ld = 3 * C, .tiles = headgemm_fits(C / NH)};
    pr.stride = headgemm_packed_stride(T);
    pr.packed = pr.tiles ? xmalloc(pr.HS * pr.stride * sizeof *pr.packed) : NULL;
    return pr;
}

/* The head's keys or values y (T rows of HS) transposed, for products_x_yt. */
static void products_pack(Products *pr, const scalar *y) {
    if (pr->tiles) headgemm_pack_t(pr->packed, pr->stride, y, pr->ld, pr->T, pr->HS);
}

/* s (m, n; row stride T) = alpha · x (m, HS; row stride ldx) · y[klo, klo + n)ᵀ, y the
 * rows last given to products_pack. */
static void products_x_yt(const Products *pr, scalar *s, scalar alpha, const scalar *x, size_t ldx, const scalar *y,
                          size_t klo, size_t m, size_t n) {
    if (pr->tiles)
        headgemm_a_bt(s, pr->T, alpha, x, ldx, pr->packed + klo, pr->stride, m, n, pr->HS);
    else
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(m), blas_int(n), blas_int(pr->HS), alpha, x,
                   blas_int(ldx), y + klo * pr->ld, blas_int(pr->ld), 0, s, blas_int(pr->T));
}

/* c (m, HS; ldc) = [c +] alpha · p (m, n; row stride T) · y (n, HS; row stride ld). */
static void products_p_y(const Products *pr, scalar *c, size_t ldc, int accumulate, scalar alpha, const scalar *p,
                         const scalar *y, size_t m, size_t n) {
    if (pr->tiles)
        headgemm_p_x(c, ldc, accumulate, alpha, p, pr->T, y, pr->ld, m, n, pr->HS);
    else
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(m), blas_int(pr->HS), blas_int(n), alpha, p,
                   blas_int(pr->T), y, blas_int(pr->ld), accumulate ? 1 : 0, c, blas_int(ldc));
}

/* c (n, HS; row stride ld) += alpha · pᵀ (n, m) · x (m, HS; row stride ldx), p (m, n; row
 * stride T). */
static void products_pt_x(const Products *pr, scalar *c, scalar alpha, const scalar *p, const scalar *x, size_t ldx,
                          size_t m, size_t n) {
    if (pr->tiles)
        headgemm_pt_x(c, pr->ld, alpha, p, pr->T, x, ldx, m, n, pr->HS);
    else
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(n), blas_int(pr->HS), blas_int(m), alpha, p,
                   blas_int(pr->T), x, blas_int(ldx), 1, c, blas_int(pr->ld));
}

void attention_forward(scalar *out, scalar *att, const scalar *qkv, const uint8_t *mask, int mask_per_sample,
                       size_t B, size_t T, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    const size_t HS = C / NH;
    const scalar scale = 1 / sqrt((scalar)HS);
    const size_t nb = n_blocks(T);
    RowSpan *span = xmalloc((T ? T : 1) * sizeof *span);
    KeyRange *block = xmalloc((nb ? nb : 1) * sizeof *block);
    Products pr = products_init(T, C, NH);
    for (size_t b = 0; b < B; b++) {
        const uint8_t *m = mask ? mask + (mask_per_sample ? b * T * T : 0) : NULL;
        if (b == 0 || mask_per_sample) mask_spans(span, block, m, T);
        for (size_t h = 0; h < NH; h++) {
            const scalar *q = qkv + b * T * 3 * C + h * HS, *k = q + C, *v = q + 2 * C;
            scalar *a = att + (b * NH + h) * T * T;
            scalar *o = out + b * T * C + h * HS;
            products_pack(&pr, k);
            for (size_t bi = 0, bj; bi < nb; bi = bj) {
                bj = run_end(block, bi, nb);
                const size_t r0 = bi * ATT_ROW_BLOCK, r1 = bj * ATT_ROW_BLOCK < T ? bj * ATT_ROW_BLOCK : T;
                const size_t klo = block[bi].lo, keys = block[bi].hi - klo, rows = r1 - r0;
                scalar *ab = a + r0 * T + klo;
                if (keys) /* a[rows, keys] = scale · q[rows] (rows,HS) · k[keys]ᵀ (HS,keys) */
                    products_x_yt(&pr, ab, scale, q + r0 * 3 * C, 3 * C, k, klo, rows, keys);
                for (size_t i = r0; i < r1; i++) softmax_row(a + i * T, m ? m + i * T : NULL, span[i], T);
                if (keys) /* o[rows] (rows,HS) = a[rows, keys] · v[keys] (keys,HS) */
                    products_p_y(&pr, o + r0 * C, C, 0, 1, ab, v + klo * 3 * C, rows, keys);
                else /* no row of the block sees a key */
                    for (size_t i = r0; i < r1; i++)
                        for (size_t c = 0; c < HS; c++) o[i * C + c] = 0;
            }
        }
    }
    free(pr.packed);
    free(span);
    free(block);
}

void attention_backward(scalar *dqkv, scalar *scratch, const scalar *dout, const scalar *qkv, const scalar *att,
                        size_t B, size_t T, size_t C, size_t NH) {
    assert(NH > 0 && C % NH == 0);
    const size_t HS = C / NH;
    const scalar scale = 1 / sqrt((scalar)HS);
    const size_t nb = n_blocks(T);
    KeyRange *block = xmalloc((nb ? nb : 1) * sizeof *block);
    Products pr = products_init(T, C, NH);
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const size_t at = b * T * 3 * C + h * HS;
            const scalar *q = qkv + at, *k = q + C, *v = q + 2 * C;
            scalar *dq = dqkv + at, *dk = dq + C, *dv = dq + 2 * C;
            const scalar *a = att + (b * NH + h) * T * T;
            const scalar *dout_h = dout + b * T * C + h * HS;
            nonzero_blocks(block, a, T);
            products_pack(&pr, v);
            for (size_t bi = 0, bj; bi < nb; bi = bj) {
                bj = run_end(block, bi, nb);
                const size_t r0 = bi * ATT_ROW_BLOCK, r1 = bj * ATT_ROW_BLOCK < T ? bj * ATT_ROW_BLOCK : T;
                const size_t klo = block[bi].lo, keys = block[bi].hi - klo, rows = r1 - r0;
                if (!keys) continue; /* all probabilities 0: no gradient */
                const scalar *ab = a + r0 * T + klo, *dout_b = dout_h + r0 * C;
                scalar *ds = scratch + r0 * T + klo; /* gradient of the probabilities, then of the scores */
                /* dv[keys] (keys,HS) += a[rows, keys]ᵀ · dout[rows] (rows,HS) */
                products_pt_x(&pr, dv + klo * 3 * C, 1, ab, dout_b, C, rows, keys);
                /* da[rows, keys] = dout[rows] (rows,HS) · v[keys]ᵀ (HS,keys) */
                products_x_yt(&pr, ds, 1, dout_b, C, v, klo, rows, keys);
                /* softmax backward, row by row: ds = a ⊙ (da - Σ_j a·da). Where a = 0
                 * (outside a row's span, masked, empty rows) ds comes out 0. */
                for (size_t i = 0; i < rows; i++) {
                    const scalar *ar = ab + i * T;
                    scalar *dr = ds + i * T;
                    scalar dot = vec_dot(ar, dr, keys);
                    for (size_t j = 0; j < keys; j++) dr[j] = ar[j] * (dr[j] - dot);
                }
                /* dq[rows] += scale · ds (rows,keys) · k[keys];  dk[keys] += scale · dsᵀ (keys,rows) · q[rows] */
                products_p_y(&pr, dq + r0 * 3 * C, 3 * C, 1, scale, ds, k + klo * 3 * C, rows, keys);
                products_pt_x(&pr, dk + klo * 3 * C, scale, ds, q + r0 * 3 * C, 3 * C, rows, keys);
            }
        }
    }
    free(pr.packed);
    free(block);
}
