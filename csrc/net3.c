/* network3's mini-batch loop: forward (training or evaluation path), backward and the SGD step,
 * chaining the kernels of conv.c, pool.c, bias_act.c, dropout.c, dense3.c and softmax.c.
 *
 * nn3_train runs many mini-batches in one call inside one OpenMP parallel region: every thread
 * walks the same loop and the kernels' `omp for` loops share out the work (their implicit
 * barriers order the steps).  The SGD step is fused into the backward products: a layer first
 * sends its gradient down with the old weights, then w -= l2 w (when l2 = eta lmbda / n is not 0) and
 * w -= eta dL/dw in one BLAS call (beta 1).  The L2 shrink is its own step, not BLAS's beta = 1 - l2:
 * in float32 1 - l2 would round l2 (about 1e-7) by up to 5%.  Each elementwise step runs inside the
 * loop that makes or uses its data, on that loop's slice (bias and activation in the pool loop and
 * on the rows of the FC layer's summed product; activation derivatives, dropout mask, bias gradient
 * and L2 shrink in the backward loops): a conv layer costs 2 barriers forward and 3 backward, an FC
 * layer 2 (1 when it is one part) and 1.
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include <string.h>
#include "net3.h"
#define NN_TMPL "net3.c"
#include "tmpl.h"
#else

/* Forward nb rows of x through every layer.  train: dropout masks (example counter first + r), the
 * per-row cost into net->loss and the softmax layer's dL/dz into its da (backward starts from it);
 * else the evaluation path (weights scaled by 1 - p).  Bias and activation run inside the pool
 * loop of a conv layer and on each row of a fully connected layer as its parts are summed. */
static void S(forward)(nn3_net *net, const real *x, nn_size nb, int train, uint64_t seed, uint64_t first) {
    GEMM_T gemm = (GEMM_T)net->gemm;
    const real *in = x;
    for (int l = 0; l < net->L; l++) {
        nn3_layer *ly = &net->layers[l];
        real *z = (real *)ly->z, *a = (real *)ly->a;
        if (ly->kind == NN3_CONV) {
            if (nn3_conv_direct(sizeof(real), ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW)) {
                S(nn3_conv_direct_forward)(in, (const real *)ly->w, (const real *)ly->b, ly->act, z, a, ly->arg, nb,
                                           ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW, ly->PH, ly->PW);
            } else {
                S(nn3_conv_forward)(gemm, in, (const real *)ly->w, (real *)ly->col, (real *)ly->conv, nb, net->B,
                                    ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW, net->max_parts);
                S(nn3_pool_act_forward)((const real *)ly->conv, z, a, (const real *)ly->b, ly->act, ly->arg, nb,
                                        net->B, ly->F, ly->OH, ly->OW, ly->PH, ly->PW);
            }
        } else {
            const real *xin = in;
            real scale = 1;
            if (train && ly->p > 0) {
                S(nn3_dropout_forward)(in, (real *)ly->mask, (real *)ly->xd, ly->p, seed, (uint64_t)l, first, nb,
                                       ly->I);
                xin = (const real *)ly->xd;
            } else if (!train) {
                scale = (real)(1.0 - ly->p);
            }
            S(nn3_fc_forward)(gemm, xin, (const real *)ly->w, (const real *)ly->b, z, (real *)ly->zp, a,
                              ly->kind == NN3_FC ? ly->act : NN_SOFTMAX, scale, train ? net->y : NULL,
                              train ? (real *)net->loss : NULL, train ? (real *)ly->da : NULL, nb, ly->I, ly->O,
                              net->max_parts);
        }
        in = a;
    }
}

/* Backward through every layer from the softmax layer's dL/dz (forward's, from the labels net->y).
 * update: w -= l2 w, then w -= eta dw, b -= eta db in place; else dw, db into gw, gb (the data term
 * of the cost only).  Each layer turns its da into dL/dz in place; a fully connected layer does it for
 * the layer below on each slice of the input gradient it makes (nn3_fc_backward), so that layer
 * finds its dL/dz ready (`ready`). */
static void S(backward)(nn3_net *net, const real *x, nn_size nb, int update, real eta, real l2) {
    GEMM_T gemm = (GEMM_T)net->gemm;
    real alpha = update ? -eta : 1, beta_w = update ? 1 : 0;
    int ready = 1;   /* the softmax layer's dL/dz came from forward */
    for (int l = net->L - 1; l >= 0; l--) {
        nn3_layer *ly = &net->layers[l], *below = l ? &net->layers[l - 1] : NULL;
        const real *in = l ? (const real *)below->a : x;
        real *dx = l ? (real *)below->da : NULL;
        real *gw = (real *)(update ? ly->w : ly->gw), *gb = (real *)(update ? ly->b : ly->gb);
        real *da = (real *)ly->da;   /* dL/da, turned into dL/dz in place */
        nn_size N = ly->kind == NN3_CONV ? ly->F : ly->O, Sn = ly->kind == NN3_CONV ? ly->QH * ly->QW : 1;
        if (ly->kind == NN3_CONV) {
            nn_size P = ly->OH * ly->OW, K = ly->C * ly->KH * ly->KW;
            if (nn3_conv_direct(sizeof(real), ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW)) {
                S(nn3_conv_direct_backward)(da, ready ? NULL : (const real *)ly->z, (const real *)ly->a, ly->act,
                                            ly->arg, in, (const real *)ly->w, (real *)ly->col, dx,
                                            gw, gb, alpha, beta_w, update ? l2 : 0, nb, ly->C, ly->H, ly->W, ly->F,
                                            ly->KH, ly->KW, ly->PH, ly->PW, net->max_parts);
            } else {
                S(nn3_pool_act_backward)(da, ready ? NULL : (const real *)ly->z, (const real *)ly->a, ly->act,
                                         ly->arg, (real *)ly->conv, nb, net->B, N, P, Sn);
                if (dx)
                    S(nn3_conv_backward_x)(gemm, (const real *)ly->conv, (const real *)ly->w, (real *)ly->dcol, dx,
                                           nb, net->B, ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW, net->max_parts);
                S(nn3_conv_backward_wb)(gemm, (const real *)ly->conv, (const real *)ly->col, gw, da, gb, alpha,
                                        beta_w, update ? l2 : 0, nb, net->B, P, Sn, N, K, net->max_parts);
            }
            ready = 0;
        } else {
            int p = ly->p > 0;
            if (!ready) S(nn3_act_backward)(da, (const real *)ly->z, (const real *)ly->a, da, ly->act, nb, N, Sn);
            S(nn3_fc_backward)(gemm, da, p ? (const real *)ly->xd : in, (real *)ly->w, gw, gb, alpha, beta_w,
                               update ? l2 : 0, dx, p ? (const real *)ly->mask : NULL, below ? below->act : 0,
                               below ? (const real *)below->z : NULL, below ? (const real *)below->a : NULL, nb,
                               ly->I, ly->O, net->max_parts);
            ready = 1;
        }
    }
}

/* The shape of net's work, for the governor (rates measured on another shape do not apply). */
static uint64_t S(shape_key)(const nn3_net *net) {
    uint64_t key = 1469598103934665603ULL ^ (uint64_t)sizeof(real);
    key = (key ^ (uint64_t)net->B) * 1099511628211ULL;
    for (int l = 0; l < net->L; l++)
        key = (key ^ (uint64_t)(net->layers[l].I * 4 + net->layers[l].kind)) * 1099511628211ULL;
    return key;
}

/* The arguments of nn3_train and nn3_predict, for their threads. */
typedef struct {
    nn3_net *net; const real *X;
    const int64_t *Y, *order; real eta, l2; uint64_t seed, first_example;   /* train */
    nn_size first_batch, n;   /* train's first mini-batch; predict's rows */
    int64_t *pred; real *out;   /* predict */
} S(nn3_ctx);

/* Thread t: mini-batches i0, i0 + 1, ... of nn3_train until the governor's segment is over. */
static uint64_t S(nn3_train_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size i0) {
    const S(nn3_ctx) *c = (const S(nn3_ctx) *)ctx;
    nn3_net *net = c->net;
    const nn_size B = net->B, I0 = net->layers[0].I, end = c->first_batch + c->n;
    real *xb = (real *)net->x;
    (void)nth;
    for (nn_size i = i0; i < end && !gov->flag; i++) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size r = 0; r < B; r++) {
            int64_t k = c->order[i * B + r];
            memcpy(xb + r * I0, c->X + k * I0, I0 * sizeof(real));
            net->y[r] = c->Y[k];
        }
        nn_sync();
        S(forward)(net, xb, B, 1, c->seed, c->first_example + (uint64_t)(i * B));
        S(backward)(net, xb, B, 1, c->eta, c->l2);
        if (t == 0) nn_gov_unit_done(gov, i + 1, i + 1 - c->first_batch);
        nn_sync();
    }
    return 0;
}

/* SGD over mini-batches first_batch .. first_batch + n_batches - 1 of an epoch: batch i is rows
 * X[order[i*B + r]], r < B; its dropout counters start at first_example + i*B.
 * X (n, I0), Y (n), order (>= (first_batch + n_batches) * B).
 * Runs in segments of about NN_SEG_SECONDS, each on the governor's thread count (threads.c).
 * Returns the mini-batches done: n_batches, or fewer after a SIGINT (-1: out of memory). */
nn_size S(nn3_train)(nn3_net *net, const real *X, const int64_t *Y, const int64_t *order, nn_size first_batch,
                     nn_size n_batches, real eta, real l2, uint64_t seed, uint64_t first_example, int nthreads) {
    S(nn3_ctx) c = {net, X, Y, order, eta, l2, seed, first_example, first_batch, n_batches, NULL, NULL};
    return nn_gov_run(NN_GOV_NET3_TRAIN, nthreads, S(shape_key)(net), first_batch, first_batch + n_batches, 0,
                      S(nn3_train_body), &c);
}

/* Gradients of one mini-batch of nb <= B rows (X (nb, I0), Y (nb)) into each layer's gw, gb. Serial. */
void S(nn3_gradients)(nn3_net *net, const real *X, const int64_t *Y, nn_size nb, uint64_t seed,
                      uint64_t first_example) {
    memcpy(net->y, Y, nb * sizeof(int64_t));
    S(forward)(net, X, nb, 1, seed, first_example);
    S(backward)(net, X, nb, 0, 0, 0);
}

/* Thread t: blocks of B rows from row s0 on of nn3_predict until the governor's segment is over. */
static uint64_t S(nn3_predict_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size s0) {
    const S(nn3_ctx) *c = (const S(nn3_ctx) *)ctx;
    nn3_net *net = c->net;
    const nn_size B = net->B, I0 = net->layers[0].I, O = net->layers[net->L - 1].O, n = c->n;
    const real *a = (const real *)net->layers[net->L - 1].a;
    (void)nth;
    for (nn_size s = s0; s < n && !gov->flag; s += B) {
        nn_size nb = n - s < B ? n - s : B;
        S(forward)(net, c->X + s * I0, nb, 0, 0, 0);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size r = 0; r < nb; r++) {
            const real *ar = a + r * O;
            c->pred[s + r] = ARGMAX(ar, O);
            if (c->out) memcpy(c->out + (s + r) * O, ar, O * sizeof(real));
        }
        if (t == 0) nn_gov_unit_done(gov, s + nb, s + nb);
        nn_sync();
    }
    return 0;
}

/* Evaluation path over n rows of X (n, I0), B at a time: pred[r] = argmax (numpy's: first maximum, first NaN);
 * out (n, O_last) receives the softmax outputs when not NULL.  In segments like nn3_train.
 * Returns the rows done: n, or fewer (a multiple of B) after a SIGINT (-1: out of memory). */
nn_size S(nn3_predict)(nn3_net *net, const real *X, nn_size n, int64_t *pred, real *out, int nthreads) {
    S(nn3_ctx) c = {net, X, NULL, NULL, 0, 0, 0, 0, 0, n, pred, out};
    return nn_gov_run(NN_GOV_NET3_PREDICT, nthreads, S(shape_key)(net), 0, n, 0, S(nn3_predict_body), &c);
}
#endif
