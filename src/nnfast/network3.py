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
- the data may also be the book's chapter-1/3 format: any iterable (list, zip, generator) of
  ``(x, y)`` examples, y a label or a one-hot column;
- after each epoch every layer's ``w`` and ``b`` are new arrays (``layer.w = ...``), and arrays
  assigned to them between epochs (``on_epoch``) or SGD calls are what trains next;
- ``predict``, ``accuracy``, ``save``/``load`` and ``Ensemble`` are additions;
- data and parameters are numpy arrays that also answer Theano's ``get_value``, ``set_value``
  and ``eval`` (``nnfast._shared``), so the book's scripts read them as they did.
"""
import json
import os

import numpy as np

from . import _atomic, _checks, _config, _core, _dense, _netfiles, _shared, _train
from ._dense import relu as ReLU, sigmoid, tanh  # the book's activation functions (the network uses their C twins)
from ._errors import BadFileError

__all__ = ["linear", "sigmoid", "tanh", "ReLU", "load_data_shared", "size", "Network", "ConvPoolLayer",
           "FullyConnectedLayer", "SoftmaxLayer", "Ensemble", "load"]


# ---- activation functions: linear here, sigmoid, tanh and ReLU from _dense ---------------------

def linear(z):
    return z


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
    return _checks.check_probability("%s: p_dropout" % where, p)


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
        self.dtype = _checks.check_dtype(dtype, "Network: dtype")
        self.layers = layers
        self._sync()

    @staticmethod
    def _shapes(layer):
        """The shapes of a layer's w and b."""
        if isinstance(layer, ConvPoolLayer):
            return tuple(layer.filter_shape), (layer.filter_shape[0],)
        return (layer.n_in, layer.n_out), (layer.n_out,)

    def _parameters(self):
        """Every layer's w and b as the training harness sees them: read (checked) before each
        epoch, published after it as new arrays through ``layer.w = ...``."""
        names, shapes = [], []
        for j, layer in enumerate(self.layers):
            names += ["net.layers[%d].w" % j, "net.layers[%d].b" % j]
            shapes += self._shapes(layer)
        return _train.Params(names, shapes, self.dtype,
                             lambda: [getattr(layer, k) for layer in self.layers for k in ("w", "b")], self._assign)

    def _assign(self, arrays):
        for layer, w, b in zip(self.layers, arrays[::2], arrays[1::2]):
            layer.w, layer.b = w, b
            layer.params = [layer.w, layer.b]
        self.params = [param for layer in self.layers for param in layer.params]

    def _sync(self):
        """Re-read each layer's w and b (a user may have assigned them): checked, and cast
        to the network's dtype where they are not (as new arrays)."""
        self._assign(self._parameters().checked())

    def _plan(self, with_grads=False, max_parts=4, training=True):
        return self._plan_on([p for layer in self.layers for p in (layer.w, layer.b)], with_grads, max_parts,
                             training)

    def _plan_on(self, arrays, with_grads=False, max_parts=4, training=True):
        """The native network over these parameter arrays (w0, b0, w1, ...); training False: for
        predict alone."""
        specs = [dict(layer._spec(), w=w, b=b) for layer, w, b in zip(self.layers, arrays[::2], arrays[1::2])]
        return _core.Plan(specs, self.mini_batch_size, self.dtype, max_parts, with_grads, training=training)

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
        if _dense.first_nonfinite_row(a) is not None:
            raise ValueError("%s: x holds NaN or infinite values" % name)
        return a

    def _check_data(self, data, name):
        """``data`` as (x (n, n_in) of the network's dtype, y int64 (n,)): an (x, y) pair of
        arrays as load_data_shared returns, or the book's list (or any iterable) of (x, y)
        examples, y a label or a one-hot column (read once; the caller's list is untouched)."""
        if not _train.is_array_pair(data):
            n_in, n_out = self.layers[0].n_in, self.layers[-1].n_out
            X, Y, _ = _dense.as_arrays(data, "SGD: %s" % name, n_in, n_out, self.dtype)
            data = (X, _dense.labels_of(Y))
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
        epochs = _checks.check_int("epochs", epochs, 0)
        if _checks.check_int("mini_batch_size", mini_batch_size, 1) != self.mini_batch_size:
            raise ValueError("SGD: mini_batch_size %d differs from the network's %d (give Network the same value)"
                             % (mini_batch_size, self.mini_batch_size))
        eta = _checks.check_real("eta", eta, positive=True)
        lmbda = _checks.check_real("lmbda", lmbda, nonnegative=True)
        training_x, training_y = self._check_data(training_data, "training_data")
        validation = self._check_data(validation_data, "validation_data") if validation_data is not None else None
        test = self._check_data(test_data, "test_data") if test_data is not None else None
        B = self.mini_batch_size
        n = len(training_y)
        num_training_batches = n // B
        if num_training_batches < 1:
            raise ValueError("SGD: training_data has %d examples, fewer than one mini-batch of %d" % (n, B))
        params = self._parameters()
        params.load()
        run = _train.Run(
            self, params, _train.Permutations(n, bool(shuffle)), num_training_batches, B, num_training_batches * B,
            progress=progress, history=history, on_epoch=on_epoch, settings=dict(
                program="network3", layers=[repr(layer) for layer in self.layers], epochs=epochs, mini_batch_size=B,
                eta=eta, lmbda=lmbda, dtype=self.dtype.name, shuffle=bool(shuffle), n_training=n,
                n_validation=len(validation[1]) if validation else 0, n_test=len(test[1]) if test else 0),
            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, options=dict(
                kind="network3", layers=[repr(layer) for layer in self.layers], mini_batch_size=B, eta=eta,
                lmbda=lmbda, shuffle=bool(shuffle), validation=None if validation is None else len(validation[1]),
                test=None if test is None else len(test[1])), X=training_x, Y=training_y,
            ckpt_params=self._named_params)
        seed = 0
        if any(layer.p_dropout > 0 for layer in self.layers):
            seed = int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64))
        best = [0.0, None, None]      # best_validation_accuracy, best_iteration, test_accuracy
        if resume is not None:        # the checkpoint is restored into new arrays, not the user's
            self._assign([p.copy() for p in params._read()])
        first, extra = run.restore()
        if extra:
            seed, best[0], best[1], best[2] = extra["state"]
        engine = _Engine(self, params, training_x, training_y, eta, eta * lmbda / num_training_batches, seed,
                         run.threads)
        self.last_threads = run.threads
        evaluate = self._plan_on(params.arrays, training=False)

        def batch_accuracy(data):
            m = (len(data[1]) // B) * B
            if m == 0:
                return float("nan")
            pred = evaluate.predict(data[0][:m], run.threads)[0]
            return float(np.mean(pred == data[1][:m]))

        def after_epoch(epoch):
            if validation is None:
                return {}, False
            iteration = num_training_batches * (epoch + 1) - 1
            validation_accuracy = batch_accuracy(validation)
            print("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
            if validation_accuracy >= best[0]:
                print("This is the best validation accuracy to date.")
                best[0], best[1] = validation_accuracy, iteration
                if test is not None:
                    best[2] = batch_accuracy(test)
                    print("The corresponding test accuracy is {0:.2%}".format(best[2]))
            return dict(validation_accuracy=validation_accuracy,
                        test_accuracy=best[2] if best[1] == iteration else None), False

        run.loop(engine, first, epochs, after_epoch, lambda: dict(state=[seed] + best),
                 mark=(1000, lambda iteration: print("Training mini-batch number {0}".format(iteration))))
        print("Finished training network.")
        if validation is None:
            return None, None, None
        print("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(best[0], best[1]))
        if best[2] is not None:
            print("Corresponding test accuracy of {0:.2%}".format(best[2]))
        return tuple(best)

    def _named_params(self):
        """Every layer's w and b by name (checkpoints)."""
        return {"layer%d.%s" % (j, name): getattr(layer, name)
                for j, layer in enumerate(self.layers) for name in ("w", "b")}

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
        plan = self._plan(training=False)
        with _config.blas_limit(1):
            return plan.predict(x, _config.effective_threads(), outputs)[:2]

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
    """Load a Network saved by ``Network.save`` (does not touch numpy's global generator).
    Anything but such a file raises ``nnfast.BadFileError`` (a ValueError) naming the file
    and what is wrong, its architecture checked before a layer is built."""
    arch, arrays = _netfiles.read_network3(path, _ACT_BY_NAME)
    try:
        layers = []
        for j, d in enumerate(arch["layers"]):
            if d["type"] == "SoftmaxLayer":
                layer = SoftmaxLayer.__new__(SoftmaxLayer)
                layer._configure(d["n_in"], d["n_out"], None, d["p_dropout"], "SoftmaxLayer")
            elif d["type"] == "ConvPoolLayer":
                layer = ConvPoolLayer.__new__(ConvPoolLayer)
                layer._configure(d["filter_shape"], d["image_shape"], d["poolsize"], _ACT_BY_NAME[d["activation_fn"]])
            else:
                layer = FullyConnectedLayer.__new__(FullyConnectedLayer)
                layer._configure(d["n_in"], d["n_out"], _ACT_BY_NAME[d["activation_fn"]], d["p_dropout"])
            layer.w, layer.b = arrays["w%d" % j], arrays["b%d" % j]
            layers.append(layer)
        return Network(layers, arch["mini_batch_size"], dtype=np.dtype(arch["dtype"]))
    except (TypeError, ValueError) as e:
        raise BadFileError("load: %s: %s" % (path, e), os.fspath(path)) from None


class _Engine(object):
    """The native SGD of csrc/net3.c on the working arrays of ``params``, as ``_train.Run``
    drives it; a chunk whose parameters end non-finite is undone before TrainingDiverged."""

    def __init__(self, net, params, X, Y, eta, l2, seed, threads):
        self.plan = net._plan_on(params.arrays)
        self.params, self.X, self.Y, self.eta, self.l2, self.seed, self.threads = params, X, Y, eta, l2, seed, threads
        self.B, self.used = net.mini_batch_size, (len(Y) // net.mini_batch_size) * net.mini_batch_size
        self.base = 0

    def start_epoch(self, j):
        self.base = self.plan.batches_done

    @property
    def examples_done(self):
        return (self.plan.batches_done - self.base) * self.B

    def train(self, j, order, first, count):
        self.before = [p.copy() for p in self.params.arrays]
        self.plan.train(self.X, self.Y, None, order, self.used, first, count, self.eta, self.l2, False, 0.0, self.seed,
                        j * self.used, self.threads)

    def check(self, j, first, end):
        if _train.all_finite(self.params.arrays):
            if self.plan.nonfinite:
                raise _train.diverged(j, self.plan.batches_done - self.base,
                                      "a weighted input or output delta became infinite or NaN", _train.BEFORE)
            return
        for p, b in zip(self.params.arrays, self.before):
            p[...] = b
        raise _train.diverged(j, first, "a parameter became infinite or NaN within mini-batches %d..%d"
                              % (first, end - 1), _train.BEFORE)


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
        pred = self.predict(x)
        _checks.check_same_length("Ensemble.accuracy", pred, y)
        return float(np.mean(pred == y))

    def train(self, training_data, epochs, mini_batch_size, eta, validation_data=None, test_data=None, lmbda=0.0,
              shuffle=False, *, seeds=None, client=None, histories=None, threads=None, progress=None):
        """Train every member with ``SGD`` (same arguments), each under random generators of
        its own seeded with ``seeds[k]`` (default: one drawn per member from ``np.random``).
        With a Dask ``client`` each member is a task (the data goes to each worker once)
        and ends with exactly the weights it gets trained here.  ``histories``: one
        ``history=`` per member.  Returns the members' SGD results."""
        from . import _cluster
        if seeds is None:
            seeds = [int(s) for s in np.random.randint(0, 2 ** 31 - 1, size=len(self.nets))]
        seeds = list(seeds)
        if len(seeds) != len(self.nets) or not all(hasattr(s, "__index__") and not isinstance(s, bool) and s >= 0
                                                  for s in seeds):
            raise ValueError("Ensemble.train: seeds must be %d whole numbers >= 0, got %r" % (len(self.nets), seeds))
        if histories is not None and len(histories) != len(self.nets):
            raise ValueError("Ensemble.train: %d histories for %d networks" % (len(histories), len(self.nets)))
        options = dict(lmbda=lmbda, shuffle=shuffle)
        return _cluster.train_members(self.nets, (training_data, validation_data, test_data), epochs,
                                      mini_batch_size, eta, options, seeds, client, histories, threads, progress)
