/* scalar: the element type of every nn/ buffer.
 *
 * Training runs in float. The finite-difference tests compile the same layer sources a
 * second time with -DNN_DOUBLE, so each backward pass is checked in double precision
 * against central differences of its own forward pass (tests/unit/fd_*.c). The BLAS
 * call follows the type. */
#ifndef TESSERA_SCALAR_H
#define TESSERA_SCALAR_H

#include <cblas.h>

#ifdef NN_DOUBLE
typedef double scalar;
#define cblas_gemm cblas_dgemm
#define SCALAR_NAME "double"
#else
typedef float scalar;
#define cblas_gemm cblas_sgemm
#define SCALAR_NAME "float"
#endif

#endif
