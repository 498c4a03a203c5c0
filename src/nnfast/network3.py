"""network3: chapter 6's convolutional networks, without Theano.

A drop-in for the book's ``network3.py``: change ``import network3`` to
``from nnfast import network3`` and the chapter's code runs as written::

    from nnfast import network3
    from nnfast.network3 import Network, ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, ReLU
    training_data, validation_data, test_data = network3.load_data_shared()
    mini_batch_size = 10
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
        FullyConnectedLayer(n_in=20*12*12, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    net.SGD(training_data, 60, mini_batch_size, 0.1, validation_data, test_data)

Training runs in C (csrc/conv.c, pool.c, bias_act.c, dropout.c, dense3.c, softmax.c, net3.c)
with OpenMP threads and scipy's BLAS; results do not depend on the thread count.
``nnfast.reference.network3`` computes the same in plain numpy.

Differences from the book, all documented where they apply:

- convolution is cross-correlation (the book's Theano ``conv2d`` flips the filters); a network
  learns the same either way, but weights trained by the book's code are flipped relative to ours;
- max-pooling sends the gradient to the first maximum of a window (Theano: to every tied one);
- dropout masks come from a counter-based generator seeded from numpy's global generator;
- ``SGD`` returns ``(best_validation_accuracy, best_iteration, test_accuracy)``, works with
  ``test_data=None`` and can shuffle the training set each epoch (``shuffle=True``);
- ``predict``, ``accuracy``, ``save``/``load`` and ``Ensemble`` are additions;
- data and parameters are numpy arrays that also answer Theano's ``get_value``, ``set_value``
  and ``eval`` (``nnfast._shared``), so the book's scripts read them as they did.
"""
import json
import os
import time

import numpy as np

from . import _atomic, _checkpoint, _config, _dense, _net3, _progress, _shared
from . import history as _history
from ._errors import TrainingDiverged

# mini-batches per native call of SGD: Ctrl-C is seen between calls, well within a second,
# and a divergence check (TrainingDiverged) follows each call
_CHUNK_BATCHES = 100

__all__ = ["linear", "sigmoid", "tanh", "ReLU", "load_data_shared", "size", "Network", "ConvPoolLayer",
           "FullyConnectedLayer", "SoftmaxLayer", "Ensemble", "load"]


# ---- activation functions (numpy versions of the book's; the network uses their C twins) ------

def linear(z):
    return z


def sigmoid(z):
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def tanh(z):
    return np.tanh(z)


def ReLU(z):
    return np.maximum(0.0, z)


_ACT_CODE = {linear: 0, sigmoid: 1, tanh: 2, ReLU: 3}
_ACT_NAME = {linear: "linear", sigmoid: "sigmoid", tanh: "tanh", ReLU: "ReLU"}
_ACT_BY_NAME = {v: k for k, v in _ACT_NAME.items()}


def _act_code(fn, where):
    try:
        return _ACT_CODE[fn]
    except (KeyError, TypeError):
        raise TypeError("%s: activation_fn must be one of network3.linear, sigmoid, tanh, ReLU; got %r"
                        % (where, fn)) from None


# ---- data --------------------------------------------------------------------------------------

def load_data_shared(filename=None, *, path=None, dataset="mnist", expanded=False, download=False, pixel_scale=255):
    """Return (training_data, validation_data, test_data), each an (x, y) pair of numpy arrays:
    x float32 (n, 784) in [0, 1], y int64 (n,).  Each array also answers Theano's
    ``get_value``, ``set_value`` and ``eval`` (as the book's shared variables did).

    ``filename`` is the book's argument (``"../data/mnist.pkl.gz"``, or ``mnist_expanded.pkl.gz``
    for the expanded set): a file or folder passed on to ``mnist_loader.load_data`` as ``path``.
    ``path``, ``dataset`` ("mnist" or "fashion-mnist"), ``expanded``, ``download`` and
    ``pixel_scale`` (255, or 256 for the book's mnist.pkl.gz scaling) are mnist_loader's options."""
    from . import mnist_loader
    if filename is not None and path is None:
        if expanded is False and "expanded" in os.path.basename(str(filename)):
            expanded = True
        # the book's default "../data/mnist.pkl.gz" may be absent: then search as mnist_loader does
        path = filename if os.path.exists(filename) else None
    sets = mnist_loader.load_data(path, dataset, expanded=expanded, download=download, pixel_scale=pixel_scale)
    return tuple((_shared.shared(x), _shared.shared(y)) for x, y in sets)


def size(data):
    """Return the number of examples in ``data`` (an (x, y) pair)."""
    return len(data[0])


# ---- layers ------------------------------------------------------------------------------------

def _ints(value, n, name, where, positive=True):
    try:
        t = tuple(int(v) for v in value)
        ok = len(t) == n and all(float(v) == float(o) for v, o in zip(t, value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError("%s: %s must be %d integers, got %r" % (where, name, n, value))
    if positive and min(t) < 1:
        raise ValueError("%s: %s must be positive, got %r" % (where, name, value))
    return t


def _int(value, name, where):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError("%s: %s must be an integer, got %r" % (where, name, value))
    if int(value) < 1:
        raise ValueError("%s: %s must be positive, got %r" % (where, name, value))
    return int(value)


def _count(n, what, where):
    """Element counts the kernels (and BLAS, with its int dimensions) must be able to index."""
    if n > _dense.MAX_MATRIX:
        raise ValueError("%s: %s has %d elements, more than the %d supported" % (where, what, n, _dense.MAX_MATRIX))


def _p_dropout(p, where):
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError("%s: p_dropout must be a number in [0, 1), got %r" % (where, p)) from None
    if not 0.0 <= p < 1.0:
        raise ValueError("%s: p_dropout must be in [0, 1), got %r" % (where, p))
    return p


class ConvPoolLayer(object):
    """A convolutional layer followed by max-pooling, then bias and activation.

    ``filter_shape`` = (filters, input maps, fh, fw); ``image_shape`` = (mini_batch_size, input maps,
    h, w); ``poolsize`` = (ph, pw).  The convolution is "valid" cross-correlation (Theano's conv2d,
    which the book uses, flips the filter: either learns the same).  Pooling drops remainder
    rows/columns.  ``image_shape[0]`` is not used: the network's mini_batch_size decides.
    Weights ~ N(0, 1/n_out) with n_out = filters*fh*fw // (ph*pw), biases ~ N(0, 1), from numpy's
    global generator."""

    w = _shared.param("w", "filters (F, C, fh, fw): a numpy array with Theano's get_value/set_value/eval")
    b = _shared.param("b", "biases (F,): a numpy array with Theano's get_value/set_value/eval")

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self._configure(filter_shape, image_shape, poolsize, activation_fn)
        n_out = max(1, self.filter_shape[0] * int(np.prod(self.filter_shape[2:])) // int(np.prod(self.poolsize)))
        self.w = np.asarray(np.random.normal(loc=0, scale=np.sqrt(1.0 / n_out), size=self.filter_shape),
                            dtype=np.float32)
        self.b = np.asarray(np.random.normal(loc=0, scale=1.0, size=(self.filter_shape[0],)), dtype=np.float32)
        self.params = [self.w, self.b]

    def _configure(self, filter_shape, image_shape, poolsize, activation_fn):
        where = "ConvPoolLayer"
        fs = _ints(filter_shape, 4, "filter_shape", where)
        im = _ints(image_shape, 4, "image_shape", where)
        ps = _ints(poolsize, 2, "poolsize", where)
        _act_code(activation_fn, where)
        if fs[1] != im[1]:
            raise ValueError("ConvPoolLayer: filter_shape[1] (input maps, %d) differs from image_shape[1] (%d)"
                             % (fs[1], im[1]))
        if fs[2] > im[2] or fs[3] > im[3]:
            raise ValueError("ConvPoolLayer: filter %dx%d is larger than the image %dx%d"
                             % (fs[2], fs[3], im[2], im[3]))
        oh, ow = im[2] - fs[2] + 1, im[3] - fs[3] + 1
        if ps[0] > oh or ps[1] > ow:
            raise ValueError("ConvPoolLayer: poolsize %dx%d does not fit the %dx%d convolution output"
                             % (ps[0], ps[1], oh, ow))
        self.filter_shape, self.image_shape, self.poolsize = fs, im, ps
        self.activation_fn = activation_fn
        self.n_in = im[1] * im[2] * im[3]
        self.n_out = fs[0] * (oh // ps[0]) * (ow // ps[1])
        _count(int(np.prod(fs, dtype=object)), "the filter bank", where)
        _count(im[0] * fs[1] * fs[2] * fs[3] * oh * ow, "the mini-batch's unrolled (im2col) input", where)
        _count(im[0] * max(self.n_in, fs[0] * oh * ow), "the mini-batch's input or convolution output", where)
        self.p_dropout = 0.0

    def __repr__(self):
        return "ConvPoolLayer(filter_shape=%r, image_shape=%r, poolsize=%r, activation_fn=%s)" % (
            self.filter_shape, self.image_shape, self.poolsize, _ACT_NAME[self.activation_fn])

    def _describe_out(self):
        fs, im, ps = self.filter_shape, self.image_shape, self.poolsize
        return "%d (%d*%d*%d)" % (self.n_out, fs[0], (im[2] - fs[2] + 1) // ps[0], (im[3] - fs[3] + 1) // ps[1])

    def _spec(self):
        fs, im, ps = self.filter_shape, self.image_shape, self.poolsize
        return dict(kind="conv", act=_ACT_CODE[self.activation_fn], w=self.w, b=self.b, C=im[1], H=im[2], W=im[3],
                    F=fs[0], KH=fs[2], KW=fs[3], PH=ps[0], PW=ps[1])

    def _arch(self):
        return dict(type="ConvPoolLayer", filter_shape=list(self.filter_shape), image_shape=list(self.image_shape),
                    poolsize=list(self.poolsize), activation_fn=_ACT_NAME[self.activation_fn])


class FullyConnectedLayer(object):
    """``act(x·w + b)`` with w of shape (n_in, n_out).  Training: each input unit is kept with
    probability 1 - p_dropout; evaluation: ``act((1 - p_dropout) x·w + b)``, as the book.
    Weights ~ N(0, 1/n_out), biases ~ N(0, 1), from numpy's global generator."""

    w = _shared.param("w", "weights (n_in, n_out): a numpy array with Theano's get_value/set_value/eval")
    b = _shared.param("b", "biases (n_out,): a numpy array with Theano's get_value/set_value/eval")

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self._configure(n_in, n_out, activation_fn, p_dropout)
        self.w = np.asarray(np.random.normal(loc=0.0, scale=np.sqrt(1.0 / self.n_out), size=(self.n_in, self.n_out)),
                            dtype=np.float32)
        self.b = np.asarray(np.random.normal(loc=0.0, scale=1.0, size=(self.n_out,)), dtype=np.float32)
        self.params = [self.w, self.b]

    def _configure(self, n_in, n_out, activation_fn, p_dropout, where="FullyConnectedLayer"):
        self.n_in, self.n_out = _int(n_in, "n_in", where), _int(n_out, "n_out", where)
        _count(self.n_in * self.n_out, "the weight matrix", where)
        if activation_fn is not None:
            _act_code(activation_fn, where)
        self.p_dropout = _p_dropout(p_dropout, where)
        self.activation_fn = activation_fn

    def __repr__(self):
        return "FullyConnectedLayer(n_in=%d, n_out=%d, activation_fn=%s, p_dropout=%r)" % (
            self.n_in, self.n_out, _ACT_NAME[self.activation_fn], self.p_dropout)

    def _describe_out(self):
        return str(self.n_out)

    def _spec(self):
        return dict(kind="fc", act=_ACT_CODE[self.activation_fn], w=self.w, b=self.b, I=self.n_in, O=self.n_out,
                    p=self.p_dropout)

    def _arch(self):
        return dict(type="FullyConnectedLayer", n_in=self.n_in, n_out=self.n_out,
                    activation_fn=_ACT_NAME[self.activation_fn], p_dropout=self.p_dropout)


class SoftmaxLayer(FullyConnectedLayer):
    """``softmax(x·w + b)``, the output layer, with the log-likelihood cost; weights and biases
    start at zero.  Dropout on its input as in FullyConnectedLayer."""

    def __init__(self, n_in, n_out, p_dropout=0.0):
        self._configure(n_in, n_out, None, p_dropout, "SoftmaxLayer")
        self.w = np.zeros((self.n_in, self.n_out), dtype=np.float32)
        self.b = np.zeros((self.n_out,), dtype=np.float32)
        self.params = [self.w, self.b]

    def __repr__(self):
        return "SoftmaxLayer(n_in=%d, n_out=%d, p_dropout=%r)" % (self.n_in, self.n_out, self.p_dropout)

    def _spec(self):
        return dict(kind="softmax", act=0, w=self.w, b=self.b, I=self.n_in, O=self.n_out, p=self.p_dropout)

    def _arch(self):
        return dict(type="SoftmaxLayer", n_in=self.n_in, n_out=self.n_out, p_dropout=self.p_dropout)


_LAYER_TYPES = (ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer)


# ---- the network -------------------------------------------------------------------------------

def _dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError("Network: dtype must be np.float32 or np.float64, got %r" % (dtype,))
    return dt


class _NoteInterrupt(object):
    """Ctrl-C during SGD: ``net.last_interrupted_at = (epoch, examples done in it)``, from the
    plan's count of trained mini-batches (the parameters are as after exactly those)."""

    def __init__(self, net, plan, batches_per_epoch):
        self.net, self.plan, self.per_epoch = net, plan, batches_per_epoch
        net.last_interrupted_at = None

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            done = self.plan.batches_done
            where = (done // self.per_epoch, (done % self.per_epoch) * self.net.mini_batch_size)
            self.net.last_interrupted_at = where
            if hasattr(exc, "add_note"):
                exc.add_note("nnfast: training stopped in epoch %d after %d examples (a whole number of "
                             "mini-batches); net.last_interrupted_at = %r" % (where[0], where[1], where))
        return False


class _ThreadProbe(object):
    """Each epoch's first two native calls run on all threads and on one, timed per
    mini-batch; the rest of the epoch runs on the faster.  At mini-batch 10 the threads
    meet at a barrier every few microseconds, and on a machine whose cores are busy
    with other work those waits cost far more than the second thread gains (measured
    here: 36 s instead of 3.4 s for the fc preset).  The results do not depend on the
    thread count, so the choice changes no number."""

    def __init__(self, threads, batches):
        self.choice = threads
        self.times = [] if threads > 1 and batches >= 3 * _CHUNK_BATCHES else None
        self.candidates = (threads, 1)

    def threads(self):
        if self.times is not None and len(self.times) < 2:
            return self.candidates[len(self.times)]
        return self.choice

    def timed(self, seconds, batches):
        if self.times is not None and len(self.times) < 2:
            self.times.append(seconds / max(batches, 1))
            if len(self.times) == 2:
                self.choice = self.candidates[int(self.times[1] < self.times[0])]


class Network(object):
    """A chain of layers, the last a SoftmaxLayer, trained on mini-batches of ``mini_batch_size``.

    ``dtype`` (float32 as the book, or float64) is the precision of training: every layer's
    parameters are cast to it."""

    def __init__(self, layers, mini_batch_size, dtype=np.float32):
        layers = list(layers) if isinstance(layers, (list, tuple)) else layers
        if not isinstance(layers, list) or not layers:
            raise TypeError("Network: layers must be a non-empty list of layers")
        for j, layer in enumerate(layers):
            if not isinstance(layer, _LAYER_TYPES):
                raise TypeError("Network: layers[%d] is %r, not a ConvPoolLayer, FullyConnectedLayer or "
                                "SoftmaxLayer" % (j, layer))
        if not isinstance(layers[-1], SoftmaxLayer):
            raise ValueError("Network: the last layer must be a SoftmaxLayer (it defines the cost), got %r"
                             % (layers[-1],))
        for j, layer in enumerate(layers[:-1]):
            if isinstance(layer, SoftmaxLayer):
                raise ValueError("Network: a SoftmaxLayer can only be the last layer, found at layers[%d]" % j)
        for j in range(1, len(layers)):
            prev, layer = layers[j - 1], layers[j]
            if layer.n_in != prev.n_out:
                raise ValueError("Network: layer %d %r takes %d inputs but layer %d %r gives %s outputs"
                                 % (j, layer, layer.n_in, j - 1, prev, prev._describe_out()))
        self.mini_batch_size = _int(mini_batch_size, "mini_batch_size", "Network")
        for layer in layers:
            _count(self.mini_batch_size * max(layer.n_in, layer.n_out), "a mini-batch of %r" % (layer,), "Network")
        self.dtype = _dtype(dtype)
        for j, layer in enumerate(layers):
            self._check_params(j, layer)
        self.layers = layers
        for layer in layers:
            layer.w = np.ascontiguousarray(layer.w, dtype=self.dtype)
            layer.b = np.ascontiguousarray(layer.b, dtype=self.dtype)
            layer.params = [layer.w, layer.b]
        self.params = [param for layer in self.layers for param in layer.params]

    @staticmethod
    def _check_params(j, layer):
        shapes = {"w": layer.filter_shape if isinstance(layer, ConvPoolLayer) else (layer.n_in, layer.n_out),
                  "b": (layer.filter_shape[0],) if isinstance(layer, ConvPoolLayer) else (layer.n_out,)}
        for name, shape in shapes.items():
            v = getattr(layer, name)
            a = np.asarray(v)
            if a.shape != tuple(shape):
                raise ValueError("Network: layers[%d].%s has shape %r, expected %r" % (j, name, a.shape, tuple(shape)))
            if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
                raise TypeError("Network: layers[%d].%s must hold real numbers, got dtype %s" % (j, name, a.dtype))
            if not np.all(np.isfinite(a)):
                raise ValueError("Network: layers[%d].%s holds NaN or infinite values" % (j, name))

    def _sync(self):
        """Re-read each layer's w and b (a user may have assigned them): validate, cast, refresh params."""
        for j, layer in enumerate(self.layers):
            self._check_params(j, layer)
        for layer in self.layers:
            if not (isinstance(layer.w, np.ndarray) and layer.w.dtype == self.dtype and layer.w.flags.c_contiguous
                    and layer.w.flags.writeable):
                layer.w = np.array(layer.w, dtype=self.dtype)
            if not (isinstance(layer.b, np.ndarray) and layer.b.dtype == self.dtype and layer.b.flags.c_contiguous
                    and layer.b.flags.writeable):
                layer.b = np.array(layer.b, dtype=self.dtype)
            layer.params = [layer.w, layer.b]
        self.params = [param for layer in self.layers for param in layer.params]

    def _plan(self, with_grads=False, max_parts=4):
        return _net3.Plan([layer._spec() for layer in self.layers], self.mini_batch_size, self.dtype,
                          max_parts, with_grads)

    def _check_x(self, x, name):
        if isinstance(x, (list, tuple)) and len(x) == 2 and not np.isscalar(x[0]):
            raise TypeError("%s: pass the inputs x, not an (x, y) pair" % name)
        try:
            a = np.asarray(x)
        except Exception:  # noqa: BLE001 - anything not array-like
            raise TypeError("%s: x must be an array of shape (n, %d)" % (name, self.layers[0].n_in)) from None
        if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
                                     or a.dtype == bool):
            raise TypeError("%s: x must hold real numbers, got dtype %s" % (name, a.dtype))
        if a.ndim == 1 and a.shape[0] == self.layers[0].n_in:
            a = a[None, :]
        if a.ndim == 4 and int(np.prod(a.shape[1:])) == self.layers[0].n_in:
            a = a.reshape(a.shape[0], -1)
        if a.ndim != 2 or a.shape[1] != self.layers[0].n_in:
            raise ValueError("%s: x has shape %r but the first layer takes %d inputs: expected (n, %d)"
                             % (name, a.shape, self.layers[0].n_in, self.layers[0].n_in))
        _dense.check_float_range(a, name + ": x", self.dtype)
        a = np.ascontiguousarray(a, dtype=self.dtype)
        if _dense.first_row_where(a, lambda block: ~np.isfinite(block)) is not None:
            raise ValueError("%s: x holds NaN or infinite values" % name)
        return a

    def _check_data(self, data, name):
        if not isinstance(data, (list, tuple)) or len(data) != 2:
            raise TypeError("SGD: %s must be an (x, y) pair of arrays, as load_data_shared returns" % name)
        x = self._check_x(data[0], "SGD: %s" % name)
        y = np.asarray(data[1])
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError("SGD: %s: y must have shape (%d,) to match x, got %r" % (name, len(x), y.shape))
        if len(y) and not np.issubdtype(y.dtype, np.integer):
            if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
                raise TypeError("SGD: %s: y must hold integer labels, got dtype %s" % (name, y.dtype))
        y = np.ascontiguousarray(y, dtype=np.int64)
        n_out = self.layers[-1].n_out
        if len(y) and (y.min() < 0 or y.max() >= n_out):
            raise ValueError("SGD: %s: labels must be in [0, %d), got values in [%d, %d]"
                             % (name, n_out, y.min(), y.max()))
        return x, y

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data=None, test_data=None, lmbda=0.0,
            shuffle=False, *, progress=None, history=None, on_epoch=None, checkpoint=None, checkpoint_every=1,
            resume=None):
        """Train the network using mini-batch stochastic gradient descent.

        The book's algorithm: consecutive mini-batches of the training set in its stored order
        (``shuffle=True`` draws a new order each epoch from numpy's global generator), remainder
        dropped; ``param -= eta * grad`` of the mean log-likelihood plus
        ``0.5 * lmbda * sum(w**2) / num_training_batches``.  Prints the book's lines and returns
        ``(best_validation_accuracy, best_iteration, test_accuracy)`` (accuracies as fractions;
        None where there was no data).

        ``progress`` shows a bar during each epoch (None: when stderr is a terminal; True,
        False, or a callable ``progress(done, n)``).  ``history`` (a path or an
        ``nnfast.history.History``) records each epoch's seconds, ``validation_accuracy`` and,
        when the book computes it (at a new best), ``test_accuracy``, as fractions.
        ``on_epoch(net, epoch, record)`` is called after each epoch with that record.

        ``checkpoint=PATH`` saves the run every ``checkpoint_every`` epochs (an .npz written
        atomically: parameters, numpy's random state, dropout seed, best accuracies);
        ``resume=PATH`` continues it given the same arguments, ending bit for bit where the
        uninterrupted run would."""
        epochs = int(epochs) if not isinstance(epochs, bool) and hasattr(epochs, "__index__") else None
        if epochs is None or epochs < 0:
            raise ValueError("SGD: epochs must be a non-negative integer")
        if _int(mini_batch_size, "mini_batch_size", "SGD") != self.mini_batch_size:
            raise ValueError("SGD: mini_batch_size %d differs from the network's %d (give Network the same value)"
                             % (mini_batch_size, self.mini_batch_size))
        for name, v in (("eta", eta), ("lmbda", lmbda)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
                raise ValueError("SGD: %s must be a finite number, got %r" % (name, v))
        training_x, training_y = self._check_data(training_data, "training_data")
        validation = self._check_data(validation_data, "validation_data") if validation_data is not None else None
        test = self._check_data(test_data, "test_data") if test_data is not None else None
        B = self.mini_batch_size
        n = len(training_y)
        num_training_batches = n // B
        if num_training_batches < 1:
            raise ValueError("SGD: training_data has %d examples, fewer than one mini-batch of %d" % (n, B))
        self._sync()
        plan = self._plan()
        l2 = eta * lmbda / num_training_batches     # w -= l2 * w, then w -= eta * grad
        seed = 0
        if any(layer.p_dropout > 0 for layer in self.layers):
            seed = int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64))
        threads = _config.effective_threads()
        used = num_training_batches * B
        order = np.arange(n, dtype=np.int64)

        def batch_accuracy(data):
            m = (len(data[1]) // B) * B
            if m == 0:
                return float("nan")
            pred, _ = plan.predict(data[0][:m], threads)
            return float(np.mean(pred == data[1][:m]))

        best_validation_accuracy, best_iteration, test_accuracy = 0.0, None, None
        # progress bar and history (beyond the book)
        bar = _progress.Progress(progress)
        rec = _history.recorder(history, on_epoch, dict(
            program="network3", layers=[repr(layer) for layer in self.layers], epochs=epochs, mini_batch_size=B,
            eta=float(eta), lmbda=float(lmbda), dtype=self.dtype.name, shuffle=bool(shuffle), n_training=n,
            n_validation=len(validation[1]) if validation else 0, n_test=len(test[1]) if test else 0))
        ckpt = _checkpoint.Checkpoint(self, checkpoint, checkpoint_every, resume, dict(
            kind="network3", layers=[repr(layer) for layer in self.layers], mini_batch_size=B, eta=eta, lmbda=lmbda,
            shuffle=bool(shuffle), validation=None if validation is None else len(validation[1]),
            test=None if test is None else len(test[1])), training_x, training_y, params=self._named_params)
        first, extra = ckpt.restore()
        if extra:
            seed, best_validation_accuracy, best_iteration, test_accuracy = extra["state"]
        saved = lambda j: ckpt.after_epoch(j, extra=dict(state=[  # noqa: E731 - after epoch j, all its lines
            seed, best_validation_accuracy, best_iteration, test_accuracy]))
        with _config.blas_limit(1), _NoteInterrupt(self, plan, num_training_batches):
            for epoch in range(first, epochs):
                if epoch > first:
                    saved(epoch - 1)
                if shuffle:
                    order = np.random.permutation(n).astype(np.int64)
                i = 0
                probe = _ThreadProbe(threads, num_training_batches)
                self.last_threads = threads
                bar.start("Epoch %d" % epoch, used)
                while i < num_training_batches:
                    iteration = num_training_batches * epoch + i
                    if iteration % 1000 == 0:
                        bar.clear()
                        print("Training mini-batch number {0}".format(iteration))
                    end = min(num_training_batches, (iteration // 1000 + 1) * 1000 - num_training_batches * epoch,
                              i + _CHUNK_BATCHES)
                    before = [p.copy() for p in self.params]
                    t0 = time.perf_counter()
                    plan.train(training_x, training_y, order, i, end - i, eta, l2, seed, epoch * used,
                               probe.threads())
                    probe.timed(time.perf_counter() - t0, end - i)
                    self._check_finite(before, epoch, i, end)
                    i = end
                    if bar.hook is not None:
                        bar.hook(i * B, used)
                bar.close()
                self.last_threads = probe.threads()
                iteration = num_training_batches * (epoch + 1) - 1
                if validation is None:
                    if rec is not None:
                        rec.epoch(self, epoch)
                    continue
                validation_accuracy = batch_accuracy(validation)
                print("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
                if validation_accuracy >= best_validation_accuracy:
                    print("This is the best validation accuracy to date.")
                    best_validation_accuracy = validation_accuracy
                    best_iteration = iteration
                    if test is not None:
                        test_accuracy = batch_accuracy(test)
                        print("The corresponding test accuracy is {0:.2%}".format(test_accuracy))
                if rec is not None:
                    rec.epoch(self, epoch, validation_accuracy=validation_accuracy,
                              test_accuracy=test_accuracy if best_iteration == iteration else None)
        if epochs > first:
            saved(epochs - 1)
        print("Finished training network.")
        if validation is None:
            return None, None, None
        print("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
            best_validation_accuracy, best_iteration))
        if test_accuracy is not None:
            print("Corresponding test accuracy of {0:.2%}".format(test_accuracy))
        return best_validation_accuracy, best_iteration, test_accuracy

    def _named_params(self):
        """Every layer's w and b by name (checkpoints)."""
        return {"layer%d.%s" % (j, name): getattr(layer, name)
                for j, layer in enumerate(self.layers) for name in ("w", "b")}

    def _check_finite(self, before, epoch, first, end):
        """After mini-batches first..end-1: if a parameter became infinite or NaN, put every
        parameter back as it was before them and raise TrainingDiverged."""
        if all(np.isfinite(p).all() for p in self.params):
            return
        for p, b in zip(self.params, before):
            p[...] = b
        raise TrainingDiverged("training diverged in epoch %d, within mini-batches %d..%d: a parameter became "
                               "infinite or NaN; the parameters are restored to their values before mini-batch "
                               "%d (try a smaller eta)" % (epoch, first, end - 1, first), epoch, first)

    # ---- beyond the book ----

    def feedforward(self, x):
        """Softmax outputs (n, n_out) for inputs x (n, n_in), on the evaluation path."""
        return self._run(x, "feedforward", outputs=True)[1]

    def predict(self, x):
        """Predicted labels (n,) for inputs x of shape (n, n_in), any n."""
        return self._run(x, "predict")[0]

    def accuracy(self, x, y):
        """Fraction of the n examples (x, y) classified correctly (no remainder dropped)."""
        x, y = self._check_data((x, y), "accuracy")
        if len(y) == 0:
            raise ValueError("accuracy: no examples")
        return float(np.mean(self._run(x, "accuracy")[0] == y))

    def _run(self, x, name, outputs=False):
        x = self._check_x(x, name)
        self._sync()
        plan = self._plan()
        with _config.blas_limit(1):
            return plan.predict(x, _config.effective_threads(), outputs)

    def _gradients(self, x, y, seed=0, first_example=0):
        """[(dw, db)] per layer of the data term of the cost on one mini-batch (the training path)."""
        x, y = self._check_data((x, y), "gradients")
        if not 1 <= len(y) <= self.mini_batch_size:
            raise ValueError("gradients: need 1..%d examples" % self.mini_batch_size)
        self._sync()
        plan = self._plan(with_grads=True)
        with _config.blas_limit(1):
            grads = plan.gradients(x, y, seed, first_example)
        return [(gw.copy(), gb.copy()) for gw, gb in grads]

    def save(self, path):
        """Save architecture and parameters to ``path`` (.npz): arrays ``w0, b0, w1, ...`` and
        ``architecture``, a JSON string {"format": "nnfast.network3", "version": 1,
        "mini_batch_size", "dtype", "layers": [{"type", ...constructor arguments}]}.
        No pickle; written to a temporary file then renamed (atomic)."""
        self._sync()
        arch = {"format": "nnfast.network3", "version": 1, "mini_batch_size": self.mini_batch_size,
                "dtype": self.dtype.name, "layers": [layer._arch() for layer in self.layers]}
        arrays = {"architecture": np.array(json.dumps(arch))}
        for j, layer in enumerate(self.layers):
            arrays["w%d" % j], arrays["b%d" % j] = layer.w, layer.b
        _atomic.write_atomic(path, lambda f: np.savez(f, **arrays), fsync=True)


def load(path):
    """Load a Network saved by ``Network.save`` (does not touch numpy's global generator)."""
    with np.load(os.fspath(path), allow_pickle=False) as f:
        try:
            arch = json.loads(str(f["architecture"]))
        except (KeyError, ValueError) as e:
            raise ValueError("load: %s is not an nnfast network3 file (%s)" % (path, e)) from None
        if not isinstance(arch, dict) or arch.get("format") != "nnfast.network3" or arch.get("version") != 1:
            raise ValueError("load: %s is not an nnfast network3 file of version 1" % (path,))
        layers = []
        for j, d in enumerate(arch.get("layers", [])):
            kind = d.get("type") if isinstance(d, dict) else None
            act = d.get("activation_fn")
            if kind == "SoftmaxLayer":
                layer = SoftmaxLayer.__new__(SoftmaxLayer)
                layer._configure(d["n_in"], d["n_out"], None, d["p_dropout"], "SoftmaxLayer")
            elif kind in ("ConvPoolLayer", "FullyConnectedLayer"):
                if act not in _ACT_BY_NAME:
                    raise ValueError("load: layer %d has unknown activation_fn %r" % (j, act))
                if kind == "ConvPoolLayer":
                    layer = ConvPoolLayer.__new__(ConvPoolLayer)
                    layer._configure(d["filter_shape"], d["image_shape"], d["poolsize"], _ACT_BY_NAME[act])
                else:
                    layer = FullyConnectedLayer.__new__(FullyConnectedLayer)
                    layer._configure(d["n_in"], d["n_out"], _ACT_BY_NAME[act], d["p_dropout"])
            else:
                raise ValueError("load: layer %d has unknown type %r" % (j, kind))
            layer.w, layer.b = f["w%d" % j], f["b%d" % j]
            layers.append(layer)
    return Network(layers, arch["mini_batch_size"], dtype=np.dtype(arch["dtype"]))


class Ensemble(object):
    """Majority vote of trained networks (the chapter's 99.67%); ties go to the label with the
    highest mean softmax output among the tied ones."""

    def __init__(self, nets):
        nets = list(nets)
        if not nets or not all(isinstance(n, Network) for n in nets):
            raise TypeError("Ensemble: nets must be a non-empty list of network3.Network")
        if len({(n.layers[0].n_in, n.layers[-1].n_out) for n in nets}) != 1:
            raise ValueError("Ensemble: networks must share input size and number of classes")
        self.nets = nets

    def predict(self, x):
        """Voted labels (n,)."""
        outs = [net.feedforward(x).astype(np.float64) for net in self.nets]
        votes = sum(np.eye(outs[0].shape[1])[np.argmax(o, axis=1)] for o in outs)
        return np.argmax(votes + sum(outs) / (len(outs) + 1.0), axis=1)

    def accuracy(self, x, y):
        """Fraction of (x, y) the vote classifies correctly."""
        y = np.asarray(y)
        return float(np.mean(self.predict(x) == y))
