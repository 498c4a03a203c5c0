/* Python's random.shuffle, exactly, on an array of indices.
 *
 * The book shuffles its list of training examples with random.shuffle every
 * epoch; nnfast shuffles row indices instead, and must produce the very same
 * order from the same state of Python's global generator.  In Python that
 * costs ~15 ms per epoch of 60,000 (a third of a millisecond per 1,000 swaps):
 * a tenth of a chapter-1 epoch.  Here it is CPython's algorithm on CPython's
 * generator, MT19937 (Modules/_randommodule.c), driven by the state that
 * random.getstate() hands out and handed back with random.setstate():
 *
 *   for i = n-1 .. 1:  j = randbelow(i+1);  swap x[i], x[j]
 *   randbelow(m):      k = bit_length(m); r = getrandbits(k) until r < m
 *   getrandbits(k<=32): genrand_uint32() >> (32 - k)
 */
#include "shuffle.h"

#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfU
#define MT_UPPER 0x80000000U
#define MT_LOWER 0x7fffffffU

static uint32_t genrand_uint32(uint32_t *mt, int *index) {
    static const uint32_t mag01[2] = {0x0U, MT_MATRIX_A};
    uint32_t y;
    if (*index >= MT_N) {   /* the next 624 words at once */
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (mt[kk] & MT_UPPER) | (mt[kk + 1] & MT_LOWER);
            mt[kk] = mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (mt[kk] & MT_UPPER) | (mt[kk + 1] & MT_LOWER);
            mt[kk] = mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        y = (mt[MT_N - 1] & MT_UPPER) | (mt[0] & MT_LOWER);
        mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 0x1U];
        *index = 0;
    }
    y = mt[(*index)++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

int nn_py_shuffle(uint32_t *mt, int *index, int64_t *x, int64_t n) {
    if (n > 0xffffffffLL || *index < 0 || *index > MT_N) return -1;   /* getrandbits(k > 32): not here */
    for (int64_t i = n - 1; i >= 1; i--) {
        const uint64_t m = (uint64_t)i + 1;
        int k = 0;
        while ((m >> k) != 0) k++;                       /* bit_length(m), 2..32 */
        uint64_t r;
        do r = genrand_uint32(mt, index) >> (32 - k); while (r >= m);
        const int64_t t = x[i];
        x[i] = x[r];
        x[r] = t;
    }
    return 0;
}
