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

/* GCC only if-converts the clamps below (and so vectorises the loops) without trapping math. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN3_VECTORISE __attribute__((optimize("no-trapping-math")))
#else
#define NN3_VECTORISE
#endif

/* exp for float without a libm call, so that loops of it vectorise: Cephes' expf polynomial
 * (about 1 ulp) on x clamped to [-87.3, 88.3] (results stay finite and normal), 2^n by bits. */
NN3_VECTORISE static inline float nn3_expf_fast(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round to nearest */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = ((int32_t)n + 127) << 23;
    return p * u.f;
}
NN3_VECTORISE static inline float nn3_sigmoid_fast(float z) { return 1.0f / (1.0f + nn3_expf_fast(-z)); }

#define real float
#define S(name) name##_f
#define ACT nn_act_f
#define ACT_PRIME nn_act_prime_f
#define ACT_SIGMOID nn3_sigmoid_fast
#include "bias_act.c"
#undef ACT_SIGMOID
#undef real
#undef S
#undef ACT
#undef ACT_PRIME
#define real double
#define S(name) name##_d
#define ACT nn_act_d
#define ACT_PRIME nn_act_prime_d
#define ACT_SIGMOID nn_sigmoid_d
#include "bias_act.c"
#else

/* z[r, n, s] += b[n]; a = act(z).  Work: rows.  One loop per activation, so each vectorises
 * (float sigmoid through a polynomial exp, ACT_SIGMOID; double keeps libm's exp). */
NN3_VECTORISE void S(nn3_bias_act_forward)(real *z, real *a, const real *b, int act, nn_size nb, nn_size N, nn_size S_) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++)
        for (nn_size n = 0; n < N; n++) {
            real *restrict zr = z + (r * N + n) * S_, *restrict ar = a + (r * N + n) * S_, bn = b[n];
            for (nn_size s = 0; s < S_; s++) zr[s] += bn;
            switch (act) {
            case NN_SIGMOID:
                for (nn_size s = 0; s < S_; s++) ar[s] = ACT_SIGMOID(zr[s]);
                break;
            case NN_TANH:
                for (nn_size s = 0; s < S_; s++) ar[s] = ACT(NN_TANH, zr[s]);
                break;
            case NN_RELU:
                for (nn_size s = 0; s < S_; s++) ar[s] = zr[s] > 0 ? zr[s] : 0;
                break;
            default:
                for (nn_size s = 0; s < S_; s++) ar[s] = zr[s];
            }
        }
    nn_sync();   /* the loop's barrier, timed */
}

/* dz = da * act'(z, a);  gb[n] = beta gb[n] + alpha sum_{r,s} dz[r, n, s] (rows summed in order).
 * Work: rows for dz, then channels for gb; gb may be the bias itself (alpha -eta, beta 1: the SGD step). */
NN3_VECTORISE void S(nn3_bias_act_backward)(const real *da, const real *z, const real *a, real *dz, real *gb, real alpha,
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
