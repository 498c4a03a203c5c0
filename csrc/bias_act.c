/* Bias plus activation, fused: forward z = x + b, a = act(z) in place; backward dz and the bias step.
 * Each comes as a whole-matrix kernel (omp for + timed barrier) and as pieces a caller runs on its
 * own slice inside a fused loop (_example, _cols, _range: no barrier).
 *
 * Shapes: z, a, da, dz (nb, N, S_): N channels with one bias each (filters of a conv layer, with
 * S_ = Q pooled positions; units of a fully connected layer, with S_ = 1).
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"
#define NN_TMPL "bias_act.c"
#include "tmpl.h"
#else

/* a[i] = act(z[i]) for i in [0, n).  One loop per activation, so each vectorises (activations.h's
 * functions, inlined). */
static inline void S(act_range)(const real *restrict z, real *restrict a, int act, nn_size n) {
    switch (act) {
    case NN_SIGMOID:
        for (nn_size i = 0; i < n; i++) a[i] = ACT(NN_SIGMOID, z[i]);
        break;
    case NN_TANH:
        for (nn_size i = 0; i < n; i++) a[i] = ACT(NN_TANH, z[i]);
        break;
    case NN_RELU:
        for (nn_size i = 0; i < n; i++) a[i] = ACT(NN_RELU, z[i]);
        break;
    default:
        for (nn_size i = 0; i < n; i++) a[i] = z[i];
    }
}

/* One example: z[n, s] += b[n]; a = act(z) for its N channels of S_ values, by the calling thread
 * alone (also pool.c's, on the maps it has just pooled). */
void S(nn3_bias_act_example)(real *z, real *a, const real *b, int act, nn_size N, nn_size S_) {
    for (nn_size n = 0; n < N; n++) {
        real *restrict zr = z + n * S_, bn = b[n];
        for (nn_size s = 0; s < S_; s++) zr[s] += bn;
        S(act_range)(zr, a + n * S_, act, S_);
    }
}

/* z[r, n, s] += b[n]; a = act(z).  Work: rows. */
void S(nn3_bias_act_forward)(real *z, real *a, const real *b, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) S(nn3_bias_act_example)(z + r * N * S_, a + r * N * S_, b, act, N, S_);
    nn_sync();   /* the loop's barrier, timed */
}

/* z[r, j] += b[j]; a = act(z) on the columns [lo, hi) of (nb, ld) matrices, by the calling thread
 * alone (a fully connected layer's forward pass, on the rows of z it has just summed). */
void S(nn3_bias_act_cols)(real *z, real *a, const real *b, int act, nn_size nb, nn_size ld, nn_size lo, nn_size hi) {
    for (nn_size r = 0; r < nb; r++) {
        real *restrict zr = z + r * ld;
        for (nn_size j = lo; j < hi; j++) zr[j] += b[j];
        S(act_range)(zr + lo, a + r * ld + lo, act, hi - lo);
    }
}

/* dz[i] = da[i] * act'(z[i], a[i]) for i in [lo, hi) (dz may be da). */
static inline void S(act_prime_range)(const real *da, const real *z, const real *a, real *dz, int act, nn_size lo,
                                      nn_size hi) {
    switch (act) {
    case NN_SIGMOID:
        for (nn_size i = lo; i < hi; i++) dz[i] = da[i] * (a[i] * (1 - a[i]));
        break;
    case NN_TANH:
        for (nn_size i = lo; i < hi; i++) dz[i] = da[i] * (1 - a[i] * a[i]);
        break;
    case NN_RELU:
        for (nn_size i = lo; i < hi; i++) dz[i] = z[i] > 0 ? da[i] : 0;
        break;
    default:
        if (dz != da)
            for (nn_size i = lo; i < hi; i++) dz[i] = da[i];
    }
}

/* dz = da * act'(z, a) over all nb rows of (nb, N*S_).  Work: rows. */
void S(nn3_act_backward)(const real *da, const real *z, const real *a, real *dz, int act, nn_size nb, nn_size N,
                         nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) S(act_prime_range)(da, z, a, dz, act, r * N * S_, (r + 1) * N * S_);
    nn_sync();   /* the loop's barrier, timed */
}

/* The same on the columns [lo, hi) of a (nb, ld) matrix, in place, by the calling thread alone
 * (a fully connected layer's backward pass, on the slice of its input gradient it just made). */
void S(nn3_act_backward_cols)(real *d, const real *z, const real *a, int act, nn_size nb, nn_size ld, nn_size lo,
                              nn_size hi) {
    for (nn_size r = 0; r < nb; r++) S(act_prime_range)(d, z, a, d, act, r * ld + lo, r * ld + hi);
}

/* gb[n] = beta gb[n] + alpha sum_{r,s} dz[r, n, s] for n in [lo, hi) (rows summed in order), by the
 * calling thread alone. */
void S(nn3_bias_backward_range)(const real *dz, real *gb, real alpha, real beta, nn_size nb, nn_size N, nn_size S_,
                                nn_size lo, nn_size hi) {
    if (S_ == 1) {   /* a fully connected layer: whole rows of dz into a block of sums (vectors of units) */
        real sum[256];
        for (nn_size n0 = lo; n0 < hi; n0 += 256) {
            const nn_size m = hi - n0 < 256 ? hi - n0 : 256;
            for (nn_size k = 0; k < m; k++) sum[k] = 0;
            for (nn_size r = 0; r < nb; r++)
                for (nn_size k = 0; k < m; k++) sum[k] += dz[r * N + n0 + k];
            for (nn_size k = 0; k < m; k++) gb[n0 + k] = beta * gb[n0 + k] + alpha * sum[k];
        }
        return;
    }
    for (nn_size n = lo; n < hi; n++) {
        real sum = 0;
        for (nn_size r = 0; r < nb; r++)
            for (nn_size s = 0; s < S_; s++) sum += dz[(r * N + n) * S_ + s];
        gb[n] = beta * gb[n] + alpha * sum;
    }
}

/* The same for every channel.  Work: channels. */
void S(nn3_bias_backward)(const real *dz, real *gb, real alpha, real beta, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size n = 0; n < N; n++) S(nn3_bias_backward_range)(dz, gb, alpha, beta, nb, N, S_, n, n + 1);
    nn_sync();   /* the loop's barrier, timed */
}

/* dz = da * act'(z, a);  gb[n] = beta gb[n] + alpha sum_{r,s} dz[r, n, s] (rows summed in order).
 * Work: rows for dz, then channels for gb; gb may be the bias itself (alpha -eta, beta 1: the SGD step). */
void S(nn3_bias_act_backward)(const real *da, const real *z, const real *a, real *dz, real *gb, real alpha,
                              real beta, int act, nn_size nb, nn_size N, nn_size S_) {
    S(nn3_act_backward)(da, z, a, dz, act, nb, N, S_);
    S(nn3_bias_backward)(dz, gb, alpha, beta, nb, N, S_);
}
#endif
