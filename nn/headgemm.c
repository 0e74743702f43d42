/* headgemm: register-tiled small products for attention (see headgemm.h).
 *
 * A tile is R rows × V vectors of accumulators: V = 1..4 vectors of columns, and R = 8
 * rows for V <= 2, 4 for more (1 for the rows left over), so 16 accumulators at most,
 * with the loaded vectors and a broadcast beside them: 21 of AVX-512's 32 registers.
 * Eight rows at V = 2 rather than four: with four, each step of the sum loaded 6 vectors
 * for 8 FMAs, and the attention's p·v ran slower than OpenBLAS's small-matrix kernel. The
 * tile functions are inlined with R and V constant, so GCC unrolls their loops and keeps
 * the accumulators in registers. */
#include "headgemm.h"

#include <string.h>

typedef scalar vec __attribute__((vector_size(64)));
/* The same vector at any scalar's alignment, allowed to alias scalar buffers. */
typedef scalar vec_u __attribute__((vector_size(64), aligned(sizeof(scalar)), may_alias));

enum { LANES = HEADGEMM_LANES, TILE_ROWS = 8, TILE_VECS = 4 };

/* Rows of a full tile of v vectors. */
static inline size_t tile_rows(size_t v) { return v <= 2 ? 8 : 4; }

#define INLINE static inline __attribute__((always_inline))

INLINE vec load(const scalar *p) { return *(const vec_u *)p; }
INLINE void store(scalar *p, vec v) { *(vec_u *)p = v; }
/* s in every lane. (s - 0 is s for every s, -0 included, so GCC drops the subtraction and
 * emits a bare broadcast; with (vec){0} + s it computed 0 + s first, which is +0 for -0.) */
INLINE vec splat(scalar s) { return s - (vec){0}; }

/* The V vectors of a row, in named variables: an array of them was left partly in memory
 * by GCC 12 (a spill and a reload per step of the sum). The empty asm pins them to
 * registers: without it GCC folded each load into every row's FMA as a memory operand,
 * R loads per vector instead of one, and q·kᵀ ran at 117 GFLOP/s where p·v, whose row is
 * loaded once, ran at 259 (32×64×32, one core). */
#define LOAD_ROW(row)                                                                                                  \
    vec x0 = load(row), x1 = V > 1 ? load((row) + LANES) : x0, x2 = V > 2 ? load((row) + 2 * LANES) : x0,           \
        x3 = V > 3 ? load((row) + 3 * LANES) : x0;                                                                    \
    __asm__("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3))
/* acc_row[v] += s · xv for the V vectors of LOAD_ROW. */
#define FMA_ROW(acc_row, s)                                                                                            \
    do {                                                                                                               \
        vec s_ = (s);                                                                                                  \
        (acc_row)[0] += s_ * x0;                                                                                       \
        if (V > 1) (acc_row)[1] += s_ * x1;                                                                            \
        if (V > 2) (acc_row)[2] += s_ * x2;                                                                            \
        if (V > 3) (acc_row)[3] += s_ * x3;                                                                            \
    } while (0)

int headgemm_fits(size_t hs) { return hs > 0 && hs % LANES == 0; }

size_t headgemm_packed_stride(size_t n) { return (n + LANES - 1) / LANES * LANES + LANES; }

void headgemm_pack_t(scalar *xt, size_t stride, const scalar *x, size_t ldx, size_t n, size_t hs) {
    for (size_t d = 0; d < hs; d++) {
        scalar *row = xt + d * stride;
        for (size_t j = 0; j < n; j++) row[j] = x[j * ldx + d];
        for (size_t j = n; j < stride; j++) row[j] = 0;
    }
}

/* TILE(R, V) for a tile of `vecs` vectors: a full one (tile_rows(vecs) rows) or one row. */
#define DISPATCH(TILE, vecs, full)                                                                                     \
    switch ((vecs) + ((full) ? 0 : TILE_VECS)) {                                                                       \
    case 1: TILE(8, 1); break;                                                                                         \
    case 2: TILE(8, 2); break;                                                                                         \
    case 3: TILE(4, 3); break;                                                                                         \
    case 4: TILE(4, 4); break;                                                                                         \
    case 5: TILE(1, 1); break;                                                                                         \
    case 6: TILE(1, 2); break;                                                                                         \
    case 7: TILE(1, 3); break;                                                                                         \
    default: TILE(1, 4); break;                                                                                        \
    }

/* c[r][0, cols) = alpha · Σ_d a[r][d] · bt[d][0, cols), r < R, cols <= V·LANES: the
 * columns past cols are computed (bt is padded) but not stored. */
INLINE void a_bt_tile(scalar *c, size_t ldc, scalar alpha, const scalar *a, size_t lda, const scalar *bt,
                      size_t ldbt, size_t hs, size_t cols, const int R, const int V) {
    vec acc[TILE_ROWS][TILE_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = splat(0);
    for (size_t d = 0; d < hs; d++) {
        const scalar *row = bt + d * ldbt;
        LOAD_ROW(row);
        for (int r = 0; r < R; r++) FMA_ROW(acc[r], splat(a[(size_t)r * lda + d]));
    }
    if (cols == (size_t)V * LANES) {
        for (int r = 0; r < R; r++)
            for (int v = 0; v < V; v++) store(c + (size_t)r * ldc + (size_t)v * LANES, acc[r][v] * alpha);
        return;
    }
    /* the edge of the matrix: through a buffer, cols of each row */
    scalar edge[TILE_VECS * LANES];
    for (int r = 0; r < R; r++) {
        for (int v = 0; v < V; v++) store(edge + (size_t)v * LANES, acc[r][v] * alpha);
        memcpy(c + (size_t)r * ldc, edge, cols * sizeof *edge);
    }
}

#define A_BT_TILE(R, V) a_bt_tile(c + i * ldc + j, ldc, alpha, a + i * lda, lda, bt + j, ldbt, hs, cols, R, V)

void headgemm_a_bt(scalar *c, size_t ldc, scalar alpha, const scalar *a, size_t lda, const scalar *bt, size_t ldbt,
                   size_t m, size_t n, size_t hs) {
    for (size_t j = 0; j < n; j += TILE_VECS * LANES) {
        size_t cols = n - j < TILE_VECS * LANES ? n - j : TILE_VECS * LANES, vecs = (cols + LANES - 1) / LANES;
        for (size_t i = 0; i < m;) {
            const int full = m - i >= tile_rows(vecs);
            DISPATCH(A_BT_TILE, vecs, full);
            i += full ? tile_rows(vecs) : 1;
        }
    }
}

/* c[r][0, V·LANES) = (accumulate ? c : 0) + alpha · Σ_k p[r·prs + k·pks] · x[k][0, V·LANES),
 * r < R, k < n. With (prs, pks) = (ldp, 1) p is read by rows, with (1, ldp) by columns
 * (pᵀ). */
INLINE void p_x_tile(scalar *c, size_t ldc, int accumulate, scalar alpha, const scalar *p, size_t prs, size_t pks,
                     const scalar *x, size_t ldx, size_t n, const int R, const int V) {
    vec acc[TILE_ROWS][TILE_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = splat(0);
    for (size_t k = 0; k < n; k++) {
        const scalar *row = x + k * ldx;
        LOAD_ROW(row);
        for (int r = 0; r < R; r++) FMA_ROW(acc[r], splat(p[(size_t)r * prs + k * pks]));
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            scalar *out = c + (size_t)r * ldc + (size_t)v * LANES;
            vec y = acc[r][v] * alpha;
            store(out, accumulate ? load(out) + y : y);
        }
}

#define P_X_TILE(R, V) p_x_tile(c + i * ldc + d, ldc, accumulate, alpha, p + i * prs, prs, pks, x + d, ldx, n, R, V)

/* c (m, hs) = [c +] alpha · Σ_k p[i·prs + k·pks] · x[k], k < n: both public products. */
static void p_x(scalar *c, size_t ldc, int accumulate, scalar alpha, const scalar *p, size_t prs, size_t pks,
                const scalar *x, size_t ldx, size_t m, size_t n, size_t hs) {
    for (size_t d = 0; d < hs; d += TILE_VECS * LANES) {
        size_t vecs = (hs - d) / LANES < TILE_VECS ? (hs - d) / LANES : TILE_VECS;
        for (size_t i = 0; i < m;) {
            const int full = m - i >= tile_rows(vecs);
            DISPATCH(P_X_TILE, vecs, full);
            i += full ? tile_rows(vecs) : 1;
        }
    }
}

void headgemm_p_x(scalar *c, size_t ldc, int accumulate, scalar alpha, const scalar *p, size_t ldp, const scalar *x,
                  size_t ldx, size_t m, size_t n, size_t hs) {
    p_x(c, ldc, accumulate, alpha, p, ldp, 1, x, ldx, m, n, hs);
}

void headgemm_pt_x(scalar *c, size_t ldc, scalar alpha, const scalar *p, size_t ldp, const scalar *x, size_t ldx,
                   size_t m, size_t n, size_t hs) {
    /* output rows are p's columns (n of them), the sum runs over p's m rows */
    p_x(c, ldc, 1, alpha, p, 1, ldp, x, ldx, n, m, hs);
}
