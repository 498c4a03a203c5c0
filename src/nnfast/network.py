"""
network.py
~~~~~~~~~~

Chapter 1's network, as a drop-in for the book's ``network.py``: stochastic
gradient descent for a feedforward network of sigmoid neurons with the
quadratic cost.  Same attributes, same random streams, same printed lines; the
difference is speed: ``SGD`` lays the training set out as contiguous arrays
once, then each epoch is one native call (forward, backprop and update for
every mini-batch, in C with OpenMP) that writes straight into ``weights`` and
``biases``.

Beyond the book: ``Network(sizes, dtype=np.float32)`` trains in single
precision, and ``training_data`` / ``test_data`` may also be array pairs
``(X, Y)`` with X of shape (n, sizes[0]) and Y one-hot (n, sizes[-1]) or
integer labels.
"""
import numpy as np

from . import _checkpoint, _dense, _progress
from . import history as _history
from .reference import network as _reference
from .reference.network import sigmoid, sigmoid_prime  # noqa: F401 - the book's module functions


class Network(_reference.Network):
    """The book's chapter-1 network; ``feedforward``, ``backprop`` and
    ``cost_derivative`` are the book's own (from ``nnfast.reference.network``),
    ``SGD``, ``update_mini_batch`` and ``evaluate`` run natively."""

    def __init__(self, sizes, dtype=np.float64):
        """``sizes`` lists the neurons in each layer: [2, 3, 1] is a network with
        two inputs, three hidden neurons and one output.  Biases and weights are
        drawn from the global numpy generator (``np.random.randn``), all biases
        first, layer by layer, then all weights, exactly as the book does, so
        ``np.random.seed(s)`` gives the book's initial network.  The input layer
        has no biases."""
        sizes = _dense.check_sizes(sizes)
        self.dtype = _dense.check_dtype(dtype)
        super().__init__(sizes)
        self.biases = [b.astype(self.dtype, copy=False) for b in self.biases]
        self.weights = [w.astype(self.dtype, copy=False) for w in self.weights]

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
            progress=None, history=None, on_epoch=None, checkpoint=None, checkpoint_every=1, resume=None):
        """Train with mini-batch stochastic gradient descent.  ``training_data`` is a
        list of ``(x, y)`` tuples (or an array pair); each epoch shuffles it with
        ``random.shuffle`` and cuts it into consecutive mini-batches, the last one
        possibly shorter.  With ``test_data`` the network is evaluated after each
        epoch and the count printed: useful for tracking progress, but slower.

        Beyond the book: ``progress`` shows a bar during each epoch (None: when
        stderr is a terminal; True, False, or a callable ``progress(done, n)``);
        ``history`` (a path or an ``nnfast.history.History``) records each
        epoch's seconds and test accuracy (``evaluation_accuracy``, a count);
        ``on_epoch(net, epoch, record)`` is called after each epoch.

        ``checkpoint=PATH`` saves the run every
        ``checkpoint_every`` epochs (an .npz written atomically: network, random
        states, shuffled order); ``resume=PATH`` continues such a run with the
        same arguments, ending bit for bit where the uninterrupted run would."""
        epochs = _dense.check_int("epochs", epochs, 0)
        mini_batch_size = _dense.check_int("mini_batch_size", mini_batch_size, 1)
        eta = _dense.check_real("eta", eta, positive=True)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        X, Y, is_list = _dense.as_arrays(training_data, "training_data", n_in, n_out, self.dtype)
        if test_data is not None and len(test_data) == 0:
            test_data = None
        if test_data is not None:
            Xt, Yt = _dense.as_eval_arrays(test_data, "test_data", n_in, n_out, self.dtype)
            labels = _dense.labels_of(Yt)
        _dense.check_params(self)

        n = len(X)
        engine = _dense.Engine(self, _dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC, min(mini_batch_size, n))
        shuffler = _dense.Shuffler(n)
        # progress bar and history (beyond the book)
        bar = _progress.Progress(progress)
        rec = _history.recorder(history, on_epoch, dict(
            program="network", sizes=self.sizes, cost="QuadraticCost", epochs=epochs, mini_batch_size=mini_batch_size,
            eta=eta, dtype=self.dtype.name, n_training=n, n_evaluation=len(Xt) if test_data is not None else 0))
        ckpt = _checkpoint.Checkpoint(self, checkpoint, checkpoint_every, resume,
                                      dict(kind="network", mini_batch_size=mini_batch_size, eta=eta), X, Y)
        first, _ = ckpt.restore(shuffler)
        try:
            for j in range(first, epochs):
                order = shuffler.next_order()
                bar.start("Epoch %d" % j, n)
                engine.epoch(X, Y, order, eta, progress=bar.hook)
                bar.close()
                correct = None
                if test_data is not None:
                    correct = self._count_correct(Xt, labels)
                    print("Epoch {0}: {1} / {2}".format(j, correct, len(Xt)))
                else:
                    print("Epoch {0} complete".format(j))
                if rec is not None:
                    rec.epoch(self, j, evaluation_accuracy=correct)
                ckpt.after_epoch(j, shuffler)
        except KeyboardInterrupt as e:
            engine.note_interrupt(e)     # net.last_interrupted_at: where the weights stand
            raise
        finally:
            bar.close()
            if is_list and epochs > 0:
                shuffler.apply_to(training_data)

    def update_mini_batch(self, mini_batch, eta):
        """Update the weights and biases by one gradient step computed by
        backpropagation over the whole ``mini_batch`` (a list of ``(x, y)``)."""
        eta = _dense.check_real("eta", eta, positive=True)
        X, Y, _ = _dense.as_arrays(mini_batch, "mini_batch", self.sizes[0], self.sizes[-1], self.dtype)
        _dense.check_params(self)
        engine = _dense.Engine(self, _dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC, len(X))
        engine.epoch(X, Y, np.arange(len(X), dtype=np.int64), eta)

    def evaluate(self, test_data):
        """Number of test inputs for which the network's output (the index of the
        most active output neuron) equals the label."""
        Xt, Yt = _dense.as_eval_arrays(test_data, "test_data", self.sizes[0], self.sizes[-1], self.dtype)
        return self._count_correct(Xt, _dense.labels_of(Yt))

    def _count_correct(self, X, labels):
        pred, _, _ = _dense.evaluate_arrays(self, X)
        return int(np.count_nonzero(pred == labels))
