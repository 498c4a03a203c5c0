/* Softmax output with the log-likelihood cost: forward (bias, softmax, per-row cost) and dL/dz.
 *
 * Shapes: z, a, dz (nb, O); b (O); y (nb) labels in [0, O); loss (nb).
 * L = (1/nb) sum_r -ln a[r, y_r], so dL/dz = (a - onehot(y)) / nb.
 * Compiled for float and double (see conv.c).
 */
#ifndef NN3_BODY
#define NN3_BODY
#include <math.h>
#include "net3.h"
#define real float
#define S(name) name##_f
#define EXP expf
#define LOG logf
#include "softmax.c"
#undef real
#undef S
#undef EXP
#undef LOG
#define real double
#define S(name) name##_d
#define EXP exp
#define LOG log
#include "softmax.c"
#else

/* z += b; a = exp(z - max) / sum; loss[r] = -(z[y] - max - ln sum) when y is given.  Work: rows. */
void S(nn3_softmax_forward)(real *z, real *a, const real *b, const int64_t *y, real *loss, nn_size nb,
                            nn_size O) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) {
        real *zr = z + r * O, *ar = a + r * O, m, sum = 0;
        for (nn_size j = 0; j < O; j++) zr[j] += b[j];
        m = zr[0];
        for (nn_size j = 1; j < O; j++) m = zr[j] > m ? zr[j] : m;
        for (nn_size j = 0; j < O; j++) { ar[j] = EXP(zr[j] - m); sum += ar[j]; }
        for (nn_size j = 0; j < O; j++) ar[j] /= sum;
        if (y && loss) loss[r] = -(zr[y[r]] - m - LOG(sum));
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* dz = (a - onehot(y)) / nb.  Work: rows. */
void S(nn3_softmax_backward)(const real *a, const int64_t *y, real *dz, nn_size nb, nn_size O) {
    real inv = (real)1 / (real)nb;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) {
        for (nn_size j = 0; j < O; j++) dz[r * O + j] = a[r * O + j] * inv;
        dz[r * O + y[r]] -= inv;
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
