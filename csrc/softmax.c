/* Softmax output with the log-likelihood cost: forward (bias, softmax, per-row cost) and dL/dz.
 *
 * Shapes: z, a, dz, t (nb, O); b (O); y (nb) labels in [0, O); loss (nb).
 * L = (1/nb) sum_r -ln a[r, y_r], so dL/dz = (a - onehot(y)) / nb; with target rows t (network2's
 * LogLikelihoodCost) dL/dz = (a - t) / nb, computed as a inv - t inv: the same bits as the labels'
 * rule for a one-hot t.
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"
#define NN_TMPL "softmax.c"
#include "tmpl.h"
#else

/* One row of dL/dz: (a - onehot(y)) * inv, inv = 1 / nb. */
static inline void S(softmax_delta_row)(const real *a, int64_t y, real *dz, real inv, nn_size O) {
    for (nn_size j = 0; j < O; j++) dz[j] = a[j] * inv;
    dz[y] -= inv;
}

/* Rows [lo, hi) of nb: z += b; a = exp(z - max) / sum; loss[r] = -(z[y] - max - ln sum) when y is
 * given; and when dz is not NULL, the backward pass's dz = (a - onehot(y)) / nb (or (a - t) / nb) too,
 * from the row still in cache.  By the calling thread alone (dense3.c's FC loop runs it on the rows
 * it has just made). */
void S(nn3_softmax_rows)(real *z, real *a, const real *b, const int64_t *y, const real *t, real *loss, real *dz,
                         nn_size nb, nn_size O, nn_size lo, nn_size hi) {
    real inv = (real)1 / (real)nb;
    for (nn_size r = lo; r < hi; r++) {
        real *zr = z + r * O, *ar = a + r * O, m;
        for (nn_size j = 0; j < O; j++) zr[j] += b[j];
        real sum = SOFTMAX_ROW(zr, ar, O, &m);
        if (y && loss) loss[r] = -(zr[y[r]] - m - LOG(sum));
        if (dz && y) {
            S(softmax_delta_row)(ar, y[r], dz + r * O, inv, O);
        } else if (dz && t) {
            for (nn_size j = 0; j < O; j++) dz[r * O + j] = ar[j] * inv - t[r * O + j] * inv;
        }
    }
}

/* The same on all nb rows, without dz (the single-operation entry point of tests; network3's loop
 * runs nn3_softmax_rows on the rows of its fully connected pass).  Work: rows. */
void S(nn3_softmax_forward)(real *z, real *a, const real *b, const int64_t *y, real *loss, nn_size nb,
                            nn_size O) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) S(nn3_softmax_rows)(z, a, b, y, NULL, loss, NULL, nb, O, r, r + 1);
    nn_sync();   /* the loop's barrier, timed */
}

/* dz = (a - onehot(y)) / nb.  Work: rows. */
void S(nn3_softmax_backward)(const real *a, const int64_t *y, real *dz, nn_size nb, nn_size O) {
    real inv = (real)1 / (real)nb;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++) S(softmax_delta_row)(a + r * O, y[r], dz + r * O, inv, O);
    nn_sync();   /* the loop's barrier, timed */
}
#endif
