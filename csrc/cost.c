/* The book's costs of an output row against its target row (network.py's quadratic cost, network2's
 * QuadraticCost, CrossEntropyCost and LogLikelihoodCost): forward, the cost of one example; backward,
 * the output layer's dL/dz for a sigmoid (or any activation's) output.  The softmax output's dL/dz
 * is softmax.c's.
 *
 * Shapes: a, z, y, dz (O) one row; inv = 1 / nb for a mini-batch of nb rows (L is the mean cost).
 *   quadratic:      C = 1/2 sum_j (a_j - y_j)^2,                  dL/dz_j = (a_j - y_j) act'(z_j) / nb
 *   cross-entropy:  C = -sum_j y_j ln a_j + (1 - y_j) ln(1 - a_j),  dL/dz_j = (a_j - y_j) / nb (sigmoid)
 *   log-likelihood: C = -sum_j y_j ln a_j (softmax output; -ln a_y for a one-hot y)
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include <float.h>
#include <math.h>
#include "net3.h"
#define NN_TMPL "cost.c"
#include "tmpl.h"
#else

/* np.nan_to_num of one term: NaN -> 0, +-inf -> +-largest double. */
static inline double S(nan_to_num)(double v) {
    if (v != v) return 0.0;
    if (v == HUGE_VAL) return DBL_MAX;
    if (v == -HUGE_VAL) return -DBL_MAX;
    return v;
}

/* C(a, y) of one example, in double, summed in unit order, its terms through nan_to_num as the
 * book's fn methods (np.nan_to_num): saturated outputs give log(0) terms of DBL_MAX each, whose sum
 * stays at DBL_MAX. */
double S(nn3_cost_forward)(int cost, const real *a, const real *y, nn_size O) {
    double c = 0;
    if (cost == NN_QUADRATIC) {
        for (nn_size j = 0; j < O; j++) { double e = (double)a[j] - (double)y[j]; c += e * e; }
        return S(nan_to_num)(0.5 * c);
    }
    for (nn_size j = 0; j < O; j++) {
        double aj = a[j], yj = y[j], v;
        if (cost == NN_CROSS_ENTROPY) v = -yj * log(aj) - (1.0 - yj) * log(1.0 - aj);
        else v = -yj * log(aj);
        c += S(nan_to_num)(v);
    }
    return S(nan_to_num)(c);
}

/* dz = dL/dz of one output row (quadratic or cross-entropy; act the output's activation, z and a its
 * weighted input and activation), computed as a inv - y inv for the cross-entropy (the bits of
 * softmax.c's rule). */
void S(nn3_cost_backward)(int cost, int act, const real *z, const real *a, const real *y, real *dz, real inv,
                          nn_size O) {
    if (cost == NN_QUADRATIC)
        for (nn_size j = 0; j < O; j++) dz[j] = (a[j] - y[j]) * ACT_PRIME(act, z[j], a[j]) * inv;
    else
        for (nn_size j = 0; j < O; j++) dz[j] = a[j] * inv - y[j] * inv;
}
#endif
