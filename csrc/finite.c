/* The finiteness check of input matrices: x * 0 is 0 for a finite x and NaN for an infinity or a
 * NaN, so a row is finite when the sum of x * 0 over it is 0.  The sums run in NN_FINITE_LANES
 * independent lanes (lane i takes the elements k = i mod NN_FINITE_LANES), which the compiler maps to
 * vectors without reordering a sum.  One pass over the data and no temporaries: numpy's isfinite and
 * any over blocks of rows write and read a boolean array as large as each block.  Serial: the caller
 * checks a matrix once per SGD call. */
#include "finite.h"

#define NN_FINITE_LANES 16

#define NN_FIRST_NONFINITE(real)                                                   \
    for (ptrdiff_t r = 0; r < n; r++) {                                            \
        const real *row = (const real *)X + r * ld;                                \
        real acc[NN_FINITE_LANES] = {0}, s = 0;                                    \
        ptrdiff_t k = 0;                                                           \
        for (; k + NN_FINITE_LANES <= d; k += NN_FINITE_LANES)                     \
            for (int i = 0; i < NN_FINITE_LANES; i++) acc[i] += row[k + i] * 0;    \
        for (; k < d; k++) s += row[k] * 0;                                        \
        for (int i = 0; i < NN_FINITE_LANES; i++) s += acc[i];                     \
        if (s != 0) return r;                                                      \
    }                                                                              \
    return -1;

ptrdiff_t nn_first_nonfinite_row(const void *X, int is_f32, ptrdiff_t n, ptrdiff_t d, ptrdiff_t ld) {
    if (is_f32) {
        NN_FIRST_NONFINITE(float)
    } else {
        NN_FIRST_NONFINITE(double)
    }
}
