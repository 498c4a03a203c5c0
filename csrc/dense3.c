/* network3's fully connected layers (FullyConnectedLayer and SoftmaxLayer): the book's x·w layout.
 *
 * Shapes: x (nb, I), w (I, O), z / dz (nb, O), dx (nb, I).  Bias and activation are bias_act.c's
 * and softmax.c's; dropout's mask is dropout.c's.  Each product is cut into at most max_parts BLAS
 * calls over independent output slices (nn3_parts), the same cut for any thread count, and the
 * elementwise steps of the layer run on each slice inside the same loop: one barrier per pass.
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"
#define NN_TMPL "dense3.c"
#include "tmpl.h"
#else
#include "gemm_rm.h"

/* A fully connected layer's forward pass: z (nb, O) = scale x @ w, then, when b is not NULL,
 * z += b and a = act(z) on each column slice right after its product (no pass or barrier of its
 * own; a softmax layer passes b NULL and runs softmax.c's rows after).  Work: column slices of
 * z, at least 16 wide. */
void S(nn3_fc_forward)(GEMM_T gemm, const real *x, const real *w, const real *b, real *z, real *a, int act,
                       real scale, nn_size nb, nn_size I, nn_size O, int max_parts) {
    nn_size parts = nn3_parts(O, 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(O, parts, t), hi = nn3_part_lo(O, parts, t + 1);
        S(gemm_rm)(gemm, 0, 0, nb, hi - lo, I, scale, x, I, w + lo, O, 0, z + lo, O);
        if (b) S(nn3_bias_act_cols)(z, a, b, act, nb, O, lo, hi);
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* A fully connected layer's backward pass and SGD step in one loop over slices [lo, hi) of its
 * inputs (rows of w), given dz (nb, O) = dL/dz:
 *   gb[n] = beta gb[n] + alpha sum_r dz[r, n] for the slice's share of the O units;
 *   dx[:, lo:hi] = dz w[lo:hi]^T (when dx is not NULL), times mask (dropout, when not NULL), then
 *   turned in place into the layer below's dL/dz by act_below (z_below, a_below: bias_act.c);
 *   w[lo:hi] -= l2 w[lo:hi] (l2 != 0: the L2 step), then gw[lo:hi] = beta gw + alpha x[:, lo:hi]^T dz.
 * A slice's input gradient reads only its own rows of w, so the thread that updates them has read
 * them first: no barrier between the products.  Every number is the same to the bit as running the
 * steps one after another as whole-matrix passes (same BLAS calls, same elementwise operations).
 * alpha 1, beta 0, l2 0: the gradients into gw, gb; alpha -eta, beta 1, gw = w, gb = b: the step. */
void S(nn3_fc_backward)(GEMM_T gemm, const real *dz, const real *x, real *w, real *gw, real *gb, real alpha,
                        real beta, real l2, real *dx, const real *mask, int act_below, const real *z_below,
                        const real *a_below, nn_size nb, nn_size I, nn_size O, int max_parts) {
    nn_size parts = nn3_parts(I, 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        S(nn3_bias_backward_range)(dz, gb, alpha, beta, nb, O, 1, nn3_part_lo(O, parts, t), nn3_part_lo(O, parts, t + 1));
        if (dx) {
            S(gemm_rm)(gemm, 0, 1, nb, hi - lo, O, 1, dz, O, w + lo * O, O, 0, dx + lo, I);
            if (mask)
                for (nn_size r = 0; r < nb; r++)
                    for (nn_size i = lo; i < hi; i++) dx[r * I + i] *= mask[r * I + i];
            if (z_below) S(nn3_act_backward_cols)(dx, z_below, a_below, act_below, nb, I, lo, hi);
        }
        if (l2 != 0)
            for (nn_size i = lo * O; i < hi * O; i++) gw[i] -= l2 * gw[i];
        S(gemm_rm)(gemm, 1, 0, hi - lo, O, nb, alpha, x + lo, I, dz, O, beta, gw + lo * O, O);
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
