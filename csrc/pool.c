/* Max-pooling over non-overlapping PH x PW windows (remainder rows/columns dropped),
 * forward recording each window's winner, backward routing the gradient to it.
 *
 * Shapes (net3.h): conv / dconv (F, ld), ld = B*P, example b's map f at f*ld + b*P, (OH, OW) row-major;
 * out / dout and arg (nb, F, Q), Q = QH*QW.  The winner is the first maximum in row-major
 * window order (Theano's gradient goes to every tied maximum; ties need exactly equal values).
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include <string.h>
#include "net3.h"
#define NN_TMPL "pool.c"
#include "tmpl.h"
#else

/* One example: out[f, qy, qx] = max_{i<PH, j<PW} conv[f*ldf + (qy*PH+i)*OW + qx*PW+j], arg = its
 * index y*OW + x; then, when bias is not NULL, out += bias[f] and a = act(out) (bias_act.c) on the
 * example's maps while they are in cache.  out, a, arg (F, Q) of this example. */
void S(nn3_pool_act_example)(const real *conv, nn_size ldf, real *out, real *a, const real *bias, int act,
                             int32_t *arg, nn_size F, nn_size OH, nn_size OW, nn_size PH, nn_size PW) {
    nn_size QH = OH / PH, QW = OW / PW;
    for (nn_size f = 0; f < F; f++) {
        const real *m = conv + f * ldf;
        real *o = out + f * QH * QW;
        int32_t *g = arg + f * QH * QW;
        if (PH == 2 && PW == 2) {   /* the book's pool: same winner rule, unrolled */
            for (nn_size qy = 0; qy < QH; qy++) {
                const real *r0 = m + 2 * qy * OW, *r1 = r0 + OW;
                nn_size base = 2 * qy * OW;
                for (nn_size qx = 0; qx < QW; qx++) {   /* branch-free: vectorises */
                    real v = r0[2 * qx], c;
                    int32_t k = 0, t;
                    c = r0[2 * qx + 1]; t = c > v; v = t ? c : v; k = t ? 1 : k;
                    c = r1[2 * qx];     t = c > v; v = t ? c : v; k = t ? (int32_t)OW : k;
                    c = r1[2 * qx + 1]; t = c > v; v = t ? c : v; k = t ? (int32_t)OW + 1 : k;
                    o[qy * QW + qx] = v;
                    g[qy * QW + qx] = (int32_t)(base + 2 * qx) + k;
                }
            }
            continue;
        }
        for (nn_size qy = 0; qy < QH; qy++)
            for (nn_size qx = 0; qx < QW; qx++) {
                nn_size best = qy * PH * OW + qx * PW;
                real v = m[best];
                for (nn_size i = 0; i < PH; i++)
                    for (nn_size j = 0; j < PW; j++) {
                        nn_size k = (qy * PH + i) * OW + qx * PW + j;
                        if (m[k] > v) { v = m[k]; best = k; }
                    }
                o[qy * QW + qx] = v;
                g[qy * QW + qx] = (int32_t)best;
            }
    }
    if (bias) S(nn3_bias_act_example)(out, a, bias, act, F, QH * QW);
}

/* out[b, f, qy, qx] = max_{i<PH, j<PW} conv[f, b, qy*PH+i, qx*PW+j] and the rest of
 * nn3_pool_act_example for each example of conv (F, B*P).  Work: one example per task. */
void S(nn3_pool_act_forward)(const real *conv, real *out, real *a, const real *bias, int act, int32_t *arg,
                             nn_size nb, nn_size B, nn_size F, nn_size OH, nn_size OW, nn_size PH, nn_size PW) {
    nn_size P = OH * OW, Q = OH / PH * (OW / PW);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++)
        S(nn3_pool_act_example)(conv + b * P, B * P, out + b * F * Q, bias ? a + b * F * Q : a, bias, act,
                                arg + b * F * Q, F, OH, OW, PH, PW);
    nn_sync();   /* the loop's barrier, timed */
}

/* The pool alone (out, arg as above). */
void S(nn3_pool_forward)(const real *conv, real *out, int32_t *arg, nn_size nb, nn_size B, nn_size F, nn_size OH,
                         nn_size OW, nn_size PH, nn_size PW) {
    S(nn3_pool_act_forward)(conv, out, NULL, NULL, 0, arg, nb, B, F, OH, OW, PH, PW);
}

/* dconv[f, b, arg[b, f, q]] = dz[b, f, q], zero elsewhere (overwrites dconv's nb*P columns), where
 * dz = da * act'(z, a) is first made in place in da (bias_act.c's rule; z NULL: da is dz already).
 * Work: one example per task; windows do not overlap, so each element has one writer. */
void S(nn3_pool_act_backward)(real *da, const real *z, const real *a, int act, const int32_t *arg, real *dconv,
                              nn_size nb, nn_size B, nn_size F, nn_size P, nn_size Q) {
    nn_size ld = B * P;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++) {
        if (z) S(nn3_act_backward_cols)(da + b * F * Q, z + b * F * Q, a + b * F * Q, act, 1, F * Q, 0, F * Q);
        for (nn_size f = 0; f < F; f++) {
            real *d = dconv + f * ld + b * P;
            const real *g = da + (b * F + f) * Q;
            const int32_t *k = arg + (b * F + f) * Q;
            memset(d, 0, P * sizeof(real));
            for (nn_size q = 0; q < Q; q++) d[k[q]] = g[q];
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* The routing alone: dconv from dout = dL/dz. */
void S(nn3_pool_backward)(const real *dout, const int32_t *arg, real *dconv, nn_size nb, nn_size B, nn_size F,
                          nn_size P, nn_size Q) {
    S(nn3_pool_act_backward)((real *)dout, NULL, NULL, 0, arg, dconv, nb, B, F, P, Q);
}
#endif
