/* The register-blocked fully connected kernels: network3's fully connected operation (dense3.c)
 * runs its small-batch products on them (dense_fc3.h); every network trains on net3.c's loop.
 *
 * Shape letters, used in every comment of dense*.{c,h}:
 *   B  rows of a mini-batch (examples), at most 64 here
 *   K  inputs of the layer at hand, J its units
 * The kernels take the book's W (J, K), rows the receiving units (dense_fc3.h maps network3's w
 * (I, O) onto them); b has J entries; activations are (B, J) row-major, one example per row.
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

const char *nn_dense_path(void);   /* "avx2+fma", "baseline" or "portable": the path the dense kernels take */

/* The first row r < n of X (n rows of d numbers of the dtype, rows ld elements apart) holding a NaN
 * or an infinity, or -1: the input check of every SGD call, one pass and no temporaries (numpy's
 * isfinite and any over blocks of rows write and read a boolean array as large as each block). */
nn_size nn_first_nonfinite_row(int dtype, const void *X, nn_size n, nn_size d, nn_size ld);

#endif
