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
    nn_size parts = nn3_parts(O, 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(O, parts, t), hi = nn3_part_lo(O, parts, t + 1);
        S(gemm_rm)(gemm, 0, 0, nb, hi - lo, I, scale, x, I, w + lo, O, 0, z + lo, O);
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* dx (nb, I) = dz (nb, O) @ w^T (O, I) (overwritten).  Work: column slices of dx. */
void S(nn3_dense_backward_x)(GEMM_T gemm, const real *dz, const real *w, real *dx, nn_size nb, nn_size I,
                             nn_size O, int max_parts) {
    nn_size parts = nn3_parts(I, 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        S(gemm_rm)(gemm, 0, 1, nb, hi - lo, O, 1, dz, O, w + lo * O, O, 0, dx + lo, I);
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* gw (I, O) = beta gw + alpha x^T (I, nb) @ dz (nb, O).
 * alpha 1, beta 0: the weight gradient; gw = w, alpha -eta, beta 1: the SGD step.
 * Work: row slices of gw. */
void S(nn3_dense_backward_w)(GEMM_T gemm, const real *x, const real *dz, real *gw, real alpha, real beta,
                             nn_size nb, nn_size I, nn_size O, int max_parts) {
    nn_size parts = nn3_parts(I, 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        S(gemm_rm)(gemm, 1, 0, hi - lo, O, nb, alpha, x + lo, I, dz, O, beta, gw + lo * O, O);
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
