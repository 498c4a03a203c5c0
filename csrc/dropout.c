/* Dropout of a layer's input: keep mask from the counter-based generator of rng.h.
 *
 * mask[r, u] = 1 if nn_uniform(seed, stream, first + r, u) >= p else 0; xd = x * mask (no rescaling:
 * as the book, the evaluation path scales the weights by 1 - p instead).
 * Shapes: x, mask, xd, dx (nb, I).  A mask bit depends only on (seed, stream, example, unit).
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include "net3.h"
#include "rng.h"
#define NN_TMPL "dropout.c"
#include "tmpl.h"
#else

/* Work: rows. */
void S(nn3_dropout_forward)(const real *x, real *mask, real *xd, double p, uint64_t seed, uint64_t stream,
                            uint64_t first, nn_size nb, nn_size I) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size r = 0; r < nb; r++)
        for (nn_size u = 0; u < I; u++) {
            real m = nn_uniform(seed, stream, first + (uint64_t)r, (uint64_t)u) >= p ? (real)1 : (real)0;
            mask[r * I + u] = m;
            xd[r * I + u] = x[r * I + u] * m;
        }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
