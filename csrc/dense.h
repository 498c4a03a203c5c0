/* Fully connected networks: forward/backward kernels and the batched evaluation of network and
 * network2 (their training runs on the one loop of net3.c).
 *
 * Shape letters, used in every comment of dense*.{c,h}:
 *   B  rows of a mini-batch (examples), at most MB (the mini-batch size)
 *   L  weight layers; layer l = 1..L maps J_{l-1} = sizes[l-1] inputs to J_l = sizes[l] units
 *   K  inputs of the layer at hand, J its units
 * Evaluation reads W_l as (J_{l-1}, J_l) row-major, the engine's layout of every fully connected
 * layer (network3's w; network.py's weights[l] are its transposed views); the single-layer kernels
 * take the book's W (J, K), rows the receiving units.  b_l has J_l entries; activations are (B, J)
 * row-major, one example per row.
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

/* A network as evaluation sees it: pointers into the parameter arrays.  Every pointer array has
 * L+1 slots indexed by layer (slot 0 unused). */
typedef struct {
    int dtype;               /* NN_F64 or NN_F32: the type of every array below */
    int L;                   /* number of weight layers */
    const nn_size *sizes;    /* L+1 layer sizes */
    int act_hidden;          /* enum nn_activation of layers 1..L-1 */
    int act_out;             /* NN_SIGMOID or NN_SOFTMAX for layer L */
    int cost;                /* enum nn_cost */
    void **W;                /* W[l]: (J_{l-1}, J_l) */
    void **b;                /* b[l]: (J_l) */
} nn_dense_net;

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
