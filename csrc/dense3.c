/* network3's fully connected products (FullyConnectedLayer and SoftmaxLayer): the book's x·w layout.
 *
 * Shapes: x (nb, I), w (I, O), z / dz (nb, O), dx (nb, I).  Bias and activation are bias_act.c's
 * and softmax.c's; dropout is dropout.c's.  Each product is cut into at most max_parts BLAS calls
 * over independent output slices (nn3_parts), the same cut for any thread count.
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"
#define NN_TMPL "dense3.c"
#include "tmpl.h"
#else
#include "gemm_rm.h"

/* z (nb, O) = scale x (nb, I) @ w (I, O)   (scale 1 - p on the evaluation path).  Work: column slices. */
void S(nn3_dense_forward)(GEMM_T gemm, const real *x, const real *w, real *z, real scale, nn_size nb, nn_size I,
                          nn_size O, int max_parts) {
    S(gemm_parts)(gemm, 0, 0, 0, nb, O, I, scale, x, I, w, O, 0, z, O, 16, max_parts);
}

/* dx (nb, I) = dz (nb, O) @ w^T (O, I) (overwritten).  Work: column slices of dx. */
void S(nn3_dense_backward_x)(GEMM_T gemm, const real *dz, const real *w, real *dx, nn_size nb, nn_size I,
                             nn_size O, int max_parts) {
    S(gemm_parts)(gemm, 0, 1, 0, nb, I, O, 1, dz, O, w, O, 0, dx, I, 16, max_parts);
}

/* gw (I, O) = beta gw + alpha x^T (I, nb) @ dz (nb, O).
 * alpha 1, beta 0: the weight gradient; gw = w, alpha -eta, beta 1: the SGD step.
 * Work: row slices of gw. */
void S(nn3_dense_backward_w)(GEMM_T gemm, const real *x, const real *dz, real *gw, real alpha, real beta,
                             nn_size nb, nn_size I, nn_size O, int max_parts) {
    S(gemm_parts)(gemm, 1, 0, 1, I, O, nb, alpha, x, I, dz, O, beta, gw, O, 16, max_parts);
}
#endif
