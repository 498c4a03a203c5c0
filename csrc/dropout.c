/* Dropout of a layer's input: keep mask from the counter-based generator of rng.h.
 *
 * forward:  mask[r, u] = 1 if nn_uniform(seed, stream, first + r, u) >= p else 0; xd = x * mask (no
 *           rescaling: as the book, the evaluation path scales the weights by 1 - p instead);
 * backward: dx = dxd * mask.
 * Shapes: x, mask, xd, dx (nb, I).  A mask bit depends only on (seed, stream, example, unit).
 * Compiled for float and double (tmpl.h).
 */
#ifndef NN_TMPL
#include <math.h>
#include "net3.h"
#include "rng.h"

/* units per block of a row: the hash of each unit index, nn_splitmix64(u), is made once per block
 * and serves every row */
#define NN_DROP_UNITS 256

/* u >= p for u = nn_uniform(...) = (h >> 11) 2^-53, exactly: both sides scaled by 2^53 (exact), and an
 * integer k is >= v when k >= ceil(v).  So keep <=> (h >> 11) >= nn_keep_threshold(p), integers only
 * (p >= 1 or NaN: nothing kept, as u >= p is then false). */
static inline uint64_t nn_keep_threshold(double p) {
    const double two53 = 9007199254740992.0;
    if (!(p < 1)) return (uint64_t)1 << 53;
    return p <= 0 ? 0 : (uint64_t)ceil(p * two53);
}

/* keep[k] = 1 or 0 for units u0 .. u0 + n of example a: the hash of rng.h's nn_hash4 from the units'
 * own hashes hu[k] = nn_splitmix64(u0 + k).  Integer operations only, written for the vectoriser;
 * GCC 12 on (which knows arch=x86-64-v4 in target_clones) clones it per instruction set. */
#if defined(__GNUC__) && __GNUC__ >= 12 && !defined(__clang__) && defined(__x86_64__) && !NN_PORTABLE_C && defined(__ELF__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
static void nn_keep_units(uint64_t seed, uint64_t stream, uint64_t a, const uint64_t *hu, uint64_t thr,
                          unsigned char *keep, nn_size n) {
    for (nn_size k = 0; k < n; k++) {
        uint64_t h = nn_splitmix64(seed ^ nn_splitmix64(stream ^ nn_splitmix64(a ^ hu[k])));
        keep[k] = (h >> 11) >= thr;
    }
}

#define NN_TMPL "dropout.c"
#include "tmpl.h"
#else

/* Work: nn3_parts(nb, 4, 4) slices of the rows (a slice makes each block's unit hashes once). */
void S(nn3_dropout_forward)(const real *x, real *mask, real *xd, double p, uint64_t seed, uint64_t stream,
                            uint64_t first, nn_size nb, nn_size I) {
    const uint64_t thr = nn_keep_threshold(p);
    const nn_size parts = nn3_parts(nb, 4, 4);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        uint64_t hu[NN_DROP_UNITS];
        unsigned char keep[NN_DROP_UNITS];
        for (nn_size u0 = 0; u0 < I; u0 += NN_DROP_UNITS) {
            const nn_size n = I - u0 < NN_DROP_UNITS ? I - u0 : NN_DROP_UNITS;
            for (nn_size k = 0; k < n; k++) hu[k] = nn_splitmix64((uint64_t)(u0 + k));
            for (nn_size r = nn3_part_lo(nb, parts, t); r < nn3_part_lo(nb, parts, t + 1); r++) {
                nn_keep_units(seed, stream, first + (uint64_t)r, hu, thr, keep, n);
                for (nn_size k = 0; k < n; k++) {
                    real m = keep[k] ? (real)1 : (real)0;
                    mask[r * I + u0 + k] = m;
                    xd[r * I + u0 + k] = x[r * I + u0 + k] * m;
                }
            }
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* dL/dx = dL/dxd * mask on columns [lo, hi) of dx (nb, I), in place: the input gradient of the
 * layer that dropped them (dense3.c's backward pass runs it on each slice it makes).  By the calling
 * thread alone. */
void S(nn3_dropout_backward_cols)(real *dx, const real *mask, nn_size nb, nn_size I, nn_size lo, nn_size hi) {
    for (nn_size r = 0; r < nb; r++)
        for (nn_size i = lo; i < hi; i++) dx[r * I + i] *= mask[r * I + i];
}
#endif
