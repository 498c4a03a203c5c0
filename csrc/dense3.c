/* The fully connected operation of every network (network3's FullyConnectedLayer and SoftmaxLayer,
 * every layer of network and network2), in network3's x·w layout (network's weights are views of
 * its transposes).
 *
 * Shapes: x (nb, I), w (I, O), z / dz (nb, O), dx (nb, I).  Bias and activation are bias_act.c's
 * and softmax.c's; dropout's mask is dropout.c's.  Each pass is cut into at most max_parts slices of
 * w's rows (nn3_parts over the inputs), the same cut for any thread count and in both passes, so
 * that a thread works on the same rows of w forward and backward; the forward pass adds its parts'
 * products after a barrier, with bias and activation (two barriers; one for a layer of one part),
 * the backward pass needs no sum across parts and runs the elementwise steps of the layer on each
 * slice inside its loop (one).  Large mini-batches of narrow layers go forward in chunks of rows
 * instead (fc_by_rows).
 * The products go to BLAS, or by shape (fc_small below) to the register-blocked small-batch
 * kernels of dense_impl.h (nn_fc3_*, dense_fc3.h); the first layer's forward product and step, where
 * its inputs are mostly zeros (sparse: net3.c's first layer; nn3_sparse_density below), to the
 * kernels of dense_sparse.h (nn_sparse_*).
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

/* The first layer goes through dense_sparse.h's kernels where at most this share of a slice of its
 * inputs is nonzero (measured, network [784,100,10], one thread, seconds per epoch, dense products
 * against the sparse kernels: MNIST, 19% nonzero: 0.57 against 0.45 at mini-batch 10 float64, 0.26
 * against 0.20 at 100 float32, 0.59 against 0.42 at 1000 float64; Fashion-MNIST, 50% nonzero: 0.57
 * against 0.71 and 0.25 against 0.33).  40%, not 30%: MNIST's central slices are 29% nonzero on
 * average, and at 30% a third of them went dense; 0.94x to 1.00x the time at mini-batch 10, 0.94x to
 * 0.99x at 100 and 1000 (alternated processes, medians of three). */
double nn3_sparse_density = NN3_SPARSE_DENSITY;

void nn3_set_sparse(double density) { nn3_sparse_density = density; }

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

/* 1 when the n numbers of v are finite. */
static inline int S(finite_row)(const real *v, nn_size n) {
    real s = 0;
    for (nn_size j = 0; j < n; j++) s += v[j] - v[j];   /* 0, or NaN from an inf or NaN */
    return s == 0;
}

/* Large mini-batches (at least 2 NN3_FC_ROWS rows) of narrow layers (at most 64 units) go through
 * the products in chunks of NN3_FC_ROWS rows: the forward pass cut over rows (each chunk's product
 * over all inputs, then its rows' bias and activation while they are in cache: one barrier, no parts
 * to add), the weight gradient of a slice of w's rows summed chunk after chunk into w (beta 1).  A
 * chunk's products fit BLAS's small-matrix kernels, which do not pack their operands.  The evaluation
 * path (no backward pass, nothing to keep on one thread) cuts every width by rows, wider layers in
 * chunks of NN3_FC_EVAL_ROWS float64 rows (twice as many float32 ones), where BLAS packs w once per
 * chunk: network2's evaluation of [784,100,10] over 50,000 MNIST rows took 0.99x to 1.03x the time of
 * the separate evaluation loop it replaced in float64 (1.12x to 1.26x with chunks of 32 rows), 0.99x
 * to 1.10x in float32, one and two threads (alternated processes, best of 7 calls).  Measured
 * (network, [784,30,10], mini-batch 1000, MNIST, alternated processes): 0.81x the time of the cut
 * over the inputs (float64, one thread, two runs each); chunks of 32 rows 0.84x to 0.90x the time
 * of chunks of 64 (float64 and float32, one and two threads, medians of 3), and the gradient in
 * chunks of 32 rows 0.93x to 0.98x the time of chunks of 128.  Wider layers (784 x 100) at
 * mini-batch 100 took 1.12x to 1.22x the time of the previous build cut by rows, 0.91x to 1.03x
 * cut over the inputs (two runs against that build). */
#ifndef NN3_FC_ROWS
#define NN3_FC_ROWS 32
#endif
#ifndef NN3_FC_EVAL_ROWS
#define NN3_FC_EVAL_ROWS 256
#endif
static inline int S(fc_by_rows)(nn_size nb, nn_size O, int eval) {
    return nb >= 2 * NN3_FC_ROWS && (O <= 64 || eval);
}

/* Row r of a fully connected layer's output from its parts' products: z = scale (zp[0] + zp[1] + ...)
 * in part order (one part: z holds the product), then bias and activation, or softmax (act NN_SOFTMAX).
 * An output layer (dz not NULL) also makes its dL/dz: softmax.c's (labels y or target rows tgt), or,
 * under a sigmoid output, cost.c's for the book's cost against tgt.  nonfinite (when not NULL) is set
 * to 1 when z or dz holds an inf or a NaN. */
static void S(fc_row)(real *z, const real *zp, real *a, const real *b, int act, real scale, const int64_t *y,
                      const real *tgt, int cost, real *loss, real *dz, int *nonfinite, nn_size nb, nn_size O,
                      nn_size parts, nn_size r) {
    real *zr = z + r * O, *ar = a + r * O;
    if (parts > 1) {
        const real *z0 = zp + r * O;
        for (nn_size j = 0; j < O; j++) zr[j] = z0[j];
        for (nn_size t = 1; t < parts; t++) {
            const real *zt = zp + (t * nb + r) * O;
            for (nn_size j = 0; j < O; j++) zr[j] += zt[j];
        }
    }
    if (scale != 1)
        for (nn_size j = 0; j < O; j++) zr[j] *= scale;
    if (act == NN_SOFTMAX) {
        S(nn3_softmax_rows)(z, a, b, y, tgt, loss, dz, nb, O, r, r + 1);
    } else {
        S(nn3_bias_act_cols)(zr, ar, b, act, 1, O, 0, O);
        if (dz) S(nn3_cost_backward)(cost, act, zr, ar, tgt + r * O, dz + r * O, (real)1 / (real)nb, O);
    }
    if (nonfinite && (!S(finite_row)(zr, O) || (dz && !S(finite_row)(dz + r * O, O)))) *nonfinite = 1;
}

/* A fully connected layer's forward pass: z (nb, O) = scale x @ w, then z += b and a = act(z), row by
 * row.  act NN_SOFTMAX: a softmax layer (softmax.c's rows, with the cost into loss and dL/dz into dz
 * when y is given).  The product is cut over the inputs, into the slices of w's rows that the
 * backward pass (nn3_fc_backward) gives each thread: zp[t] (nb, O) = x[:, lo:hi] w[lo:hi] for part t,
 * then, after a barrier, z = scale (zp[0] + zp[1] + ...) in part order, rows shared out with their bias
 * and activation.  A thread so reads and writes only its own rows of w in both passes; cut over z's
 * columns instead, the forward pass read every row, and each mini-batch moved the w the other thread
 * had updated from its core's cache to this one's and back (MEASURED: conv1's 2880 x 100 layer at
 * mini-batch 10 took as long on two threads as on one).  The parts are fixed by the shape (nn3_parts,
 * as the backward pass's), so the sums are the same for any thread count.  Layers of fewer than
 * NN3_FC_SPLIT_MACS multiply-adds (a softmax layer of 100 x 10) are one part: z directly, and the
 * thread that makes it finishes its rows, with one barrier.  Each part goes to BLAS, or by shape
 * (fc_small) to the small-batch kernels. */
#define NN3_FC_SPLIT_MACS 65536.0
void S(nn3_fc_forward)(GEMM_T gemm, const real *x, const real *w, const real *b, real *z, real *zp, real *a, int act,
                       real scale, const int64_t *y, const real *tgt, int cost, real *loss, real *dz,
                       int *nonfinite, int eval, int sparse, nn_size nb, nn_size I, nn_size O,
                       int max_parts) {
    const int small = S(fc_small)(nb, I, O);
    const nn_size parts = (double)nb * (double)I * (double)O < NN3_FC_SPLIT_MACS ? 1 : nn3_parts(I, 16, max_parts);
    if (S(fc_by_rows)(nb, O, eval)) {
        const nn_size rows = eval && O > 64 ? NN3_FC_EVAL_ROWS * 8 / (nn_size)sizeof(real) : NN3_FC_ROWS;
        const nn_size chunks = (nb + rows - 1) / rows;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size c = 0; c < chunks; c++) {
            const nn_size r0 = c * rows, r1 = nb - r0 < rows ? nb : r0 + rows;
            if (!sparse || !nn_sparse_forward(DTYPE, x + r0 * I, I, w, z + r0 * O, r1 - r0, O, 0, I, nn3_sparse_density))
                S(gemm_rm)(gemm, 0, 0, r1 - r0, O, I, 1, x + r0 * I, I, w, O, 0, z + r0 * O, O);
            for (nn_size r = r0; r < r1; r++)
                S(fc_row)(z, zp, a, b, act, scale, y, tgt, cost, loss, dz, nonfinite, nb, O, 1, r);
        }
        nn_sync();   /* the loop's barrier, timed */
        return;
    }
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        const nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        real *zt = parts == 1 ? z : zp + t * nb * O;
        if (sparse && nn_sparse_forward(DTYPE, x, I, w, zt, nb, O, lo, hi, nn3_sparse_density))
            ;
        else if (small)
            nn_fc3_forward(DTYPE, x + lo, I, w + lo * O, zt, 1, nb, hi - lo, O, 0, O);
        else
            S(gemm_rm)(gemm, 0, 0, nb, O, hi - lo, 1, x + lo, I, w + lo * O, O, 0, zt, O);
        if (parts == 1)   /* one part: its thread finishes the rows too (one barrier, not two) */
            for (nn_size r = 0; r < nb; r++)
                S(fc_row)(z, zp, a, b, act, scale, y, tgt, cost, loss, dz, nonfinite, nb, O, 1, r);
    }
    nn_sync();   /* the loop's barrier, timed */
    if (parts == 1) return;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++)
        S(fc_row)(z, zp, a, b, act, scale, y, tgt, cost, loss, dz, nonfinite, nb, O, parts, r);
    nn_sync();   /* the loop's barrier, timed */
}

/* Rows of w per block of the small-batch SGD step (nn3_fc_backward): about 64 KB of w, an even
 * number (update_units works on pairs of rows), so that the block stays in L2 between the input
 * gradient that reads it and the update that rewrites it. */
static inline nn_size S(fc_block)(nn_size O) {
    nn_size rows = (nn_size)((64 << 10) / ((size_t)O * sizeof(real))) & ~(nn_size)1;
    return rows < 2 ? 2 : rows;
}

/* v[i] -= decay R(w[i]) for i in [lo, hi): the regularisation step, R(w) = w (L2) or sgn(w) (L1); v is
 * w itself, or its velocity under momentum. */
static inline void S(decay_range)(real *v, const real *w, real decay, int l1, nn_size lo, nn_size hi) {
    if (l1)
        for (nn_size i = lo; i < hi; i++) v[i] -= decay * (real)((w[i] > 0) - (w[i] < 0));
    else
        for (nn_size i = lo; i < hi; i++) v[i] -= decay * w[i];
}

/* A fully connected layer's backward pass and SGD step in one loop over slices [lo, hi) of its
 * inputs (rows of w), given dz (nb, O) = dL/dz:
 *   db[n] = sum_r dz[r, n] for the slice's share of the O units;
 *   dx[:, lo:hi] = dz w[lo:hi]^T (when dx is not NULL), times mask (dropout, when not NULL), then
 *   turned in place into the layer below's dL/dz by act_below (z_below, a_below: bias_act.c);
 *   dw[lo:hi] = x[:, lo:hi]^T dz;
 * and the step's rule (net3.h's nn3_step): into gw, gb (step->update 0), or onto w, b, with the
 * velocities vw, vb under momentum.  A slice's input gradient reads only its own rows of w, so the
 * thread that updates them has read them first: no barrier between the products.  On the
 * small-batch kernels the step goes through the slice in blocks of fc_block rows, each read for dx
 * and then updated while it is in cache (w comes from memory once, not twice: at mini-batch 10 the
 * layer is bound by it).  Every number is the same to the bit as running the steps one after
 * another as whole-matrix passes (same BLAS calls, same kernels and elementwise operations on each
 * element, whatever the blocks). */
void S(nn3_fc_backward)(GEMM_T gemm, const real *dz, const real *x, real *w, real *b, real *gw, real *gb, real *vw,
                        real *vb, const nn3_step *step, real *dx, const real *mask, int act_below,
                        const real *z_below, const real *a_below, int sparse, nn_size nb, nn_size I,
                        nn_size O, int max_parts) {
    const nn_size parts = nn3_parts(I, 16, max_parts);
    const int upd = step->update, mom = upd && step->mu > 0 && vw, small = S(fc_small)(nb, I, O);
    const real eta = (real)step->eta, decay = upd ? (real)step->decay : 0, mu = (real)step->mu;
    /* the matrix the product x^T dz goes into (beta 1: onto it, times alpha) */
    real *acc = mom ? vw : upd ? w : gw, *accb = mom ? vb : upd ? b : gb;
    const real alpha = upd ? -eta : 1, beta = upd ? 1 : 0;
    const nn_size block = upd && small && !sparse ? S(fc_block)(O) : I;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        const nn_size lo = nn3_part_lo(I, parts, t), hi = nn3_part_lo(I, parts, t + 1);
        const nn_size olo = nn3_part_lo(O, parts, t), ohi = nn3_part_lo(O, parts, t + 1);
        S(nn3_bias_backward_range)(dz, accb, alpha, mom ? mu : beta, nb, O, 1, olo, ohi);
        if (mom)
            for (nn_size n = olo; n < ohi; n++) b[n] += vb[n];
        for (nn_size j = lo; j < hi; j += block) {   /* rows [j, j1) of w */
            nn_size j1 = hi - j < block ? hi : j + block;
            if (dx) {
                if (small)
                    nn_fc3_backward_x(DTYPE, dz, w, dx, nb, I, O, j, j1);
                else
                    S(gemm_rm)(gemm, 0, 1, nb, j1 - j, O, 1, dz, O, w + j * O, O, 0, dx + j, I);
                if (mask) S(nn3_dropout_backward_cols)(dx, mask, nb, I, j, j1);
                if (z_below) S(nn3_act_backward_cols)(dx, z_below, a_below, act_below, nb, I, j, j1);
            }
            if (mom)   /* v = mu v - decay R(w), then v -= eta dw below, then w += v */
                for (nn_size i = j * O; i < j1 * O; i++) vw[i] *= mu;
            if (decay != 0) S(decay_range)(mom ? vw : w, w, decay, step->l1, j * O, j1 * O);
            if (upd && sparse && nn_sparse_update(DTYPE, x, I, dz, acc, alpha, nb, O, j, j1, nn3_sparse_density))
                ;
            else if (upd && small)
                nn_fc3_update(DTYPE, x, dz, acc, eta, nb, I, O, j, j1);
            else if (S(fc_by_rows)(nb, O, 0))
                for (nn_size r0 = 0; r0 < nb; r0 += NN3_FC_ROWS)
                    S(gemm_rm)(gemm, 1, 0, j1 - j, O, nb - r0 < NN3_FC_ROWS ? nb - r0 : NN3_FC_ROWS, alpha,
                               x + r0 * I + j, I, dz + r0 * O, O, r0 ? 1 : beta, acc + j * O, O);
            else
                S(gemm_rm)(gemm, 1, 0, j1 - j, O, nb, alpha, x + j, I, dz, O, beta, acc + j * O, O);
            if (mom)
                for (nn_size i = j * O; i < j1 * O; i++) w[i] += vw[i];
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
