"""The counter-based generator of csrc/rng.h, in numpy (uint64 arithmetic wraps).

``uniform(seed, stream, a, b)`` broadcasts over array arguments and returns the
same doubles in [0, 1) as the C kernels, so dropout masks can be checked bit for bit.
"""
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _u64(x):
    return np.asarray(x).astype(np.uint64)


def splitmix64(z):
    z = np.atleast_1d(_u64(z)) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(seed, stream, a, b):
    """Doubles in [0, 1): 53 bits of splitmix64(seed ^ sm(stream ^ sm(a ^ sm(b))))."""
    with np.errstate(over="ignore"):
        h = splitmix64(_u64(seed) ^ splitmix64(_u64(stream) ^ splitmix64(_u64(a) ^ splitmix64(_u64(b)))))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def keep_mask(seed, stream, a, b, p):
    """True where a unit is kept (u >= p), False where dropped."""
    return uniform(seed, stream, a, b) >= p
