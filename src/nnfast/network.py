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

from . import _dense


class Network(object):

    def __init__(self, sizes, dtype=np.float64):
        """``sizes`` lists the neurons in each layer: [2, 3, 1] is a network with
        two inputs, three hidden neurons and one output.  Biases and weights are
        drawn from the global numpy generator (``np.random.randn``), all biases
        first, layer by layer, then all weights, exactly as the book does, so
        ``np.random.seed(s)`` gives the book's initial network.  The input layer
        has no biases."""
        sizes = _dense.check_sizes(sizes)
        self.dtype = _dense.check_dtype(dtype)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1).astype(self.dtype, copy=False) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x).astype(self.dtype, copy=False)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input (a column, or
        several columns side by side)."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train with mini-batch stochastic gradient descent.  ``training_data`` is a
        list of ``(x, y)`` tuples (or an array pair); each epoch shuffles it with
        ``random.shuffle`` and cuts it into consecutive mini-batches, the last one
        possibly shorter.  With ``test_data`` the network is evaluated after each
        epoch and the count printed: useful for tracking progress, but slower."""
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
        try:
            for j in range(epochs):
                order = shuffler.next_order()
                engine.epoch(X, Y, order, eta)
                if test_data is not None:
                    print("Epoch {0}: {1} / {2}".format(j, self._count_correct(Xt, labels), len(Xt)))
                else:
                    print("Epoch {0} complete".format(j))
        finally:
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

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the quadratic cost
        0.5 * ||a - y||^2 for one example, layer by layer like ``biases`` and
        ``weights``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """Number of test inputs for which the network's output (the index of the
        most active output neuron) equals the label."""
        Xt, Yt = _dense.as_eval_arrays(test_data, "test_data", self.sizes[0], self.sizes[-1], self.dtype)
        return self._count_correct(Xt, _dense.labels_of(Yt))

    def _count_correct(self, X, labels):
        pred, _, _ = _dense.evaluate_arrays(self, X)
        return int(np.count_nonzero(pred == labels))

    def cost_derivative(self, output_activations, y):
        """The vector of partial derivatives dC_x/da of the quadratic cost."""
        return output_activations - y


#### Miscellaneous functions
def sigmoid(z):
    """The sigmoid function.  Where ``exp(-z)`` overflows the value is 0.0, as
    in the book, but without numpy's overflow warning."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    s = sigmoid(z)
    return s * (1 - s)
