/* Element-wise activations, exp, softmax of one row and argmax: the one copy both engines use
 * (dense_impl.h for network/network2, bias_act.c, softmax.c and net3.c for network3).
 *
 * Header-only (static inline) so that every kernel file inlines them into its own vectorised
 * loops.  For each type T in {float, double} (suffix _f, _d):
 *   nn_exp_T(x)            double: libm's exp; float: Cephes' expf polynomial (about 1 ulp) on x
 *                          clamped to [-87.3, 88.3] (finite, normal results), 2^n by bits, so that
 *                          loops of it vectorise (the build has -fno-trapping-math, which lets GCC
 *                          if-convert the clamps; it changes no value)
 *   nn_sigmoid_T(z)        1 / (1 + exp(-z))
 *   nn_act_T(code, z)      activation value;  nn_act_prime_T(code, z, a) = d act / dz given a = act(z)
 *                          (sigmoid: a (1 - a), the book's sigmoid_prime)
 *   nn_softmax_row_T(z, a, J, &m)  a = exp(z - m) / sum with m = max z; returns the sum, so
 *                          that the log-likelihood cost of label y is -(z[y] - m - ln sum)
 *   nn_argmax_T(a, J)      numpy's argmax: the first maximum, and the first NaN if there is one
 *                          (NaN wins, as np.argmax, which the oracle uses)
 */
#ifndef NNFAST_ACTIVATIONS_H
#define NNFAST_ACTIVATIONS_H

#include <math.h>
#include <stdint.h>
#include "nnfast.h"

static inline double nn_exp_d(double x) { return exp(x); }
static inline float nn_exp_f(float x) {
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

#define NN_ACT_DEFS(T, SFX, ONE, TANH)                                                            \
    static inline T nn_sigmoid##SFX(T z) { return ONE / (ONE + nn_exp##SFX(-z)); }             \
    static inline T nn_act##SFX(int code, T z) {                                               \
        switch (code) {                                                                        \
        case NN_SIGMOID: return nn_sigmoid##SFX(z);                                            \
        case NN_TANH: return TANH(z);                                                           \
        case NN_RELU: return z > 0 ? z : 0;                                                    \
        default: return z;                                                                     \
        }                                                                                      \
    }                                                                                          \
    static inline T nn_act_prime##SFX(int code, T z, T a) {                                    \
        switch (code) {                                                                        \
        case NN_SIGMOID: return a * (ONE - a);                                                 \
        case NN_TANH: return ONE - a * a;                                                      \
        case NN_RELU: return z > 0 ? ONE : 0;                                                  \
        default: return ONE;                                                                   \
        }                                                                                      \
    }                                                                                          \
    static inline T nn_softmax_row##SFX(const T *z, T *a, nn_size J, T *max) {                 \
        T m = z[0], s = 0;                                                                     \
        for (nn_size j = 1; j < J; j++) m = z[j] > m ? z[j] : m;                               \
        for (nn_size j = 0; j < J; j++) { a[j] = nn_exp##SFX(z[j] - m); s += a[j]; }           \
        for (nn_size j = 0; j < J; j++) a[j] = a[j] / s;                                       \
        *max = m;                                                                              \
        return s;                                                                              \
    }                                                                                          \
    static inline int64_t nn_argmax##SFX(const T *a, nn_size J) {                              \
        nn_size best = 0;                                                                      \
        for (nn_size j = 1; j < J && a[best] == a[best]; j++)                                  \
            if (a[j] > a[best] || a[j] != a[j]) best = j;                                      \
        return (int64_t)best;                                                                  \
    }

NN_ACT_DEFS(double, _d, 1.0, tanh)
NN_ACT_DEFS(float, _f, 1.0f, tanhf)
#undef NN_ACT_DEFS

#endif
