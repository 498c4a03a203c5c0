/* network3's fully connected layers (FullyConnectedLayer and SoftmaxLayer): the book's x·w layout.
 *
 * Shapes: x (nb, I), w (I, O), z / dz (nb, O), dx (nb, I).  Bias and activation are bias_act.c's
 * and softmax.c's; dropout's mask is dropout.c's.  Each product is cut into at most max_parts BLAS
 * calls over independent output slices (nn3_parts), the same cut for any thread count, and the
 * elementwise steps of the layer run on each slice inside the same loop: one barrier per pass.
 * The products go to BLAS, or by shape (fc_small below) to the small-batch kernels network and
 * network2 train with (nn_fc3_*, dense_fc3.h).
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"

int nn3_fc_small_rows = NN3_FC_SMALL_ROWS;
double nn3_fc_small_macs = NN3_FC_SMALL_MACS;

void nn3_set_fc_small(int rows, double macs) {
    nn3_fc_small_rows = rows < 0 ? 0 : rows > 64 ? 64 : rows;
    nn3_fc_small_macs = macs;
}

#define NN_TMPL "dense3.c"
#include "tmpl.h"
#else
#include "gemm_rm.h"
#define DTYPE (sizeof(real) == sizeof(float))   /* dense.h's NN_F32 (1) or NN_F64 (0) */

/* The small-batch kernels or BLAS, by shape (measured on an AVX-512 Xeon, float32, mini-batch 10, one
 * thread): OpenBLAS's small-matrix kernels (AVX-512, no packing) win below about 4 million
 * multiply-adds (784x100: 0.40 against 0.64 s per epoch of the fc net); above, where BLAS packs w
 * on every call, the kernels that stream it once win (the dropout net's 640x1000 and 1000x1000
 * layers: 29.9 against 32.3 s). */
static inline int S(fc_small)(nn_size nb, nn_size I, nn_size O) {
    return nb <= nn3_fc_small_rows && (double)nb * (double)I * (double)O >= nn3_fc_small_macs;
}

/* A fully connected layer's forward pass: z (nb, O) = scale x @ w, then z += b and a = act(z) on
 * each slice right after its product (no pass or barrier of its own).  act NN_SOFTMAX: a softmax
 * layer (softmax.c's rows, with the cost into loss and dL/dz into dz when y is given), inside the
 * loop when one part holds the whole matrix, else as its own pass.  Work: column slices of z, at
 * least 16 wide (BLAS), or at least 64 wide and cut at multiples of 16 (small-batch kernels: a
 * thread streams only its slice of w). */
void S(nn3_fc_forward)(GEMM_T gemm, const real *x, const real *w, const real *b, real *z, real *a, int act,
                       real scale, const int64_t *y, real *loss, real *dz, nn_size nb, nn_size I, nn_size O,
                       int max_parts) {
    int small = S(fc_small)(nb, I, O), softmax = act == NN_SOFTMAX;
    nn_size parts = nn3_parts(O, small ? 64 : 16, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(O, parts, t), hi = nn3_part_lo(O, parts, t + 1);
        if (small) {
            lo = t == 0 ? 0 : lo & ~(nn_size)15;
            hi = t + 1 == parts ? O : hi & ~(nn_size)15;
            nn_fc3_forward(DTYPE, x, w, z, scale, nb, I, O, lo, hi);
        } else {
            S(gemm_rm)(gemm, 0, 0, nb, hi - lo, I, scale, x, I, w + lo, O, 0, z + lo, O);
        }
        if (!softmax)
            S(nn3_bias_act_cols)(z, a, b, act, nb, O, lo, hi);
        else if (parts == 1)
            S(nn3_softmax_rows)(z, a, b, y, loss, dz, nb, O, 0, nb);
    }
    nn_sync();   /* the loop's barrier, timed */
    if (softmax && parts > 1) S(nn3_softmax_forward_dz)(z, a, b, y, loss, dz, nb, O);
}

/* Rows of w per block of the small-batch SGD step (nn3_fc_backward): about 64 KB of w, an even
 * number (update_units works on pairs of rows), so that the block stays in L2 between the input
 * gradient that reads it and the update that rewrites it. */
static inline nn_size S(fc_block)(nn_size O) {
    nn_size rows = (nn_size)((64 << 10) / ((size_t)O * sizeof(real))) & ~(nn_size)1;
    return rows < 2 ? 2 : rows;
}

/* A fully connected layer's backward pass and SGD step in one loop over slices [lo, hi) of its
 * inputs (rows of w), given dz (nb, O) = dL/dz:
 *   gb[n] = beta gb[n] + alpha sum_r dz[r, n] for the slice's share of the O units;
 *   dx[:, lo:hi] = dz w[lo:hi]^T (when dx is not NULL), times mask (dropout, when not NULL), then
 *   turned in place into the layer below's dL/dz by act_below (z_below, a_below: bias_act.c);
 *   w[lo:hi] -= l2 w[lo:hi] (l2 != 0: the L2 step), then gw[lo:hi] = beta gw + alpha x[:, lo:hi]^T dz.
 * A slice's input gradient reads only its own rows of w, so the thread that updates them has read
 * them first: no barrier between the products.  On the small-batch kernels the SGD step goes
 * through the slice in blocks of fc_block rows, each read for dx and then updated while it is in
 * cache (w comes from memory once, not twice: at mini-batch 10 the layer is bound by it).  Every
 * number is the same to the bit as running the steps one after another as whole-matrix passes
 * (same BLAS calls, same kernels and elementwise operations on each element, whatever the blocks).
 * alpha 1, beta 0, l2 0: the gradients into gw, gb; alpha -eta, beta 1, gw = w, gb = b: the step. */
void S(nn3_fc_backward)(GEMM_T gemm, const real *dz, const real *x, real *w, real *gw, real *gb, real alpha,
                        real beta, real l2, real *dx, const real *mask, int act_below, const real *z_below,
                        const real *a_below, nn_size nb, nn_size I, nn_size O, int max_parts) {
    nn_size parts = nn3_parts(I, 16, max_parts);
    int small = S(fc_small)(nb, I, O), step = small && beta == 1 && gw == w;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        nn_size block = step ? S(fc_block)(O) : hi - lo;
        S(nn3_bias_backward_range)(dz, gb, alpha, beta, nb, O, 1, nn3_part_lo(O, parts, t), nn3_part_lo(O, parts, t + 1));
        for (nn_size j = lo; j < hi; j += block) {   /* rows [j, j1) of w */
            nn_size j1 = hi - j < block ? hi : j + block;
            if (dx) {
                if (small)
                    nn_fc3_backward_x(DTYPE, dz, w, dx, nb, I, O, j, j1);
                else
                    S(gemm_rm)(gemm, 0, 1, nb, j1 - j, O, 1, dz, O, w + j * O, O, 0, dx + j, I);
                if (mask)
                    for (nn_size r = 0; r < nb; r++)
                        for (nn_size i = j; i < j1; i++) dx[r * I + i] *= mask[r * I + i];
                if (z_below) S(nn3_act_backward_cols)(dx, z_below, a_below, act_below, nb, I, j, j1);
            }
            if (l2 != 0)
                for (nn_size i = j * O; i < j1 * O; i++) gw[i] -= l2 * gw[i];
            if (step)
                nn_fc3_update(DTYPE, x, dz, w, -alpha, nb, I, O, j, j1);
            else
                S(gemm_rm)(gemm, 1, 0, j1 - j, O, nb, alpha, x + j, I, dz, O, beta, gw + j * O, O);
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
