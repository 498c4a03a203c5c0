"""Argument checks for all three networks, with one convention.

A wrong type raises TypeError, a wrong value ValueError; the message names the
argument and says what was expected ("eta must be > 0, got -1.0").  Every
check runs before anything changes, so a refused call leaves the network,
the data and the random generators as they were.
"""
import math
import numbers

import numpy as np

FLOAT_TYPES = (np.dtype(np.float64), np.dtype(np.float32))
# the most weights one layer may have (and the largest layer): what a C int, and a BLAS dimension, can count
MAX_MATRIX = (1 << 31) - 1


def check_int(name, value, minimum):
    """``value`` as an int >= ``minimum`` (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    if value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    return int(value)


def check_real(name, value, positive=False, nonnegative=False, below=None):
    """``value`` as a finite float, > 0 (``positive``), >= 0 (``nonnegative``), < ``below``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a real number, got %r" % (name, value))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("%s must be finite, got %r" % (name, value))
    if positive and not value > 0:
        raise ValueError("%s must be > 0, got %r" % (name, value))
    if nonnegative and value < 0:
        raise ValueError("%s must be >= 0, got %r" % (name, value))
    if below is not None and not value < below:
        raise ValueError("%s must be < %r, got %r" % (name, below, value))
    return value


def check_probability(name, value):
    """A dropout probability or momentum coefficient: a number in [0, 1)."""
    return check_real(name, value, nonnegative=True, below=1.0)


def check_one_of(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(map(repr, choices)), value))
    return value


def check_sizes(sizes):
    """``sizes`` as a list of positive ints, at least an input and an output layer."""
    try:
        items = list(sizes)
    except TypeError:
        raise TypeError("sizes must be a list of layer sizes like [784, 30, 10], got %r" % (sizes,)) from None
    if len(items) < 2:
        raise ValueError("sizes needs at least two layers (input and output), got %r" % (items,))
    out = [check_int("sizes[%d]" % i, s, 1) for i, s in enumerate(items)]
    for i, s in enumerate(out):
        if s > MAX_MATRIX:
            raise ValueError("sizes[%d] must be at most %d (BLAS counts in 32-bit ints), got %d" % (i, MAX_MATRIX, s))
    for i in range(len(out) - 1):
        if out[i] * out[i + 1] > MAX_MATRIX:
            raise ValueError("sizes[%d] * sizes[%d] = %d weights: more than the %d one layer may have"
                             % (i, i + 1, out[i] * out[i + 1], MAX_MATRIX))
    return out


def check_dtype(dtype, where="dtype"):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_TYPES:
        raise TypeError("%s must be float64 or float32, got %r" % (where, dtype))
    return dt


def check_same_length(name, x, y):
    """Inputs and labels of one data set must pair up: no broadcasting one label over many inputs."""
    if len(x) != len(y):
        raise ValueError("%s: %d inputs but %d labels" % (name, len(x), len(y)))


def check_param(name, value, shape, dtype):
    """A parameter array the user may have assigned: exactly ``shape``, real numbers, finite.
    Returns it as a C-contiguous array of ``dtype`` (a copy only where needed)."""
    try:
        a = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything not array-like
        raise TypeError("%s: expected a numeric array, got %s" % (name, type(value).__name__)) from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError("%s: expected a real numeric array, got dtype %s" % (name, a.dtype))
    if a.shape != tuple(shape):
        raise ValueError("%s: expected shape %s, got %s" % (name, tuple(shape), a.shape))
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ValueError("%s: holds NaN or infinity (or values beyond %s)" % (name, np.dtype(dtype)))
    return a
