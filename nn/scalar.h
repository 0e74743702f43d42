/* scalar: the element type of every nn/ buffer.
 *
 * Training runs in float. The finite-difference tests compile the same layer sources a
 * second time with -DNN_DOUBLE, so each backward pass is checked in double precision
 * against central differences of its own forward pass (tests/unit/fd_*.c). The BLAS
 * call follows the type. */
#ifndef TESSERA_SCALAR_H
#define TESSERA_SCALAR_H

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <stddef.h>

#ifdef NN_DOUBLE
typedef double scalar;
#define cblas_gemm cblas_dgemm
#define cblas_gemv cblas_dgemv
#define SCALAR_NAME "double"
#else
typedef float scalar;
#define cblas_gemm cblas_sgemm
#define cblas_gemv cblas_sgemv
#define SCALAR_NAME "float"
#endif

/* BLAS takes int dimensions; every product of ours must fit (asserted, not silently cut). */
static inline int blas_int(size_t n) {
    assert(n <= INT_MAX);
    return (int)n;
}

#endif
