/* Fully connected networks: forward/backward kernels and the whole-epoch SGD loop.
 *
 * Shape letters, used in every comment of dense*.{c,h}:
 *   B  rows of a mini-batch (examples), at most MB (the mini-batch size)
 *   L  weight layers; layer l = 1..L maps J_{l-1} = sizes[l-1] inputs to J_l = sizes[l] units
 *   K  inputs of the layer at hand, J its units
 * Layouts follow the book (network.py / network2.py): W_l is (J_l, J_{l-1}) row-major,
 * rows are the receiving units; b_l has J_l entries; activations are (B, J) row-major,
 * one example per row.
 *
 * Everything is templated on the element type: each function below exists as
 * *_d (double) and *_f (float), reached through the dtype field or argument
 * (NN_F64 / NN_F32).  On x86-64 an AVX2+FMA build of the same code is chosen at
 * run time when the CPU has it.
 */
#ifndef NNFAST_DENSE_H
#define NNFAST_DENSE_H

#include "nnfast.h"

enum nn_dtype { NN_F64 = 0, NN_F32 = 1 };

/* Regularisation of the weight update. */
enum nn_reg { NN_REG_L2 = 0, NN_REG_L1 = 1 };

/* A network as the kernels see it: pointers into the user-visible numpy arrays
 * and into workspace made once per SGD call.  Every pointer array has L+1 slots
 * indexed by layer (slot 0 unused). */
typedef struct {
    int dtype;               /* NN_F64 or NN_F32: the type of every array below */
    int L;                   /* number of weight layers */
    const nn_size *sizes;    /* L+1 layer sizes */
    int act_hidden;          /* enum nn_activation of layers 1..L-1 */
    int act_out;             /* NN_SIGMOID or NN_SOFTMAX for layer L */
    int cost;                /* enum nn_cost */
    void **W;                /* W[l]: (J_l, J_{l-1}) */
    void **b;                /* b[l]: (J_l) */
    void **vW, **vb;         /* momentum velocities like W, b; NULL without momentum */
    /* workspace, each (MB, J_l): */
    void **A;                /* A[l]: activations (A[0] unused: inputs are read from X) */
    void **Z;                /* weighted inputs */
    void **D;                /* deltas dC/dZ */
    void **M;                /* dropout keep-masks (0/1) of hidden layers; NULL without dropout */
    /* the BLAS path of training (nn_dense_train_uses_blas); NULL / unused on the small-batch path: */
    void *gemm;              /* BLAS ?gemm of the dtype (scipy.linalg.cython_blas); A[0] then holds
                              * the gathered input rows (MB, J_0) */
    void **G;                /* G[l]: pieces x (J_l, J_{l-1}) weight gradient sums of a mini-batch */
} nn_dense_net;

/* One epoch of mini-batch SGD (book: SGD's inner loop + update_mini_batch + backprop). */
typedef struct {
    const void *X;           /* inputs, (n_rows, J_0), row stride ldx elements */
    int x_dtype;             /* NN_F64 or NN_F32; f32 inputs feed an f64 net exactly */
    nn_size ldx;
    const void *Y;           /* targets in the net's dtype, (n_rows, J_L), row stride ldy */
    nn_size ldy;
    const int64_t *order;    /* row of X / Y for each position of this epoch, n entries */
    nn_size n;               /* examples this epoch */
    nn_size mbs;             /* mini-batch size; the last mini-batch may be shorter */
    double eta;              /* learning rate */
    double lmbda_over_n;     /* regularisation strength lambda / n_train (0: none) */
    int reg;                 /* enum nn_reg */
    double mu;               /* momentum coefficient (0: plain SGD, velocities unused) */
    double p_dropout;        /* probability of dropping a hidden unit (0: off) */
    uint64_t seed;           /* dropout seed */
    uint64_t counter0;       /* dropout example counter of position 0 (epoch * n) */
    int nthreads;            /* at most this many threads: the governor of threads.c chooses */
    volatile int *stop;      /* polled once per mini-batch; nonzero ends the epoch early (may be NULL) */
    volatile nn_size *progress;  /* examples done so far this epoch (may be NULL) */
    int *nonfinite;          /* set to 1 when an inf or NaN weighted input or output delta ended the
                              * epoch before that mini-batch's update (may be NULL) */
} nn_dense_sgd;

/* Train one epoch in place.  Returns the number of examples processed: n, or
 * fewer (always a whole number of mini-batches) when *stop became nonzero, a SIGINT
 * came (threads.c), or a non-finite value appeared (then *nonfinite is 1 and W, b are as after the
 * mini-batch before). */

nn_size nn_dense_train_epoch(const nn_dense_net *net, const nn_dense_sgd *opt);

/* 0 when nets of this shape train on the register-blocked small-batch kernels, else the number
 * of pieces (>= 1) a mini-batch is cut into on the BLAS path (whole mini-batches as matrix
 * products by BLAS): net->gemm, A[0] and net->G must then be set, G[l] holding that many
 * (J_l, J_{l-1}) gradient sums one after the other.
 * force: -1 chooses by the shape (the crossover is in dense.c), 0 or 1 say which (tests and
 * benchmarks). */
int nn_dense_train_uses_blas(int dtype, int L, const nn_size *sizes, nn_size mbs, int force);

/* Batched evaluation (book: feedforward over a data set, evaluate/accuracy/total_cost).
 * For rows 0..n-1 of X: pred[i] = argmax of the output (first maximum, as np.argmax),
 * and, when Y is not NULL, cost[i] = the cost function of the output against Y's row.
 * Hidden activations are scaled by hidden_scale (1 - p_dropout; 1 without dropout).
 * out (may be NULL) receives the output activations, (n, J_L).
 * The layer products go through gemm, BLAS's dgemm (NN_F64) or sgemm (NN_F32) with
 * Fortran conventions (scipy.linalg.cython_blas), on chunks of rows spread over
 * nthreads threads: BLAS must be held to one thread during the call.
 * Chunks of nn_dense_eval_rows(net) rows (fixed by the net's sizes and dtype).
 * scratch: nthreads * nn_dense_eval_scratch(net) elements of the net's dtype.
 * Threads: up to nthreads, as the governor of threads.c chooses.  Returns the rows done: n, or
 * fewer after a SIGINT (whole chunks from row 0 on; -1: out of memory). */
const char *nn_dense_path(void);   /* "avx2+fma" or "baseline": the path the dense kernels take */
nn_size nn_dense_eval_scratch(const nn_dense_net *net);
nn_size nn_dense_eval_rows(const nn_dense_net *net);
nn_size nn_dense_eval(const nn_dense_net *net, void *gemm, const void *X, int x_dtype, nn_size ldx, nn_size n,
                      const void *Y, nn_size ldy, double hidden_scale,
                      int64_t *pred, double *cost, void *out, void *scratch, int nthreads);

/* The first row r < n of X (n rows of d numbers of the dtype, rows ld elements apart) holding a NaN
 * or an infinity, or -1: the input check of every SGD call, one pass and no temporaries (numpy's
 * isfinite and any over blocks of rows write and read a boolean array as large as each block). */
nn_size nn_first_nonfinite_row(int dtype, const void *X, nn_size n, nn_size d, nn_size ld);

/* Single-layer kernels, exposed for tests (fast and naive reference versions).
 * dense_forward:  Z (B, J) = A (B, K) . W^T (J, K) + b (J)
 * dense_backward: dA (B, K) += D (B, J) . W (J, K);  dW (J, K) += D^T . A;  db (J) += sum_rows D */
void nn_dense_forward(int dtype, const void *A, nn_size lda, nn_size B, const void *W, nn_size K, nn_size J,
                      const void *b, void *Z, nn_size ldz, int naive, int nthreads);
void nn_dense_backward(int dtype, const void *A, nn_size lda, nn_size B, const void *W, nn_size K, nn_size J,
                       const void *D, nn_size ldd, void *dA, nn_size ldda, void *dW, void *db, int naive, int nthreads);

#endif
