/* network3's fully connected layers at small mini-batches, through the kernels of dense_impl.h
 * (the one fully connected implementation of network and network2): a template body, instantiated
 * by dense.c with dense_impl.h for each element type and instruction set, reached through the
 * dispatchers nn_fc3_* declared in net3.h.
 *
 * network3 keeps the book's x·w layout, w (I, O) row-major, where dense_impl.h's W is (J, K) with a
 * row per unit.  The same kernels serve with the roles of the matrices exchanged:
 *   z = x w        is update_units (W += D^T A) with W = z, D = x^T, A = w, over chunks of 64 inputs
 *                  (register blocks of 2 rows x 32 columns; backprop_row would be one row at a time,
 *                  a chain of dependent multiply-adds);
 *   dx = dz w^T    is forward_units (Z = A W^T + b) with A = dz, W = w, b = 0: register blocks of
 *                  5 rows x 2 inputs, each a dot product along a row of w;
 *   w -= eta x^T dz  is update_units (W <- c1 W - c2 D^T A) with D = x, A = dz, c1 = 1, c2 = eta.
 * None packs w, as BLAS does for every call on a (10, 1000) x (1000, 1000) product: at the book's
 * mini-batch of 10 the packing costs as much as the arithmetic.
 * Each output element is one fixed sequence of operations whatever slice it falls in.
 */
#include "dense_impl.h"

/* inputs per update_units call of the forward product (its x^T block lives on the stack) */
#define NN_FC3_CHUNK 64
/* units per forward_units call of the input gradient (the length of its zero bias) */
#define NN_FC3_UNITS 256

/* z[lo:hi] = scale x[lo:hi] w: rows lo..hi (at most 64) of z, all O columns; x (nb, I), z (nb, O).
 * update_units with z as W and rows of w as A, adding x^T w over chunks of NN_FC3_CHUNK inputs
 * into z from zero (ACCUM). */
static void S(fc3_forward)(const real *x, const real *w, real *z, real scale, nn_size I, nn_size O, nn_size lo,
                           nn_size hi) {
    S(nn_upd) u;
    real xt[NN_FC3_CHUNK * 64];
    const real *rows[NN_FC3_CHUNK];
    const nn_size m = hi - lo;
    real *zl = z + lo * O;
    memset(&u, 0, sizeof(u));
    u.mode = UPD_ACCUM;
    memset(zl, 0, (size_t)(m * O) * sizeof(real));
    for (nn_size i0 = 0; i0 < I; i0 += NN_FC3_CHUNK) {
        const nn_size n = I - i0 < NN_FC3_CHUNK ? I - i0 : NN_FC3_CHUNK;
        for (nn_size i = 0; i < n; i++) {
            rows[i] = w + (i0 + i) * O;
            for (nn_size r = 0; r < m; r++) xt[i * m + r] = x[(lo + r) * I + i0 + i];
        }
        S(update_units)(&u, NULL, zl, NULL, NULL, NULL, O, xt, m, n, rows, 0, m);
    }
    if (scale != 1)
        for (nn_size k = 0; k < m * O; k++) zl[k] *= scale;
}

/* dx[r, lo:hi] = dz[r] w[lo:hi]^T for rows r < nb (nb <= 64); dz (nb, O), dx (nb, I). */
static void S(fc3_backward_x)(const real *dz, const real *w, real *dx, nn_size nb, nn_size I, nn_size O, nn_size lo,
                              nn_size hi) {
    static const real zero[NN_FC3_UNITS];
    const real *rows[64];
    for (nn_size r = 0; r < nb; r++) rows[r] = dz + r * O;
    for (nn_size j = lo; j < hi; j += NN_FC3_UNITS) {
        nn_size n = hi - j < NN_FC3_UNITS ? hi - j : NN_FC3_UNITS;
        S(forward_units)(rows, nb, w + j * O, O, zero, dx + j, I, 0, n);
    }
}

/* w[lo:hi] -= eta x[:, lo:hi]^T dz for rows r < nb (nb <= 64); x (nb, I), dz (nb, O). */
static void S(fc3_update)(const real *x, const real *dz, real *w, real eta, nn_size nb, nn_size I, nn_size O,
                          nn_size lo, nn_size hi) {
    S(nn_upd) u;
    const real *rows[64];
    memset(&u, 0, sizeof(u));
    u.mode = UPD_PLAIN;
    u.c1 = 1;
    u.c2 = eta;
    for (nn_size r = 0; r < nb; r++) rows[r] = dz + r * O;
    S(update_units)(&u, NULL, w, NULL, NULL, NULL, O, x, I, nb, rows, lo, hi);
}
