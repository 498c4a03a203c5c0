/* The one training loop of all three networks and their evaluation path (nn3_predict: outputs,
 * argmax, the book's costs): forward (training or evaluation path), backward and the SGD step over a
 * layer list, chaining the kernels of conv.c, pool.c, bias_act.c, dropout.c,
 * dense3.c, softmax.c and cost.c.  network3 gives it its layers; network and network2 give it fully
 * connected layers (their hidden activations, dropout of each hidden layer's output as the next
 * layer's input dropout, a sigmoid output with the quadratic or cross-entropy cost against target
 * rows, or softmax with the log-likelihood), and their rules: L2 or L1, momentum (nn3_step).
 *
 * nn3_train runs many mini-batches in one call inside one OpenMP parallel region: every thread
 * walks the same loop and the kernels' `omp for` loops share out the work (their implicit
 * barriers order the steps).  The SGD step is fused into the backward products: a layer first
 * sends its gradient down with the old weights, then w -= l2 w (when l2 = eta lmbda / n is not 0) and
 * w -= eta dL/dw in one BLAS call (beta 1) (momentum: the same onto the velocity).  The L2 shrink is
 * its own step, not BLAS's beta = 1 - l2: in float32 1 - l2 would round l2 (about 1e-7) by up to 5%.
 * Each elementwise step runs inside the loop that makes or uses its data, on that loop's slice (bias
 * and activation in the pool loop and on the rows of the FC layer's summed product; activation
 * derivatives, dropout mask, bias gradient and L2 shrink in the backward loops): a conv layer costs
 * 2 barriers forward and 3 backward, an FC layer 2 (1 when it is one part or cut by rows) and 1.
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include <string.h>
#include "net3.h"
#define NN_TMPL "net3.c"
#include "tmpl.h"
#else

/* Forward nb rows of x through every layer.  train: dropout masks (example counter first + r), the
 * per-row cost into net->loss (labels), the last layer's dL/dz into its da (backward starts from it)
 * against the labels net->y or the target rows net->t, and net->nonfinite set when a fully connected
 * layer's weighted input or the output's dL/dz holds an inf or a NaN; else the evaluation path
 * (weights scaled by 1 - p).  Bias and activation run inside the pool loop of a conv layer and on
 * each row of a fully connected layer as its parts are summed. */
static void S(forward)(nn3_net *net, const real *x, int sparse, nn_size nb, int train, uint64_t seed,
                       uint64_t first) {
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
            const int out = train && l == net->L - 1;
            S(nn3_fc_forward)(gemm, xin, (const real *)ly->w, (const real *)ly->b, z, (real *)ly->zp, a,
                              ly->kind == NN3_FC ? ly->act : NN_SOFTMAX, scale, out && !net->t ? net->y : NULL,
                              out ? (const real *)net->t : NULL, net->cost, out ? (real *)net->loss : NULL,
                              out ? (real *)ly->da : NULL, train ? &net->nonfinite : NULL, !train,
                              sparse && l == 0 && (!train || ly->p == 0), nb, ly->I, ly->O,
                              net->max_parts);
        }
        in = a;
    }
}

/* Backward through every layer from the last layer's dL/dz (forward's, from the labels or targets),
 * with the SGD step's rule (net3.h's nn3_step: the step in place, or the gradients into gw, gb).  Each
 * layer turns its da into dL/dz in place; a fully connected layer does it for the layer below on each
 * slice of the input gradient it makes (nn3_fc_backward), so that layer finds its dL/dz ready
 * (`ready`). */
static void S(backward)(nn3_net *net, const real *x, int sparse, nn_size nb, const nn3_step *step) {
    GEMM_T gemm = (GEMM_T)net->gemm;
    const int update = step->update;
    real alpha = update ? -(real)step->eta : 1, beta_w = update ? 1 : 0, l2 = update ? (real)step->decay : 0;
    int ready = 1;   /* the last layer's dL/dz came from forward */
    for (int l = net->L - 1; l >= 0; l--) {
        nn3_layer *ly = &net->layers[l], *below = l ? &net->layers[l - 1] : NULL;
        const real *in = l ? (const real *)below->a : x;
        real *dx = l ? (real *)below->da : NULL;
        real *da = (real *)ly->da;   /* dL/da, turned into dL/dz in place */
        nn_size N = ly->kind == NN3_CONV ? ly->F : ly->O, Sn = ly->kind == NN3_CONV ? ly->QH * ly->QW : 1;
        if (ly->kind == NN3_CONV) {
            real *gw = (real *)(update ? ly->w : ly->gw), *gb = (real *)(update ? ly->b : ly->gb);
            nn_size P = ly->OH * ly->OW, K = ly->C * ly->KH * ly->KW;
            if (nn3_conv_direct(sizeof(real), ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW)) {
                S(nn3_conv_direct_backward)(da, ready ? NULL : (const real *)ly->z, (const real *)ly->a, ly->act,
                                            ly->arg, in, (const real *)ly->w, (real *)ly->col, dx,
                                            gw, gb, alpha, beta_w, l2, nb, ly->C, ly->H, ly->W, ly->F,
                                            ly->KH, ly->KW, ly->PH, ly->PW, net->max_parts);
            } else {
                S(nn3_pool_act_backward)(da, ready ? NULL : (const real *)ly->z, (const real *)ly->a, ly->act,
                                         ly->arg, (real *)ly->conv, nb, net->B, N, P, Sn);
                if (dx)
                    S(nn3_conv_backward_x)(gemm, (const real *)ly->conv, (const real *)ly->w, (real *)ly->dcol, dx,
                                           nb, net->B, ly->C, ly->H, ly->W, ly->F, ly->KH, ly->KW, net->max_parts);
                S(nn3_conv_backward_wb)(gemm, (const real *)ly->conv, (const real *)ly->col, gw, da, gb, alpha,
                                        beta_w, l2, nb, net->B, P, Sn, N, K, net->max_parts);
            }
            ready = 0;
        } else {
            int p = ly->p > 0;
            if (!ready) S(nn3_act_backward)(da, (const real *)ly->z, (const real *)ly->a, da, ly->act, nb, N, Sn);
            S(nn3_fc_backward)(gemm, da, p ? (const real *)ly->xd : in, (real *)ly->w, (real *)ly->b, (real *)ly->gw,
                               (real *)ly->gb, (real *)ly->vw, (real *)ly->vb, step, dx,
                               p ? (const real *)ly->mask : NULL, below ? below->act : 0,
                               below ? (const real *)below->z : NULL, below ? (const real *)below->a : NULL,
                               sparse && l == 0 && !p, nb, ly->I, ly->O, net->max_parts);
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
    nn3_net *net;
    const void *Xt; int x_f32; const int64_t *Y, *order; const real *T;   /* T: targets (train, predict's costs) */
    const nn3_step *step; uint64_t seed, first_example;                    /* train */
    nn_size first_batch, n_batches, n;   /* train's mini-batches and examples; predict's rows */
    int64_t *pred; double *costs; real *out;   /* predict */
} S(nn3_ctx);

/* Row k of X (rows of I0 numbers of the net's type, or float32 when x_f32: widened exactly) into dst. */
static inline void S(load_row)(real *dst, const void *X, int x_f32, int64_t k, nn_size I0) {
    if (x_f32 && sizeof(real) != sizeof(float)) {
        const float *src = (const float *)X + k * I0;
        for (nn_size j = 0; j < I0; j++) dst[j] = (real)src[j];
    } else {
        memcpy(dst, (const real *)X + k * I0, I0 * sizeof(real));
    }
}

/* Thread t: mini-batches i0, i0 + 1, ... of nn3_train until the governor's segment is over. */
static uint64_t S(nn3_train_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size i0) {
    const S(nn3_ctx) *c = (const S(nn3_ctx) *)ctx;
    nn3_net *net = c->net;
    const nn_size B = net->B, I0 = net->layers[0].I, O = net->layers[net->L - 1].O;
    const nn_size end = c->first_batch + c->n_batches;
    real *xb = (real *)net->x, *tb = (real *)net->t;
    (void)nth;
    for (nn_size i = i0; i < end && !gov->flag; i++) {
        const nn_size nb = c->n - i * B < B ? c->n - i * B : B;   /* the last mini-batch may be short */
        /* the gather: at mini-batch 10 of [784,30,10] a fifth to a third of the epoch, at the speed of a bare
         * copy of random rows (measured in C: 0.045 s per 60,000 float64 rows, 0.022 s float32).  Tried and
         * not kept (alternated processes, medians of four): the next mini-batch's rows prefetched while
         * these are copied, 0.98x to 1.03x the time; on two threads, each thread copying the slices of
         * the rows its parts of the first layer read (no row read from the other core's cache), 1.02x to
         * 1.07x. */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size r = 0; r < nb; r++) {
            int64_t k = c->order[i * B + r];
            S(load_row)(xb + r * I0, c->Xt, c->x_f32, k, I0);
            if (c->T)
                memcpy(tb + r * O, c->T + k * O, O * sizeof(real));
            else
                net->y[r] = c->Y[k];
        }
        nn_sync();
        S(forward)(net, xb, 1, nb, 1, c->seed, c->first_example + (uint64_t)(i * B));
        /* every thread reads the flag after forward's last barrier (nobody writes it again before
         * the next mini-batch): all leave together, the parameters as after mini-batch i - 1 */
        if (net->nonfinite) {
            gov->stop = 1;
            break;
        }
        S(backward)(net, xb, 1, nb, c->step);
        if (t == 0) nn_gov_unit_done(gov, i + 1, i + 1 - c->first_batch);
        nn_sync();
    }
    return 0;
}

/* SGD over mini-batches first_batch .. first_batch + n_batches - 1 of an epoch of n examples: batch i
 * is rows X[order[i*B + r]] for r < min(B, n - i*B) (the last may be short); its dropout counters
 * start at first_example + i*B.  X (., I0) of the net's type, or float32 (x_f32) under a float64 net;
 * labels Y (.) for a softmax output, or target rows T (., O_last) (then Y is not read).
 * Runs in segments of about NN_SEG_SECONDS, each on the governor's thread count (threads.c).
 * Returns the mini-batches done: n_batches, or fewer after a SIGINT or when net->nonfinite was set
 * (-1: out of memory). */
nn_size S(nn3_train)(nn3_net *net, const void *X, int x_f32, const int64_t *Y, const real *T, const int64_t *order,
                     nn_size n, nn_size first_batch, nn_size n_batches, const nn3_step *step, uint64_t seed,
                     uint64_t first_example, int nthreads) {
    S(nn3_ctx) c = {net, X, x_f32, Y, order, T, step, seed, first_example, first_batch, n_batches, n,
                    NULL, NULL, NULL};
    net->nonfinite = 0;
    return nn_gov_run(NN_GOV_TRAIN, nthreads, S(shape_key)(net), first_batch, first_batch + n_batches, 0,
                      S(nn3_train_body), &c);
}

/* Gradients of one mini-batch of nb <= B rows (X (nb, I0), Y (nb)) into each layer's gw, gb. Serial. */
void S(nn3_gradients)(nn3_net *net, const real *X, const int64_t *Y, nn_size nb, uint64_t seed,
                      uint64_t first_example) {
    const nn3_step grads = {0, 0, 0, 0, 0};
    memcpy(net->y, Y, nb * sizeof(int64_t));
    S(forward)(net, X, 0, nb, 1, seed, first_example);
    S(backward)(net, X, 0, nb, &grads);
}

/* Thread t: blocks of B rows from row s0 on of nn3_predict until the governor's segment is over. */
static uint64_t S(nn3_predict_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size s0) {
    const S(nn3_ctx) *c = (const S(nn3_ctx) *)ctx;
    nn3_net *net = c->net;
    const nn_size B = net->B, I0 = net->layers[0].I, O = net->layers[net->L - 1].O, n = c->n;
    const real *a = (const real *)net->layers[net->L - 1].a;
    real *xb = (real *)net->x;
    (void)nth;
    for (nn_size s = s0; s < n && !gov->flag; s += B) {
        nn_size nb = n - s < B ? n - s : B;
        const real *x = (const real *)c->Xt + s * I0;
        if (c->x_f32 && sizeof(real) != sizeof(float)) {   /* float32 inputs of a float64 net: exact */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
            for (nn_size r = 0; r < nb; r++) S(load_row)(xb + r * I0, c->Xt, 1, s + r, I0);
            nn_sync();
            x = xb;
        }
        S(forward)(net, x, 1, nb, 0, 0, 0);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size r = 0; r < nb; r++) {
            const real *ar = a + r * O;
            c->pred[s + r] = ARGMAX(ar, O);
            if (c->out) memcpy(c->out + (s + r) * O, ar, O * sizeof(real));
            if (c->costs) c->costs[s + r] = S(nn3_cost_forward)(net->cost, ar, c->T + (s + r) * O, O);
        }
        if (t == 0) nn_gov_unit_done(gov, s + nb, s + nb);
        nn_sync();
    }
    return 0;
}

/* The evaluation path (weights scaled by 1 - p where a layer drops its input in training) over n
 * rows of X (n, I0; float32 under a float64 net when x_f32), B at a time: pred[r] = argmax of the
 * output (numpy's: first maximum, first NaN); out (n, O_last) receives the outputs when not NULL;
 * costs[r] the cost (net->cost) of the output against T's row r (n, O_last) when costs is not NULL.
 * In segments like nn3_train.  Returns the rows done: n, or fewer (a multiple of B) after a SIGINT
 * (-1: out of memory). */
nn_size S(nn3_predict)(nn3_net *net, const void *X, int x_f32, nn_size n, const real *T, int64_t *pred,
                       double *costs, real *out, int nthreads) {
    S(nn3_ctx) c = {net, X, x_f32, NULL, NULL, T, NULL, 0, 0, 0, 0, n, pred, costs, out};
    return nn_gov_run(NN_GOV_PREDICT, nthreads, S(shape_key)(net), 0, n, 0, S(nn3_predict_body), &c);
}
#endif
