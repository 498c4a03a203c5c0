/* Element-wise activations and their derivatives, overflow-safe and warning-free.
 *
 * Header-only (static inline) so that every kernel file inlines them into its
 * own vectorised loops.  For each type T in {float, double}:
 *   nn_sigmoid_T(z)      = 1 / (1 + exp(-z))         (exp(-z) = inf gives 0, never NaN)
 *   nn_act_T(code, z)     activation value
 *   nn_act_prime_T(code, z, a)  derivative d act / dz, given z and a = act(z)
 * The sigmoid derivative is computed as a * (1 - a), which is what the book's
 * sigmoid_prime(z) = sigmoid(z) * (1 - sigmoid(z)) evaluates to.
 */
#ifndef NNFAST_ACTIVATIONS_H
#define NNFAST_ACTIVATIONS_H

#include <math.h>
#include "nnfast.h"

static inline double nn_sigmoid_d(double z) { return 1.0 / (1.0 + exp(-z)); }
static inline float nn_sigmoid_f(float z) { return 1.0f / (1.0f + expf(-z)); }

static inline double nn_act_d(int code, double z) {
    switch (code) {
    case NN_SIGMOID: return nn_sigmoid_d(z);
    case NN_TANH: return tanh(z);
    case NN_RELU: return z > 0.0 ? z : 0.0;
    default: return z;
    }
}
static inline float nn_act_f(int code, float z) {
    switch (code) {
    case NN_SIGMOID: return nn_sigmoid_f(z);
    case NN_TANH: return tanhf(z);
    case NN_RELU: return z > 0.0f ? z : 0.0f;
    default: return z;
    }
}
static inline double nn_act_prime_d(int code, double z, double a) {
    switch (code) {
    case NN_SIGMOID: return a * (1.0 - a);
    case NN_TANH: return 1.0 - a * a;
    case NN_RELU: return z > 0.0 ? 1.0 : 0.0;
    default: return 1.0;
    }
}
static inline float nn_act_prime_f(int code, float z, float a) {
    switch (code) {
    case NN_SIGMOID: return a * (1.0f - a);
    case NN_TANH: return 1.0f - a * a;
    case NN_RELU: return z > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

#endif
