"""What network.py and network2.py share: checking arguments, laying data out
once per SGD call, and driving the native epoch loop of csrc/dense.c.

Chapter 1's network is chapter 3's with the quadratic cost and the large
initialiser, so both modules are thin faces of this one engine.
"""
import math
import numbers
import random
import time

import numpy as np

from . import _config, _core
from ._errors import TrainingDiverged

# codes shared with csrc/nnfast.h
LINEAR, SIGMOID, TANH, RELU, SOFTMAX = 0, 1, 2, 3, 4
ACTIVATIONS = {"linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
QUADRATIC, CROSS_ENTROPY, LOG_LIKELIHOOD = 0, 1, 2
REG_L2, REG_L1 = 0, 1
FLOAT_TYPES = (np.dtype(np.float64), np.dtype(np.float32))
MAX_LAYER = 2 ** 31 - 1
# an epoch runs as native calls of about CHUNK_SECONDS each (Engine.epoch)
CHUNK_SECONDS = 0.05
FIRST_CHUNK_BATCHES = 256
MAX_CHUNK_BATCHES = 1 << 16
# the most weights one layer may have: 2**31 - 1, what a C int (and a BLAS dimension) can count
MAX_MATRIX = (1 << 31) - 1


# ---------------------------------------------------------------------------
# argument checks: a clear error naming the argument, before anything changes
# ---------------------------------------------------------------------------

def check_sizes(sizes):
    """``sizes`` as a list of positive ints, at least an input and an output layer."""
    try:
        items = list(sizes)
    except TypeError:
        raise TypeError("sizes must be a list of layer sizes like [784, 30, 10], got %r" % (sizes,)) from None
    if len(items) < 2:
        raise ValueError("sizes needs at least two layers (input and output), got %r" % (items,))
    out = []
    for i, s in enumerate(items):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError("sizes[%d] must be an integer, got %r" % (i, s))
        if s < 1:
            raise ValueError("sizes[%d] must be >= 1, got %d" % (i, s))
        if s > MAX_LAYER:
            raise ValueError("sizes[%d] must be at most %d (BLAS counts in 32-bit ints), got %d" % (i, MAX_LAYER, s))
        out.append(int(s))
    for i in range(len(out) - 1):
        if out[i] * out[i + 1] > MAX_MATRIX:
            raise ValueError("sizes[%d] * sizes[%d] = %d weights: more than the %d one layer may have"
                             % (i, i + 1, out[i] * out[i + 1], MAX_MATRIX))
    return out


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    if value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    return int(value)


def check_real(name, value, positive=False, nonnegative=False, below=None):
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


def check_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in FLOAT_TYPES:
        raise TypeError("dtype must be float64 or float32, got %s" % dt)
    return dt


# ---------------------------------------------------------------------------
# data: the book's lists of (x, y) tuples, or array pairs (X, Y)
# ---------------------------------------------------------------------------

def _input_matrix(X, name, n_in, dtype):
    """(n, n_in) C-contiguous inputs: float32 kept (exactly promoted in C), else the net's dtype."""
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError("%s: inputs must be numeric arrays, got dtype %s" % (name, X.dtype))
    if np.iscomplexobj(X):
        raise TypeError("%s: inputs must be real, got dtype %s" % (name, X.dtype))
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError("%s: inputs must have %d values each (sizes[0]), got an array of shape %s"
                         % (name, n_in, X.shape))
    keep = X.dtype == np.float32 and dtype == np.float64
    check_float_range(X, name, dtype)
    X = np.ascontiguousarray(X, dtype=X.dtype if keep else dtype)
    bad = first_row_where(X, lambda block: ~np.isfinite(block))
    if bad is not None:
        raise ValueError("%s: input %d contains NaN or infinity" % (name, bad))
    return X


def first_row_where(X, test, block_rows=4096):
    """The first row of the 2-D array X where test(rows) is true somewhere, or None.

    Works through blocks of rows, so that a check of the 60,000-image set needs
    a few MB of temporaries instead of a boolean array as large as the data."""
    if X.size == 0:
        return None
    X2 = X.reshape(len(X), -1)
    for r in range(0, len(X2), block_rows):
        hit = test(X2[r:r + block_rows])
        if hit.any():
            return r + int(np.argmax(hit.reshape(len(hit), -1).any(axis=1)))
    return None


def check_float_range(X, name, dtype):
    """Inputs beyond ``dtype``'s range (1e300 into float32) would turn into inf with a
    cast warning: say so instead."""
    if X.dtype.kind == "f" and X.dtype.itemsize > np.dtype(dtype).itemsize and X.size and X.ndim >= 1:
        big = np.finfo(dtype).max
        with np.errstate(invalid="ignore"):
            bad = first_row_where(X, lambda block: np.abs(block) > big)
        if bad is not None:
            raise ValueError("%s: input %d holds values beyond the range of %s" % (name, bad, np.dtype(dtype)))


def _stack_inputs(data, name, n_in):
    xs = []
    for i, item in enumerate(data):
        try:
            x, _ = item
        except (TypeError, ValueError):
            raise TypeError("%s[%d] must be an (x, y) pair, got %r" % (name, i, type(item).__name__)) from None
        x = np.asarray(x)
        if x.size != n_in:
            raise ValueError("%s[%d]: input has %d values, expected %d (sizes[0]); shape %s"
                             % (name, i, x.size, n_in, x.shape))
        xs.append(x.reshape(1, n_in))
    return np.concatenate(xs, axis=0)


def _labels_to_onehot(labels, name, n_out, dtype):
    labels = np.asarray(labels)
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError("%s: integer labels expected, got dtype %s" % (name, labels.dtype))
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError("%s: labels must be in 0..%d (sizes[-1] - 1), got range %d..%d"
                         % (name, n_out - 1, labels.min(), labels.max()))
    Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _targets(ys, name, n, n_out, dtype):
    """Targets as (n, n_out) in the net's dtype, from one-hot/real vectors or integer labels."""
    if isinstance(ys, np.ndarray) and ys.ndim == 1 or (isinstance(ys, list) and ys and
                                                       all(isinstance(y, numbers.Integral) for y in ys)):
        return _labels_to_onehot(ys, name, n_out, dtype)
    if isinstance(ys, list):
        rows = []
        for i, y in enumerate(ys):
            if isinstance(y, numbers.Integral) and not isinstance(y, bool):
                rows.append(_labels_to_onehot([y], "%s[%d]" % (name, i), n_out, dtype))
                continue
            y = np.asarray(y)
            if y.size != n_out:
                raise ValueError("%s[%d]: target has %d values, expected %d (sizes[-1]); shape %s"
                                 % (name, i, y.size, n_out, y.shape))
            rows.append(y.reshape(1, n_out))
        Y = np.concatenate(rows, axis=0)
    else:
        Y = np.asarray(ys)
        if Y.ndim != 2 or Y.shape != (n, n_out):
            raise ValueError("%s: targets must have shape (%d, %d) or be %d integer labels, got shape %s"
                             % (name, n, n_out, n, Y.shape))
    if Y.dtype == object or not (np.issubdtype(Y.dtype, np.number) or Y.dtype == np.bool_):
        raise TypeError("%s: targets must be numeric, got dtype %s" % (name, Y.dtype))
    Y = np.ascontiguousarray(Y, dtype=dtype)
    if not np.isfinite(Y).all():
        raise ValueError("%s: targets contain NaN or infinity" % name)
    return Y


def as_arrays(data, name, n_in, n_out, dtype):
    """Data as ``(X, Y, is_list)``: X (n, n_in), Y (n, n_out) targets in ``dtype``.

    ``data`` is the book's list of ``(x, y)`` tuples (x a column of n_in values,
    y a column of n_out targets or an integer label) or an array pair ``(X, Y)``.
    """
    if data is None:
        raise ValueError("%s is empty" % name)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and data[0].ndim == 2:
        X = _input_matrix(data[0], name, n_in, dtype)
        if len(X) == 0:
            raise ValueError("%s is empty" % name)
        ys = data[1] if isinstance(data[1], (list, np.ndarray)) else np.asarray(data[1])
        if len(ys) != len(X):
            raise ValueError("%s: %d inputs but %d targets" % (name, len(X), len(ys)))
        return X, _targets(ys, name, len(X), n_out, dtype), False
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
        if hasattr(data, "__iter__"):
            data = list(data)
        else:
            raise TypeError("%s must be a list of (x, y) pairs or a pair of arrays (X, Y), got %s"
                            % (name, type(data).__name__))
    if len(data) == 0:
        raise ValueError("%s is empty" % name)
    X = _input_matrix(_stack_inputs(data, name, n_in), name, n_in, dtype)
    Y = _targets([item[1] for item in data], name, len(X), n_out, dtype)
    return X, Y, True


def as_eval_arrays(data, name, n_in, n_out, dtype):
    """Evaluation data as ``(X, labels)``: integer labels, or argmax of one-hot targets."""
    X, Y, _ = as_arrays(data, name, n_in, n_out, dtype)
    return X, Y


def labels_of(Y):
    """Integer labels from (n, n_out) targets: argmax per row, as the book's accuracy(convert=True)."""
    return np.argmax(Y, axis=1)


# ---------------------------------------------------------------------------
# parameters: the user-visible arrays, made kernel-ready in place
# ---------------------------------------------------------------------------

def check_params(net):
    """Check ``net.weights`` / ``net.biases`` against ``net.sizes`` without changing them."""
    sizes = net.sizes
    L = len(sizes) - 1
    for what, arrs in (("weights", net.weights), ("biases", net.biases)):
        if len(arrs) != L:
            raise ValueError("%s has %d arrays, expected %d for sizes %s" % (what, len(arrs), L, sizes))
    for l in range(L):
        for what, arr, shape in (("weights", net.weights[l], (sizes[l + 1], sizes[l])),
                                 ("biases", net.biases[l], (sizes[l + 1], 1))):
            a = np.asarray(arr)
            if a.size != shape[0] * shape[1] or (a.ndim == 2 and a.shape != shape) or a.ndim > 2:
                raise ValueError("%s[%d] must have shape %s, got %s" % (what, l, shape, a.shape))
            if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
                raise TypeError("%s[%d] must be a real numeric array, got dtype %s" % (what, l, a.dtype))
            if not np.isfinite(a).all():
                raise ValueError("%s[%d] contains NaN or infinity" % (what, l))


def kernel_ready_params(net):
    """Make every weight and bias array C-contiguous, writeable, of the net's dtype and
    the book's shape, replacing in the lists only those that are not (call after check_params)."""
    sizes, dt = net.sizes, net.dtype
    for l in range(len(sizes) - 1):
        for arrs, shape in ((net.weights, (sizes[l + 1], sizes[l])), (net.biases, (sizes[l + 1], 1))):
            a = arrs[l]
            if not (isinstance(a, np.ndarray) and a.dtype == dt and a.shape == shape
                    and a.flags.c_contiguous and a.flags.writeable and a.flags.aligned):
                arrs[l] = np.array(np.asarray(a).reshape(shape), dtype=dt, order="C", copy=True)
    return list(net.weights), list(net.biases)


# ---------------------------------------------------------------------------
# the native engine
# ---------------------------------------------------------------------------

class Engine(object):
    """One SGD call's native state: the kernels' view of the network plus workspace."""

    def __init__(self, net, act_hidden, act_out, cost, mbs, momentum=False, dropout=False):
        self.net = net
        self.core = _core.DenseNet(net.sizes, net.dtype, act_hidden, act_out, cost, mbs, momentum, dropout)
        self.velocities = None
        self.last_threads = None
        self.chunk = FIRST_CHUNK_BATCHES * self.core.mbs   # examples per native call, adapted
        self.epochs_started = 0      # epoch() calls so far: an SGD call's epoch number
        net.last_interrupted_at = None
        if momentum:
            self.velocities = ([np.zeros_like(w) for w in net.weights], [np.zeros_like(b) for b in net.biases])

    def bind(self):
        """Point the kernels at the network's current arrays (a user may assign new ones)."""
        w, b = kernel_ready_params(self.net)
        if self.velocities is not None:
            self.core.set_params(w, b, self.velocities[0], self.velocities[1])
        else:
            self.core.set_params(w, b)

    def epoch(self, *args, **kw):
        """One epoch (see _epoch); on Ctrl-C, records where it stopped (note_interrupt)."""
        try:
            return self._epoch(*args, **kw)
        except KeyboardInterrupt as e:
            self.note_interrupt(e)
            raise

    def _epoch(self, X, Y, order, eta, counter0=0, progress=None, **kw):
        """One epoch over ``order`` (row indices); returns the examples done.

        The epoch runs as a few native calls of whole mini-batches each, sized
        to take about CHUNK_SECONDS: between them Python sees Ctrl-C (which then
        leaves the weights as after a whole number of mini-batches) and calls
        ``progress(done, n)``; per call that costs microseconds, against tens of
        milliseconds of training.

        The native loop chooses its own thread count, up to the effective one
        (csrc/threads.c): no timing here.
        """
        self.bind()
        nt = _config.effective_threads()
        n, mbs = len(order), self.core.mbs
        pos = 0
        self.epochs_started += 1
        self.core.examples_done = 0
        while pos < n:
            size = self.chunk
            t0 = time.perf_counter()
            pos += self.core.train_epoch(X, Y, order[pos:pos + size], eta, counter0=counter0 + pos,
                                         nthreads=nt, **kw)
            self.check_finite(pos)
            if progress is not None:
                progress(pos, n)
            seconds = time.perf_counter() - t0
            if seconds > 0:
                # next chunk: about CHUNK_SECONDS, a whole number of mini-batches, within bounds
                size = int(size * min(4.0, CHUNK_SECONDS / seconds)) // mbs * mbs
                self.chunk = max(mbs, min(size, MAX_CHUNK_BATCHES * mbs))
        self.last_threads = nt
        return pos

    def check_finite(self, pos):
        """Raise TrainingDiverged when the last native call met an inf or NaN.

        The kernels check every weighted input and output delta before a
        mini-batch's update and stop there.  An update can itself overflow
        (eta times a gradient beyond the largest float): the next mini-batch's
        forward pass then sees it, or, after the last one of a call, the check
        of the parameters here (a few microseconds per call of ~50 ms).
        """
        j, mbs = self.epochs_started - 1, self.core.mbs
        params = self.net.weights + self.net.biases
        if self.velocities is not None:
            params = params + self.velocities[0] + self.velocities[1]
        finite = all(np.isfinite(a).all() for a in params)
        if self.core.nonfinite:
            k = pos // mbs
            if finite:
                raise TrainingDiverged("training diverged in epoch %d, mini-batch %d: a weighted input or output "
                                       "delta became infinite or NaN; the weights are as before that mini-batch "
                                       "(try a smaller eta)" % (j, k), j, k)
            k -= 1
        elif finite:
            return
        else:
            k = (pos - 1) // mbs
        raise TrainingDiverged("training diverged in epoch %d, mini-batch %d: its update overflowed, the weights "
                               "or biases now hold infinities or NaN (try a smaller eta)" % (j, k), j, k)

    def note_interrupt(self, exc):
        """Ctrl-C: record where (``net.last_interrupted_at = (epoch, examples done in it)``;
        the weights are as after that many examples, a whole number of mini-batches).
        SGD calls this too, for an interrupt between two epochs."""
        if getattr(exc, "_nnfast_noted", False):
            return
        exc._nnfast_noted = True
        where = (max(self.epochs_started - 1, 0), int(self.core.examples_done))
        self.net.last_interrupted_at = where
        if hasattr(exc, "add_note"):     # Python >= 3.11
            exc.add_note("nnfast: training stopped in epoch %d after %d examples (a whole number of mini-batches); "
                         "net.last_interrupted_at = %r" % (where[0], where[1], where))


def evaluate_arrays(net, X, Y=None, act_hidden=SIGMOID, act_out=SIGMOID, cost=QUADRATIC,
                    hidden_scale=1.0, want_cost=False, want_output=False):
    """Batched native forward pass: (argmax per row, cost per row or None, outputs or None)."""
    check_params(net)
    w, b = kernel_ready_params(net)
    core = _core.DenseNet(net.sizes, net.dtype, act_hidden, act_out, cost, 0)
    core.set_params(w, b)
    with _config.blas_limit(1):
        return core.evaluate(X, Y, hidden_scale, _config.effective_threads(), want_cost, want_output)


class Shuffler(object):
    """The book's ``random.shuffle(training_data)`` each epoch, on row indices.

    random.shuffle's swaps depend only on the list's length and the state of
    Python's ``random`` generator, so shuffling a list of indices in its place
    gives exactly the order the book's list would have: same seed, same
    mini-batches.  The shuffle itself runs in C (csrc/shuffle.c: CPython's
    algorithm on CPython's generator, from ``random.getstate()`` and back with
    ``random.setstate()``), 15 ms of Python per 60,000 examples saved each
    epoch.  When ``random.shuffle`` is not the standard one (replaced or
    patched), Python's own shuffles a list instead.  When the user's data is a
    list, it is left shuffled the same way at the end, as the book leaves it.
    """

    def __init__(self, n):
        self.idx = np.arange(n, dtype=np.int64)

    @property
    def idx(self):
        return self._idx

    @idx.setter
    def idx(self, value):
        self._idx = np.array(value, dtype=np.int64)

    def next_order(self):
        if _native_shuffle_applies():
            version, internal, gauss = random.getstate()
            random.setstate((version, _core.py_shuffle(self._idx, internal), gauss))
        else:
            order = self._idx.tolist()
            random.shuffle(order)
            self._idx = np.array(order, dtype=np.int64)
        return self._idx.copy()

    def apply_to(self, data):
        original = list(data)
        data[:] = [original[i] for i in self._idx.tolist()]


def _native_shuffle_applies():
    """True when ``random.shuffle`` is CPython's, bound to the module's generator."""
    shuffle = random.shuffle
    inst = getattr(shuffle, "__self__", None)
    return (type(inst) is random.Random and getattr(shuffle, "__func__", None) is random.Random.shuffle
            and type(inst).getrandbits is random.Random.getrandbits
            and type(inst)._randbelow is random.Random._randbelow_with_getrandbits)
