"""The training harness of all three networks' SGD.

network.py, network2.py and network3.py keep what is the book's (their
arguments, printed lines and return values); what happens around the native
code is here, once:

- the order of the examples: the book's ``random.shuffle`` each epoch
  (``Shuffler``), or network3's stored order / ``np.random.permutation``;
- the parameters (``Params``): the network's arrays are read and checked at
  the start of every epoch (a user may assign new ones in ``on_epoch`` or
  between calls), trained in working arrays, and published back as new arrays
  after each epoch, as the book's ``self.weights = [w - ...]`` does, so an
  array a reader kept still holds what it held;
- native calls of whole mini-batches, sized to about CHUNK_SECONDS each:
  between them Python sees Ctrl-C (``net.last_interrupted_at``), draws the
  progress bar and checks for divergence (``TrainingDiverged``);
- history, ``on_epoch`` and checkpoints after each epoch.

The thread count is ``nnfast._config``'s; the native loops decide the rest.
"""
import ctypes
import operator
import random
import time

import numpy as np

from . import _checkpoint, _checks, _config, _core, _progress
from . import history as _history
from ._errors import TrainingDiverged

CHUNK_SECONDS = 0.05        # each native call trains about this long
FIRST_CHUNK_BATCHES = 16    # the first call of an epoch; each next one up to 4x longer
MAX_CHUNK_BATCHES = 1 << 16


# ---------------------------------------------------------------------------
# data handed in by the book or a port: lists, tuples, zips, generators
# ---------------------------------------------------------------------------

def is_array_pair(data):
    """``(X, y)`` of arrays, X with one example per row (network3's and nnfast's format)."""
    return (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], np.ndarray)
            and data[0].ndim >= 2)


def materialize(data, name):
    """Lists stay lists (the book's SGD shuffles them in place), array pairs stay pairs,
    any other iterable of ``(x, y)`` pairs (tuple, zip, generator) is read once into a list.
    A generator that raises midway is refused with a ValueError naming ``name``."""
    if data is None or isinstance(data, list) or is_array_pair(data):
        return data
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError("%s must be a list (or other iterable) of (x, y) pairs or a pair of arrays (X, y), "
                        "got %s" % (name, type(data).__name__))
    items = []
    try:
        for item in data:
            items.append(item)
    except Exception as e:  # noqa: BLE001 - whatever the user's iterable raised, said as ours
        raise ValueError("%s: reading item %d raised %s: %s" % (name, len(items), type(e).__name__, e)) from e
    return items


# ---------------------------------------------------------------------------
# the book's lists without a copy: columns that are rows of one matrix
# ---------------------------------------------------------------------------

def _addresses(arrays):
    """The address of each array's first element (ctypes' view of a writable buffer is 5x
    faster to make than numpy's ``.ctypes``, which read-only arrays take)."""
    try:
        return np.fromiter(map(ctypes.addressof, map(ctypes.c_char.from_buffer, arrays)), np.int64, len(arrays))
    except (TypeError, ValueError):
        return np.fromiter(map(operator.attrgetter("ctypes.data"), arrays), np.int64, len(arrays))


def rows_of(arrays, k, dtypes, distinct=True):
    """``(M, rows)`` when every array in ``arrays`` is one row of one matrix: M (R, k), a
    view of the memory of one C-contiguous array, and ``arrays[i]`` the k elements of
    ``M[rows[i]]`` (``min(rows) == 0``; rows distinct when ``distinct``); None when they are
    anything else.

    This is what ``mnist_loader.load_data_wrapper()`` hands out (``x = M[i].reshape(784, 1)``,
    one view per row), and what ``random.shuffle`` leaves of it: the row order comes back
    from each view's address relative to its base.  Checked: the same base object for all,
    exact ndarrays of one C-contiguous shape of k elements, one dtype among ``dtypes``,
    each starting on a row boundary inside the base, no row twice (when ``distinct``).  A
    list with an element replaced by a fresh array, or by a view of another base, is not
    such a list."""
    if not arrays or type(arrays[0]) is not np.ndarray:
        return None
    first = arrays[0]
    base = first.base
    if (type(base) is not np.ndarray or not base.flags.c_contiguous or first.size != k or first.dtype not in dtypes
            or not first.dtype.isnative or not first.flags.c_contiguous):
        return None
    if (set(map(type, arrays)) != {np.ndarray} or {id(a.base) for a in arrays} != {id(base)}
            or set(map(operator.attrgetter("dtype"), arrays)) != {first.dtype}
            or set(map(operator.attrgetter("shape"), arrays)) != {first.shape}
            or set(map(operator.attrgetter("strides"), arrays)) != {first.strides}):
        return None
    row_bytes = k * first.itemsize
    offsets = _addresses(arrays) - base.ctypes.data
    R = base.nbytes // row_bytes
    rows, rem = np.divmod(offsets, row_bytes)
    if rem.any() or rows.min() < 0 or rows.max() >= R:
        return None
    if distinct:
        taken = np.zeros(R, dtype=bool)
        taken[rows] = True
        if np.count_nonzero(taken) != len(arrays):
            return None                           # a row twice
    lo, hi = int(rows.min()), int(rows.max()) + 1
    M = base.reshape(-1).view(np.uint8)[lo * row_bytes:hi * row_bytes].view(first.dtype).reshape(hi - lo, k)
    return M, rows - lo


class TrainingSet(object):
    """Training data as the engine reads it: example i is row ``rows[i]`` of X and Y
    (``rows`` None: row i).  ``inputs()`` and ``targets()`` give the examples in their
    own order (a copy only when the rows are permuted), for evaluation and fingerprints.
    X may be the caller's own matrix (the book's list of views): it is read, never written,
    and read as it is at each mini-batch, as the views show it."""

    def __init__(self, X, Y, rows=None, targets=None):
        self.X, self.Y, self.rows = X, Y, rows
        self.n = len(X) if rows is None else len(rows)
        self._inputs = X if rows is None else None
        self._targets = Y if rows is None else targets

    def inputs(self):
        if self._inputs is None:
            self._inputs = self.X[self.rows]
        return self._inputs

    def targets(self):
        if self._targets is None:
            self._targets = self.Y[self.rows]
        return self._targets


# ---------------------------------------------------------------------------
# the order of the examples
# ---------------------------------------------------------------------------

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
        """Leave the user's list in this order, as the book's in-place shuffle would."""
        if isinstance(data, list):
            original = list(data)
            data[:] = [original[i] for i in self._idx.tolist()]


def _native_shuffle_applies():
    """True when ``random.shuffle`` is CPython's, bound to the module's generator."""
    shuffle = random.shuffle
    inst = getattr(shuffle, "__self__", None)
    return (type(inst) is random.Random and getattr(shuffle, "__func__", None) is random.Random.shuffle
            and type(inst).getrandbits is random.Random.getrandbits
            and type(inst)._randbelow is random.Random._randbelow_with_getrandbits)


class Permutations(object):
    """network3's order: the stored one, or a new ``np.random.permutation`` each epoch."""

    def __init__(self, n, shuffle):
        self.n, self.shuffle = n, shuffle
        self.order = np.arange(n, dtype=np.int64)

    def next_order(self):
        if self.shuffle:
            self.order = np.random.permutation(self.n).astype(np.int64)
        return self.order

    def apply_to(self, data):
        pass


# ---------------------------------------------------------------------------
# parameters: read from the network and checked, trained in place, published anew
# ---------------------------------------------------------------------------

class Params(object):
    """Working copies of a network's parameter arrays, for the kernels.

    ``names`` and ``shapes`` describe the user-visible arrays (``"net.weights[0]"``,
    ``(30, 784)``); ``read()`` returns them as the network holds them now and
    ``write(arrays)`` gives the network new ones."""

    def __init__(self, names, shapes, dtype, read, write, arrays=None):
        self.names, self.shapes, self.dtype = list(names), [tuple(s) for s in shapes], np.dtype(dtype)
        self._read, self._write = read, write
        self.arrays = [np.zeros(s, dtype=self.dtype) for s in self.shapes] if arrays is None else arrays
        self.trained = False     # the working arrays hold training the network has not been given yet

    def checked(self):
        """The network's arrays as it holds them now, checked (shape, real numbers, finite; an
        error names the array) and of the working dtype."""
        values = list(self._read())
        if len(values) != len(self.names):
            raise ValueError("the network holds %d parameter arrays, expected %d (%s ...)"
                             % (len(values), len(self.names), self.names[0]))
        return [_checks.check_param(name, v, shape, self.dtype)
                for name, v, shape in zip(self.names, values, self.shapes)]

    def load(self):
        """Copy the network's arrays in (checked first: on an error nothing changes)."""
        for a, v in zip(self.arrays, self.checked()):
            a[...] = v
        self.trained = False

    def publish(self):
        """Give the network new arrays holding the working values (a no-op when nothing trained)."""
        if self.trained:
            self._write([a.copy() for a in self.arrays])
            self.trained = False


def transposed_zeros(shapes, dtype):
    """Zero arrays of these 2-D shapes, each the transposed view of a C-contiguous array: the
    engine's weight layout, (inputs, units), under the book's (units, inputs)."""
    return [np.zeros(s[::-1], dtype=dtype).T for s in shapes]


def dense_params(net):
    """network's and network2's ``weights`` and ``biases`` (published as new lists, as the book).
    The working weights are (units, inputs) as the book's, in the memory of (inputs, units)
    arrays (``transposed_zeros``): the layout of every network's fully connected layers in the
    engine, network3's ``w``."""
    sizes, L = net.sizes, len(net.sizes) - 1

    def write(arrays):
        net.weights, net.biases = arrays[:L], arrays[L:]

    shapes = [(sizes[l + 1], sizes[l]) for l in range(L)] + [(sizes[l + 1], 1) for l in range(L)]
    return Params(["net.weights[%d]" % l for l in range(L)] + ["net.biases[%d]" % l for l in range(L)],
                  shapes, net.dtype, lambda: list(net.weights) + list(net.biases), write,
                  transposed_zeros(shapes[:L], net.dtype) + [np.zeros(s, dtype=net.dtype) for s in shapes[L:]])


# ---------------------------------------------------------------------------
# divergence: one message
# ---------------------------------------------------------------------------

def diverged(epoch, batch, what, state):
    """TrainingDiverged at mini-batch ``batch`` of ``epoch`` (None, None: outside SGD)."""
    where = "" if epoch is None else " in epoch %d, mini-batch %d" % (epoch, batch)
    return TrainingDiverged("training diverged%s: %s; %s (try a smaller eta)" % (where, what, state), epoch, batch)


BEFORE = "the parameters are as before that mini-batch"
OVERFLOWED = "its update overflowed", "the parameters now hold infinities or NaN"


def all_finite(arrays):
    return all(np.isfinite(a).all() for a in arrays)


# ---------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------

class Run(object):
    """One SGD call: ``loop`` trains epochs ``first .. epochs - 1`` through ``engine``.

    ``engine`` has ``start_epoch(j)``, ``train(j, order, first_batch, count)`` (native,
    whole mini-batches), ``examples_done`` (this epoch, counted in C: Ctrl-C may surface
    right after a call returns) and ``check(j, first_batch, end_batch)`` (raises
    TrainingDiverged).  ``mbs`` examples per mini-batch, ``batches`` per epoch, ``used``
    examples trained per epoch."""

    def __init__(self, net, params, order, batches, mbs, used, *, progress, history, on_epoch, settings,
                 checkpoint, checkpoint_every, resume, options, X, Y, ckpt_params=None, velocities=None):
        self.net, self.params, self.order = net, params, order
        self.batches, self.mbs, self.used = batches, mbs, used
        self.velocities = velocities
        self.bar = _progress.Progress(progress)
        self.rec = _history.recorder(history, on_epoch, settings)
        self.ckpt = _checkpoint.Checkpoint(net, checkpoint, checkpoint_every, resume, options, X, Y,
                                           params=ckpt_params)
        self.chunk = FIRST_CHUNK_BATCHES
        self.shuffled = False
        self.threads = _config.effective_threads()
        self.started = None      # the epoch whose mini-batches the engine counts
        net.last_interrupted_at = None

    def restore(self):
        """(first epoch, the saved extras): resume's state in place, or (0, {})."""
        first, extra = self.ckpt.restore(self.order if isinstance(self.order, Shuffler) else None,
                                         self.velocities)
        self.shuffled = bool(extra) or first > 0
        return first, extra

    def loop(self, engine, first, epochs, after_epoch, extra=None, mark=None):
        """``after_epoch(j)`` prints the book's lines and returns ``(record, stop)``; ``extra()``
        what checkpoints keep of the loop; ``mark = (every, fn)`` calls ``fn(iteration)``
        before each mini-batch whose iteration (counted over all epochs) is a multiple of
        ``every`` (network3's "Training mini-batch number" lines)."""
        j = first
        try:
            with _config.blas_limit(1):
                for j in range(first, epochs):
                    self.params.load()
                    order = self.order.next_order()
                    self.shuffled = True
                    self._epoch(engine, j, order, mark)
                    self.params.publish()
                    record, stop = after_epoch(j)
                    if self.rec is not None:
                        self.rec.epoch(self.net, j, **record)
                    if stop:
                        break
                    self.ckpt.after_epoch(j, self.order if isinstance(self.order, Shuffler) else None,
                                          self.velocities, extra() if extra else None)
        except KeyboardInterrupt as e:
            self.params.publish()    # the weights as after a whole number of mini-batches
            self.interrupted(e, j, engine.examples_done if self.started == j else 0)
            raise
        except TrainingDiverged:
            self.params.publish()
            raise
        finally:
            self.bar.close()

    def _epoch(self, engine, j, order, mark):
        engine.start_epoch(j)
        self.started = j
        self.bar.start("Epoch %d" % j, self.used)
        i = 0
        chunk = getattr(engine, "max_chunk", MAX_CHUNK_BATCHES)    # Python engines: a mini-batch at a time
        while i < self.batches:
            end = min(self.batches, i + min(self.chunk, chunk))
            if mark is not None:
                every, fn = mark
                iteration = self.batches * j + i
                if iteration % every == 0:
                    self.bar.clear()
                    fn(iteration)
                end = min(end, i + every - iteration % every)
            t0 = time.perf_counter()
            self.params.trained = True
            engine.train(j, order, i, end - i)
            engine.check(j, i, end)
            seconds = time.perf_counter() - t0
            if end - i == self.chunk and seconds > 0:
                grow = min(4.0, CHUNK_SECONDS / seconds)
                self.chunk = max(1, min(int(self.chunk * grow), MAX_CHUNK_BATCHES))
            i = end
            if self.bar.hook is not None:
                self.bar.hook(min(i * self.mbs, self.used), self.used)
        self.bar.close()

    def interrupted(self, exc, j, examples):
        """Ctrl-C: ``net.last_interrupted_at = (epoch, examples done in it)``; the weights
        are as after that many examples, a whole number of mini-batches (a whole epoch:
        the next one's first example)."""
        where = (j, int(examples)) if examples < self.used else (j + 1, 0)
        self.net.last_interrupted_at = where
        if hasattr(exc, "add_note"):     # Python >= 3.11
            exc.add_note("nnfast: training stopped in epoch %d after %d examples (a whole number of mini-batches); "
                         "net.last_interrupted_at = %r" % (where[0], where[1], where))

    def finish(self, training_data):
        """The book leaves its list shuffled: the user's list gets the last epoch's order."""
        if self.shuffled:
            self.order.apply_to(training_data)
