/* Convolution ("valid" cross-correlation) by im2col and BLAS: forward, filter gradient, input gradient.
 *
 * Shapes (letters of net3.h): x (nb, C, H, W); w (F, K) = (F, C, KH, KW) flattened;
 * col (K, ld) with ld = B*P, column b*P + p holding example b's patch at output p;
 * out / dout (F, ld).  Cross-correlation: out[f, b, y, x] = sum_{c,i,j} w[f,c,i,j] x[b,c,y+i,x+j]
 * (Theano's conv2d flips the filter; the network learns the same either way).
 *
 * This file is compiled twice, for float and for double: the top half sets
 * `real` and the suffix and includes the file itself, the bottom half is the code.
 */
#ifndef NN_TMPL
#include <string.h>
#include "net3.h"
#define NN_TMPL "conv.c"
#include "tmpl.h"
#else
#include "gemm_rm.h"

/* col[k, p] = x[c, y+i, x+j] for one example; k = (c*KH + i)*KW + j, p = y*OW + x */
NN3_NO_MEMCPY_IDIOM static void S(im2col)(const real *x, real *col, nn_size ld, nn_size C, nn_size H, nn_size W, nn_size KH,
                      nn_size KW) {
    nn_size OH = H - KH + 1, OW = W - KW + 1;
    for (nn_size c = 0; c < C; c++)
        for (nn_size i = 0; i < KH; i++)
            for (nn_size j = 0; j < KW; j++) {
                real *row = col + ((c * KH + i) * KW + j) * ld;
                const real *src = x + (c * H + i) * W + j;
                if (OW >= 32)
                    for (nn_size y = 0; y < OH; y++) memcpy(row + y * OW, src + y * W, OW * sizeof(real));
                else   /* short rows: a plain loop beats a memcpy call per row */
                    for (nn_size y = 0; y < OH; y++)
                        for (nn_size xx = 0; xx < OW; xx++) row[y * OW + xx] = src[y * W + xx];
            }
}

/* dx[c, y+i, x+j] += dcol[k, p]: the adjoint of im2col, one example */
static void S(col2im)(const real *dcol, real *dx, nn_size ld, nn_size C, nn_size H, nn_size W, nn_size KH,
                      nn_size KW) {
    nn_size OH = H - KH + 1, OW = W - KW + 1;
    for (nn_size c = 0; c < C; c++)
        for (nn_size i = 0; i < KH; i++)
            for (nn_size j = 0; j < KW; j++) {
                const real *row = dcol + ((c * KH + i) * KW + j) * ld;
                real *dst = dx + (c * H + i) * W + j;
                for (nn_size y = 0; y < OH; y++)
                    for (nn_size xx = 0; xx < OW; xx++) dst[y * W + xx] += row[y * OW + xx];
            }
}

/* out (F, nb*P) = w (F, K) @ col (K, nb*P), col = im2col(x) built here.
 * Work: one im2col per example, then the product cut into column parts. */
void S(nn3_conv_forward)(GEMM_T gemm, const real *x, const real *w, real *col, real *out, nn_size nb, nn_size B,
                         nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW, int max_parts) {
    nn_size P = (H - KH + 1) * (W - KW + 1), K = C * KH * KW, ld = B * P, N = nb * P;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++) S(im2col)(x + b * C * H * W, col + b * P, ld, C, H, W, KH, KW);
    nn_sync();   /* the loop's barrier, timed */
    S(gemm_parts)(gemm, 0, 0, 0, F, N, K, 1, w, K, col, ld, 0, out, ld, 64, max_parts);
}

/* gw (F, K) = beta gw + alpha dout (F, nb*P) @ col^T (nb*P, K), and the layer's bias and L2 steps on
 * the same filters: gb[f] = beta gb[f] + alpha sum dz[:, f, :] (dz (nb, F, Q) the pooled dL/dz; gb
 * NULL: none), gw -= l2 gw first (l2 != 0).
 * alpha 1, beta 0 gives the filter gradient; alpha -eta, beta 1 with gw = w is the SGD step.
 * Work: rows of gw in parts (each a full sum over nb*P, in BLAS's order), at least 4 filters each. */
void S(nn3_conv_backward_wb)(GEMM_T gemm, const real *dout, const real *col, real *gw, const real *dz, real *gb,
                             real alpha, real beta, real l2, nn_size nb, nn_size B, nn_size P, nn_size Q, nn_size F,
                             nn_size K, int max_parts) {
    nn_size parts = nn3_parts(F, 4, max_parts), ld = B * P;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(F, parts, t), hi = nn3_part_lo(F, parts, t + 1);
        if (gb) S(nn3_bias_backward_range)(dz, gb, alpha, beta, nb, F, Q, lo, hi);
        if (l2 != 0)
            for (nn_size i = lo * K; i < hi * K; i++) gw[i] -= l2 * gw[i];
        S(gemm_rm)(gemm, 0, 1, hi - lo, K, nb * P, alpha, dout + lo * ld, ld, col, ld, beta, gw + lo * K, K);
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* The filter gradient alone (as above without bias and L2). */
void S(nn3_conv_backward_w)(GEMM_T gemm, const real *dout, const real *col, real *gw, real alpha, real beta,
                            nn_size nb, nn_size B, nn_size P, nn_size F, nn_size K, int max_parts) {
    S(nn3_conv_backward_wb)(gemm, dout, col, gw, NULL, NULL, alpha, beta, 0, nb, B, P, 1, F, K, max_parts);
}

/* dcol (K, nb*P) = w^T (K, F) @ dout (F, nb*P); dx (nb, C, H, W) = col2im(dcol) (overwritten).
 * Work: the product in column parts (one BLAS call each: w^T is packed once per part, not once per
 * example), then one col2im per example. */
void S(nn3_conv_backward_x)(GEMM_T gemm, const real *dout, const real *w, real *dcol, real *dx, nn_size nb,
                            nn_size B, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW,
                            int max_parts) {
    nn_size P = (H - KH + 1) * (W - KW + 1), K = C * KH * KW, ld = B * P;
    S(gemm_parts)(gemm, 1, 0, 0, K, nb * P, F, 1, w, K, dout, ld, 0, dcol, ld, 64, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++) {
        real *dxb = dx + b * C * H * W;
        memset(dxb, 0, C * H * W * sizeof(real));
        S(col2im)(dcol + b * P, dxb, ld, C, H, W, KH, KW);
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
