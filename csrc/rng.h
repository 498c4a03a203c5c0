/* Counter-based random numbers for dropout masks.
 *
 * A mask bit is a pure function of (seed, stream, a, b): no state, so the masks
 * do not depend on the thread count or the order in which threads run.
 *   u = nn_uniform(seed, stream, a, b)  in [0, 1), 53 random bits
 *   keep unit  <=>  u >= p
 * with, by convention, stream = layer index, a = example counter (epoch * n + position,
 * or the mini-batch row's global index), b = unit index.  nnfast.reference._rng
 * computes the same numbers in numpy; tests hold the two equal.
 */
#ifndef NNFAST_RNG_H
#define NNFAST_RNG_H

#include <stdint.h>

static inline uint64_t nn_splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t nn_hash4(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
    return nn_splitmix64(seed ^ nn_splitmix64(stream ^ nn_splitmix64(a ^ nn_splitmix64(b))));
}

static inline double nn_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
    return (double)(nn_hash4(seed, stream, a, b) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
