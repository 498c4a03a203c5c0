/* Bias plus activation, fused: forward z = x + b, a = act(z) in place; backward dz and the bias step.
 *
 * Shapes: z, a, da, dz (nb, N, S_): N channels with one bias each (filters of a conv layer, with
 * S_ = Q pooled positions; units of a fully connected layer, with S_ = 1).
 * Compiled for float and double (see conv.c).
 */
#ifndef NN3_BODY
#define NN3_BODY
#include "net3.h"
#include "activations.h"
#define real float
#define S(name) name##_f
#define ACT nn_act_f
#define ACT_PRIME nn_act_prime_f
#include "bias_act.c"
#undef real
#undef S
#undef ACT
#undef ACT_PRIME
#define real double
#define S(name) name##_d
#define ACT nn_act_d
#define ACT_PRIME nn_act_prime_d
#include "bias_act.c"
#else

/* z[r, n, s] += b[n]; a = act(z).  Work: rows. */
void S(nn3_bias_act_forward)(real *z, real *a, const real *b, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static)
#endif
    for (nn_size r = 0; r < nb; r++)
        for (nn_size n = 0; n < N; n++) {
            real *zr = z + (r * N + n) * S_, *ar = a + (r * N + n) * S_, bn = b[n];
            for (nn_size s = 0; s < S_; s++) {
                zr[s] += bn;
                ar[s] = ACT(act, zr[s]);
            }
        }
}

/* dz = da * act'(z, a);  gb[n] = beta gb[n] + alpha sum_{r,s} dz[r, n, s] (rows summed in order).
 * Work: rows for dz, then channels for gb; gb may be the bias itself (alpha -eta, beta 1: the SGD step). */
void S(nn3_bias_act_backward)(const real *da, const real *z, const real *a, real *dz, real *gb, real alpha,
                              real beta, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static)
#endif
    for (nn_size r = 0; r < nb; r++)
        for (nn_size i = r * N * S_; i < (r + 1) * N * S_; i++) dz[i] = da[i] * ACT_PRIME(act, z[i], a[i]);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static)
#endif
    for (nn_size n = 0; n < N; n++) {
        real sum = 0;
        for (nn_size r = 0; r < nb; r++)
            for (nn_size s = 0; s < S_; s++) sum += dz[(r * N + n) * S_ + s];
        gb[n] = beta * gb[n] + alpha * sum;
    }
}
#endif
