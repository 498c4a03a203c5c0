"""
network.py
~~~~~~~~~~

Chapter 1's network, as a drop-in for the book's ``network.py``: stochastic
gradient descent for a feedforward network of sigmoid neurons with the
quadratic cost.  Same attributes, same random streams, same printed lines; the
difference is speed: ``SGD`` lays the training set out as contiguous arrays
once, then each epoch is a few native calls (forward, backprop and update for
every mini-batch, in C with OpenMP).  As the book's, ``weights`` and
``biases`` are new arrays after each epoch (and after ``update_mini_batch``);
arrays assigned to them between epochs are what trains next.

Beyond the book: ``Network(sizes, dtype=np.float32)`` trains in single
precision, and ``training_data`` / ``test_data`` may be any iterable of
``(x, y)`` pairs (a zip, a generator) or array pairs ``(X, Y)`` with X of
shape (n, sizes[0]) and Y one-hot (n, sizes[-1]) or integer labels.
"""
import numpy as np

from . import _checks, _dense, _train
from ._dense import sigmoid, sigmoid_prime  # noqa: F401 - the book's module functions


def _quadratic_delta(z, a, y):
    """The output error of the quadratic cost: cost_derivative(a, y) * sigmoid'(z)."""
    return (a - y) * sigmoid_prime(z)


class Network(object):
    """The book's chapter-1 network: ``feedforward``, ``backprop`` and ``cost_derivative``
    in numpy as the book's, ``SGD``, ``update_mini_batch`` and ``evaluate`` native."""

    def __init__(self, sizes, dtype=np.float64):
        """``sizes`` lists the neurons in each layer: [2, 3, 1] is a network with
        two inputs, three hidden neurons and one output.  Biases and weights are
        drawn from the global numpy generator (``np.random.randn``), all biases
        first, layer by layer, then all weights, exactly as the book does, so
        ``np.random.seed(s)`` gives the book's initial network.  The input layer
        has no biases."""
        sizes = _checks.check_sizes(sizes)
        self.dtype = _checks.check_dtype(dtype)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1).astype(self.dtype, copy=False) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x).astype(self.dtype, copy=False) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input."""
        return _dense.feedforward(self.weights, self.biases, a)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
            progress=None, history=None, on_epoch=None, checkpoint=None, checkpoint_every=1, resume=None):
        """Train with mini-batch stochastic gradient descent.  ``training_data`` is a
        list of ``(x, y)`` tuples (or any iterable of them, or an array pair); each
        epoch shuffles it with ``random.shuffle`` and cuts it into consecutive
        mini-batches, the last one possibly shorter.  With ``test_data`` the network
        is evaluated after each epoch and the count printed: useful for tracking
        progress, but slower.

        Beyond the book: ``progress`` shows a bar during each epoch (None: when
        stderr is a terminal; True, False, or a callable ``progress(done, n)``);
        ``history`` (a path or an ``nnfast.history.History``) records each
        epoch's seconds and test accuracy (``evaluation_accuracy``, a count);
        ``on_epoch(net, epoch, record)`` is called after each epoch.

        ``checkpoint=PATH`` saves the run every
        ``checkpoint_every`` epochs (an .npz written atomically: network, random
        states, shuffled order); ``resume=PATH`` continues such a run with the
        same arguments, ending bit for bit where the uninterrupted run would."""
        epochs = _checks.check_int("epochs", epochs, 0)
        mini_batch_size = _checks.check_int("mini_batch_size", mini_batch_size, 1)
        eta = _checks.check_real("eta", eta, positive=True)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        data = _dense.training_set(training_data, "training_data", n_in, n_out, self.dtype)
        test_data = _train.materialize(test_data, "test_data")
        if test_data is not None and len(test_data) == 0:
            test_data = None
        if test_data is not None:
            Xt, Yt = _dense.as_eval_arrays(test_data, "test_data", n_in, n_out, self.dtype)
            labels = _dense.labels_of(Yt)

        n = data.n
        params = _train.dense_params(self)
        run = _train.Run(
            self, params, _train.Shuffler(n), -(-n // mini_batch_size), mini_batch_size, n,
            progress=progress, history=history, on_epoch=on_epoch, settings=dict(
                program="network", sizes=self.sizes, cost="QuadraticCost", epochs=epochs,
                mini_batch_size=mini_batch_size, eta=eta, dtype=self.dtype.name, n_training=n,
                n_evaluation=len(Xt) if test_data is not None else 0),
            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
            options=dict(kind="network", mini_batch_size=mini_batch_size, eta=eta), X=data.inputs, Y=data.targets)
        params.load()                          # checked before anything changes
        first, _ = run.restore()
        engine = _dense.Engine(self, params, data.X, data.Y, eta, (_dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC),
                               min(mini_batch_size, n), rows=data.rows)
        evaluate = _dense.Evaluator(self, params)

        def after_epoch(j):
            if test_data is None:
                print("Epoch {0} complete".format(j))
                return {}, False
            correct = int(np.count_nonzero(evaluate(Xt)[0] == labels))
            print("Epoch {0}: {1} / {2}".format(j, correct, len(Xt)))
            return dict(evaluation_accuracy=correct), False

        try:
            run.loop(engine, first, epochs, after_epoch)
        finally:
            run.finish(training_data)

    def update_mini_batch(self, mini_batch, eta):
        """Update the weights and biases by one gradient step computed by
        backpropagation over the whole ``mini_batch`` (a list of ``(x, y)``)."""
        eta = _checks.check_real("eta", eta, positive=True)
        X, Y, _ = _dense.as_arrays(mini_batch, "mini_batch", self.sizes[0], self.sizes[-1], self.dtype)
        _dense.one_step(self, X, Y, lambda params: _dense.Engine(
            self, params, X, Y, eta, (_dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC), len(X)))

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the quadratic cost for one
        example, layer by layer lists of numpy arrays like ``biases`` and ``weights``."""
        nabla_b, nabla_w, _ = _dense.backprop(self.weights, self.biases, x, y, _quadratic_delta)
        return nabla_b, nabla_w

    def evaluate(self, test_data):
        """Number of test inputs for which the network's output (the index of the
        most active output neuron) equals the label."""
        Xt, Yt = _dense.as_eval_arrays(test_data, "test_data", self.sizes[0], self.sizes[-1], self.dtype)
        return int(np.count_nonzero(_dense.evaluate_arrays(self, Xt)[0] == _dense.labels_of(Yt)))

    def cost_derivative(self, output_activations, y):
        """Partial derivatives of the quadratic cost with respect to the output activations."""
        return output_activations - y
