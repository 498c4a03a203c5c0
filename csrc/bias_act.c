/* Bias plus activation, fused: forward z = x + b, a = act(z) in place; backward dz and the bias step.
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

/* z[r, n, s] += b[n]; a = act(z).  Work: rows.  One loop per activation, so each vectorises
 * (activations.h's functions, inlined). */
void S(nn3_bias_act_forward)(real *z, real *a, const real *b, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++)
        for (nn_size n = 0; n < N; n++) {
            real *restrict zr = z + (r * N + n) * S_, *restrict ar = a + (r * N + n) * S_, bn = b[n];
            for (nn_size s = 0; s < S_; s++) zr[s] += bn;
            switch (act) {
            case NN_SIGMOID:
                for (nn_size s = 0; s < S_; s++) ar[s] = ACT(NN_SIGMOID, zr[s]);
                break;
            case NN_TANH:
                for (nn_size s = 0; s < S_; s++) ar[s] = ACT(NN_TANH, zr[s]);
                break;
            case NN_RELU:
                for (nn_size s = 0; s < S_; s++) ar[s] = ACT(NN_RELU, zr[s]);
                break;
            default:
                for (nn_size s = 0; s < S_; s++) ar[s] = zr[s];
            }
        }
    nn_sync();   /* the loop's barrier, timed */
}

/* dz = da * act'(z, a);  gb[n] = beta gb[n] + alpha sum_{r,s} dz[r, n, s] (rows summed in order).
 * Work: rows for dz, then channels for gb; gb may be the bias itself (alpha -eta, beta 1: the SGD step). */
void S(nn3_bias_act_backward)(const real *da, const real *z, const real *a, real *dz, real *gb, real alpha,
                              real beta, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) {
        nn_size lo = r * N * S_, hi = (r + 1) * N * S_;
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
            for (nn_size i = lo; i < hi; i++) dz[i] = da[i];
        }
    }
    nn_sync();   /* the loop's barrier, timed */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size n = 0; n < N; n++) {
        real sum = 0;
        for (nn_size r = 0; r < nb; r++)
            for (nn_size s = 0; s < S_; s++) sum += dz[(r * N + n) * S_ + s];
        gb[n] = beta * gb[n] + alpha * sum;
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
