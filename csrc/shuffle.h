/* Python's random.shuffle on int64 indices, from and back to random.getstate()'s MT19937 state. */
#ifndef NNFAST_SHUFFLE_H
#define NNFAST_SHUFFLE_H
#include <stdint.h>

/* Shuffle x[0..n) as random.shuffle would a list, advancing the generator state
 * mt[624] / *index in place.  Returns 0, or -1 (nothing done) for n >= 2**32 or a bad index. */
int nn_py_shuffle(uint32_t *mt, int *index, int64_t *x, int64_t n);

#endif
