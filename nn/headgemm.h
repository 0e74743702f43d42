/* headgemm: the small matrix products of attention, where one side is a head (HS
 * columns, a multiple of the vector width) and the other a block of at most a few dozen
 * rows or keys: q·kᵀ, p·v, and their gradients. Register tiles of up to 16 vectors of 64
 * bytes (8 rows × 2 vectors, 4 × 4; headgemm.c), in GCC vector extensions: AVX-512 under
 * -march=native where the CPU has it. Where it has only AVX2 each vector is two halves and
 * the 16 accumulators no longer fit its 16 registers: correct, but likely slower than
 * BLAS there (not measured; no such machine here).
 *
 * Why not BLAS: at these sizes (32 × 64 × 32 at the benchmark's shape) a general GEMM
 * spends its time packing and dispatching, and how much depends on the kernel OpenBLAS
 * picks for the CPU: OpenBLAS's Haswell kernel has no small-matrix path, so on 6 layers
 * of attention at T = 64 its gemms took 0.040 s per step where its Cooperlake kernel
 * took 0.019 s (BENCH.md). These tiles take neither path.
 *
 * Every function writes or adds c = alpha · (a product); sums run over the inner index
 * in order, so a result depends only on the operands. Strides (ld*) are in elements. */
#ifndef TESSERA_HEADGEMM_H
#define TESSERA_HEADGEMM_H

#include <stddef.h>

#include "scalar.h"

/* Elements per vector: 16 floats (8 in the double build). */
enum { HEADGEMM_LANES = 64 / sizeof(scalar) };

/* Whether hs columns suit these tiles: a positive multiple of HEADGEMM_LANES. */
int headgemm_fits(size_t hs);

/* Row stride of headgemm_pack_t's output for n rows: n rounded up to whole vectors, plus
 * one vector, so that a tile starting at any column below n reads inside the buffer. */
size_t headgemm_packed_stride(size_t n);

/* xt (hs, stride) = x (n, hs; row stride ldx) transposed, zero past column n. */
void headgemm_pack_t(scalar *xt, size_t stride, const scalar *x, size_t ldx, size_t n, size_t hs);

/* c (m, n; ldc) = alpha · a (m, hs; lda) · bt (hs, n; row stride ldbt), bt as packed by
 * headgemm_pack_t (any column offset into it). */
void headgemm_a_bt(scalar *c, size_t ldc, scalar alpha, const scalar *a, size_t lda, const scalar *bt, size_t ldbt,
                   size_t m, size_t n, size_t hs);

/* c (m, hs; ldc) = (accumulate ? c : 0) + alpha · p (m, n; ldp) · x (n, hs; ldx). */
void headgemm_p_x(scalar *c, size_t ldc, int accumulate, scalar alpha, const scalar *p, size_t ldp, const scalar *x,
                  size_t ldx, size_t m, size_t n, size_t hs);

/* c (n, hs; ldc) += alpha · pᵀ (n, m) · x (m, hs; ldx), p (m, n; ldp). */
void headgemm_pt_x(scalar *c, size_t ldc, scalar alpha, const scalar *p, size_t ldp, const scalar *x, size_t ldx,
                   size_t m, size_t n, size_t hs);

#endif
