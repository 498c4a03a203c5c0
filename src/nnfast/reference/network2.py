"""Chapter 3's network, exactly as the book computes it, in Python 3 and numpy.

Per example and per mini-batch, as ``network2.py`` of the book: the oracle the
fast ``nnfast.network2`` is tested against.  With every keyword at its default
the arithmetic is the book's, expression for expression.  Differences from the
book: what Python 3 needs (``range``, ``print()``), a sigmoid and a
cross-entropy that do not warn (same values), ``load`` that accepts only known
names and checks what it reads, an atomic ``save``, and a clear ``ValueError``
for arguments the book would crash on later (or silently misuse).

The chapter's improvements, each off by default:

- ``LogLikelihoodCost``: softmax output layer, cost ``-ln a[label]``.
- ``Network(..., activation="sigmoid"|"tanh"|"relu")`` for the HIDDEN layers
  (the output layer is sigmoid, or softmax with ``LogLikelihoodCost``), and
  ``initializer="default"|"large"|"he"``.
- ``SGD(..., regularization="L2"|"L1", mu=..., p_dropout=...,
  early_stopping_n=..., schedule_patience=..., schedule_factor=...,
  schedule_stop=...)``: L1 weight decay, momentum, dropout on hidden
  activations, early stopping and a learning-rate schedule driven by the
  accuracy on ``evaluation_data``.

Dropout masks come from the counter-based generator ``_rng`` shared with the C
kernels: unit ``u`` of hidden layer ``l`` (1 = first hidden layer) of the
example at position ``pos`` of epoch ``j``'s shuffled order is kept iff
``_rng.uniform(seed, l, j*n + pos, u) >= p_dropout``, with ``seed`` drawn once
per ``SGD`` call from ``np.random`` (only when ``p_dropout > 0``).
"""
import json
import math
import numbers
import os
import random
import tempfile

import numpy as np

from . import _rng


#### Costs

class QuadraticCost(object):

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` against desired output ``y``: 0.5*||a-y||^2."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Error delta of the (sigmoid) output layer."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):

    @staticmethod
    def fn(a, y):
        """Cross-entropy of ``a`` against ``y``; nan_to_num makes 0*log(0) = 0 and
        log(0) a huge finite number, as the book (without the warnings)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta of the (sigmoid) output layer: a - y."""
        return (a - y)


class LogLikelihoodCost(object):
    """Log-likelihood cost; a network with this cost has a softmax output layer."""

    @staticmethod
    def fn(a, y):
        """-sum(y*ln a), i.e. -ln a[label] for one-hot ``y`` (nan_to_num as above)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta of the softmax output layer: a - y."""
        return (a - y)


_COSTS = {"QuadraticCost": QuadraticCost,
          "CrossEntropyCost": CrossEntropyCost,
          "LogLikelihoodCost": LogLikelihoodCost}


#### Activations

def sigmoid(z):
    """The sigmoid function (exp overflow gives 0.0, silently)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z):
    """Rectified linear: max(z, 0)."""
    return np.maximum(z, 0.0)


def relu_prime(z):
    """1 where z > 0, else 0 (0 at z == 0)."""
    return (z > 0).astype(np.float64)


def softmax(z):
    """exp(z - max z) / sum(exp(z - max z)) over the column."""
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


_ACTIVATIONS = {"sigmoid": (sigmoid, sigmoid_prime),
                "tanh": (tanh, tanh_prime),
                "relu": (relu, relu_prime)}
_INITIALIZERS = ("default", "large", "he")
_REGULARIZATIONS = ("L2", "L1")


#### Main Network class

class Network(object):

    def __init__(self, sizes, cost=CrossEntropyCost, activation="sigmoid", initializer="default"):
        """``sizes`` lists the neurons per layer, e.g. [784, 30, 10].  ``activation``
        is the hidden layers' neuron ("sigmoid", "tanh" or "relu"); the output
        layer is sigmoid, or softmax when ``cost`` is ``LogLikelihoodCost``.
        ``initializer``: "default" (the book's: randn/sqrt(n_in)), "large"
        (chapter 1's randn) or "he" (randn*sqrt(2/n_in)); biases randn(y, 1)
        in every case, all biases drawn before all weights."""
        _check_sizes(sizes)
        if activation not in _ACTIVATIONS:
            raise ValueError("activation must be one of %s, not %r" % (sorted(_ACTIVATIONS), activation))
        if initializer not in _INITIALIZERS:
            raise ValueError("initializer must be one of %s, not %r" % (list(_INITIALIZERS), initializer))
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.activation = activation
        self.p_dropout = 0.0
        self.regularization = "L2"
        self._velocity_w = None
        self._velocity_b = None
        if initializer == "default":
            self.default_weight_initializer()
        elif initializer == "large":
            self.large_weight_initializer()
        else:
            self.he_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1): the book's default."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's initialisation."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def he_weight_initializer(self):
        """Weights N(0, 2/n_in) (He et al., for rectified linear units), biases N(0, 1)."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) * np.sqrt(2.0 / x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    # -- layer functions

    def _softmax_output(self):
        return isinstance(self.cost, type) and issubclass(self.cost, LogLikelihoodCost)

    def _output(self, z):
        return softmax(z) if self._softmax_output() else sigmoid(z)

    def _hidden(self):
        return _ACTIVATIONS[self.activation]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input (evaluation path:
        with dropout, hidden activations are scaled by 1 - p_dropout)."""
        act, _ = self._hidden()
        p = self.p_dropout
        last = len(self.weights) - 1
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, a) + b
            if i == last:
                a = self._output(z)
            else:
                a = act(z)
                if p > 0:
                    a = a * (1.0 - p)
        return a

    # -- training

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            lmbda=0.0,
            evaluation_data=None,
            monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False,
            monitor_training_cost=False,
            monitor_training_accuracy=False,
            *,
            regularization="L2",
            mu=0.0,
            p_dropout=0.0,
            early_stopping_n=None,
            schedule_patience=None,
            schedule_factor=2.0,
            schedule_stop=128.0):
        """Mini-batch stochastic gradient descent, as the book; shuffles
        ``training_data`` in place each epoch (stdlib ``random.shuffle``).

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``, one entry per epoch for each monitor flag set.

        Keywords (defaults = the book): ``regularization`` "L2" or "L1";
        ``mu`` momentum coefficient in [0, 1); ``p_dropout`` in [0, 1), the
        probability of dropping each hidden unit for one training example;
        ``early_stopping_n``: stop after that many consecutive epochs without
        a new best evaluation accuracy; ``schedule_patience``: divide eta by
        ``schedule_factor`` after that many consecutive epochs without a new
        best evaluation accuracy, and stop once eta <= initial eta /
        ``schedule_stop``.  Both need ``evaluation_data``.
        """
        if training_data is not None and not isinstance(training_data, list):
            training_data = list(training_data)
        if evaluation_data is not None and not isinstance(evaluation_data, list):
            evaluation_data = list(evaluation_data)
        _check_sgd_args(epochs, mini_batch_size, eta, lmbda, regularization, mu, p_dropout,
                        early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        _check_needs_evaluation(evaluation_data is not None and len(evaluation_data) > 0,
                                monitor_evaluation_cost, monitor_evaluation_accuracy,
                                early_stopping_n, schedule_patience)
        self.regularization = regularization
        self.p_dropout = float(p_dropout)
        self._velocity_w = None
        self._velocity_b = None
        seed = None
        if p_dropout > 0:
            seed = int(np.random.randint(0, 2 ** 62, dtype=np.int64))

        if evaluation_data: n_data = len(evaluation_data)
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        progress = _Progress(eta, early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        for j in range(epochs):
            random.shuffle(training_data)
            for k in range(0, n, mini_batch_size):
                mini_batch = training_data[k:k + mini_batch_size]
                masks = None
                if seed is not None:
                    masks = [self._dropout_masks(seed, j * n + k + i, p_dropout)
                             for i in range(len(mini_batch))]
                self.update_mini_batch(mini_batch, eta, lmbda, n,
                                       masks=masks, mu=mu, regularization=regularization)
            print("Epoch {} training complete".format(j))
            if monitor_training_cost:
                cost = self.total_cost(training_data, lmbda)
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = self.accuracy(training_data, convert=True)
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = self.total_cost(evaluation_data, lmbda, convert=True)
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            eval_acc = None
            if monitor_evaluation_accuracy:
                eval_acc = self.accuracy(evaluation_data)
                evaluation_accuracy.append(eval_acc)
                print("Accuracy on evaluation data: {} / {}".format(eval_acc, n_data))
            print()
            if not progress.active:
                continue
            if eval_acc is None:
                eval_acc = self.accuracy(evaluation_data)
            eta, stop = progress.after_epoch(eval_acc, eta)
            if stop:
                break
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def _dropout_masks(self, seed, counter, p):
        """Keep-masks (float 0/1 columns) of the hidden layers for one example."""
        return [_rng.keep_mask(seed, l, counter, np.arange(self.sizes[l]), p)
                .astype(np.float64).reshape(-1, 1)
                for l in range(1, self.num_layers - 1)]

    def update_mini_batch(self, mini_batch, eta, lmbda, n, masks=None, mu=0.0, regularization=None):
        """One gradient step from the summed per-example gradients of ``mini_batch``;
        ``n`` is the training set size.  ``masks`` (from ``SGD`` when dropout is
        on): per example, the hidden layers' keep-masks.  ``regularization``
        defaults to the network's (``"L2"``)."""
        if regularization is None:
            regularization = self.regularization
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for i, (x, y) in enumerate(mini_batch):
            delta_nabla_b, delta_nabla_w = self.backprop(
                x, y, masks=None if masks is None else masks[i])
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self._step(nabla_b, nabla_w, len(mini_batch), eta, lmbda, n, mu, regularization)

    def _step(self, nabla_b, nabla_w, m, eta, lmbda, n, mu, regularization):
        """The update from the gradients summed over a mini-batch of ``m`` examples
        (shared with nnfast.network2's batched numpy path)."""
        if mu == 0:
            if regularization == "L2":
                # the book's expression, unchanged
                self.weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw
                                for w, nw in zip(self.weights, nabla_w)]
            else:
                self.weights = [w - eta * (lmbda / n) * np.sign(w) - (eta / m) * nw
                                for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb
                           for b, nb in zip(self.biases, nabla_b)]
            return
        if self._velocity_w is None:
            self._velocity_w = [np.zeros(w.shape) for w in self.weights]
            self._velocity_b = [np.zeros(b.shape) for b in self.biases]
        reg = (lambda w: w) if regularization == "L2" else np.sign
        self._velocity_w = [mu * vw - eta * ((lmbda / n) * reg(w) + nw / m)
                            for vw, w, nw in zip(self._velocity_w, self.weights, nabla_w)]
        self._velocity_b = [mu * vb - eta * nb / m
                            for vb, nb in zip(self._velocity_b, nabla_b)]
        self.weights = [w + vw for w, vw in zip(self.weights, self._velocity_w)]
        self.biases = [b + vb for b, vb in zip(self.biases, self._velocity_b)]

    def backprop(self, x, y, masks=None):
        """Gradient ``(nabla_b, nabla_w)`` of ``cost.fn`` for one example.

        Without ``masks`` this is the gradient of the cost of ``feedforward(x)``
        (with dropout trained, hidden activations scaled by 1 - p_dropout).
        With ``masks`` (one 0/1 column per hidden layer) dropped hidden units
        output 0 and pass back no error: the dropout training path."""
        act, act_prime = self._hidden()
        p = self.p_dropout
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward
        activation = x
        activations = [x]
        zs = []
        last = len(self.weights) - 1
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, activation) + b
            zs.append(z)
            if i == last:
                activation = self._output(z)
            else:
                activation = act(z)
                if masks is not None:
                    activation = activation * masks[i]
                elif p > 0:
                    activation = activation * (1.0 - p)
            activations.append(activation)
        # backward pass
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = act_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            if masks is not None:
                delta = delta * masks[-l + 1]
            elif p > 0:
                delta = delta * (1.0 - p)
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    # -- evaluation

    def accuracy(self, data, convert=False):
        """Number of inputs whose output argmax is the label; ``convert=True``
        for training-format data (one-hot ``y``)."""
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the regularisation term
        (L2: 0.5*(lmbda/len(data))*sum ||w||^2; L1: (lmbda/len(data))*sum |w|);
        ``convert=True`` for validation/test-format data (integer ``y``)."""
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert: y = _one_hot(y, a.shape[0])
            cost += self.cost.fn(a, y) / len(data)
        if self.regularization == "L1":
            cost += (lmbda / len(data)) * sum(np.sum(np.abs(w)) for w in self.weights)
        else:
            cost += 0.5 * (lmbda / len(data)) * sum(
                np.linalg.norm(w) ** 2 for w in self.weights)
        return cost

    # -- persistence

    def save(self, filename):
        """Save to ``filename`` as the book's JSON (sizes, weights, biases, cost),
        plus ``activation``, ``p_dropout``, ``regularization`` only when not the
        defaults.  Atomic: a temporary file in the same folder replaces the target."""
        data = {"sizes": [int(s) for s in self.sizes],
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        if self.activation != "sigmoid":
            data["activation"] = self.activation
        if self.p_dropout != 0.0:
            data["p_dropout"] = float(self.p_dropout)
        if self.regularization != "L2":
            data["regularization"] = self.regularization
        folder = os.path.dirname(os.path.abspath(filename))
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(filename) + ".nnfast-tmp-", dir=folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)       # the mode a plain open() gives, not mkstemp's 0o600
            os.replace(tmp, filename)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class _Progress(object):
    """Early stopping and the learning-rate schedule after each epoch, driven by
    the accuracy on the evaluation data (shared with nnfast.network2)."""

    def __init__(self, eta, early_stopping_n, schedule_patience, schedule_factor, schedule_stop):
        self.eta_initial = eta
        self.early_stopping_n = early_stopping_n
        self.schedule_patience = schedule_patience
        self.schedule_factor = schedule_factor
        self.schedule_stop = schedule_stop
        self.active = early_stopping_n is not None or schedule_patience is not None
        self.best = None
        self.no_improvement = 0      # epochs since the best accuracy (early stopping)
        self.since_change = 0        # epochs since the best accuracy or the last eta cut

    def after_epoch(self, eval_acc, eta):
        """Returns ``(eta, stop)``, printing the schedule's and early stopping's lines."""
        if self.best is None or eval_acc > self.best:
            self.best = eval_acc
            self.no_improvement = 0
            self.since_change = 0
        else:
            self.no_improvement += 1
            self.since_change += 1
        if self.schedule_patience is not None and self.since_change >= self.schedule_patience:
            eta = eta / self.schedule_factor
            self.since_change = 0
            print("Learning rate reduced to {}".format(eta))
            if eta <= self.eta_initial / self.schedule_stop:
                print("Learning rate fell by a factor of {}: stopping".format(self.schedule_stop))
                return eta, True
        if self.early_stopping_n is not None and self.no_improvement >= self.early_stopping_n:
            print("Early stopping: no improvement in {} epochs".format(self.early_stopping_n))
            return eta, True
        return eta, False


#### Loading a Network

def load(filename):
    """Load a network saved by ``save`` (or by the book's network2).

    Accepts only the known cost names and activations; raises ``ValueError``
    for missing keys, unknown names, non-numeric entries and arrays whose
    shapes disagree with ``sizes``.  Like the book, constructs the network
    first (drawing its initial weights from ``np.random``), then assigns."""
    return _load(filename, Network)


def _load(filename, network_class):
    """``load`` building a ``network_class`` (nnfast.network2 shares this reader)."""
    with open(filename, "r") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError("%s: not a JSON network file (%s)" % (filename, e))
    if not isinstance(data, dict):
        raise ValueError("%s: expected a JSON object" % filename)
    for key in ("sizes", "weights", "biases", "cost"):
        if key not in data:
            raise ValueError("%s: missing key %r" % (filename, key))
    sizes = data["sizes"]
    try:
        _check_sizes(sizes)
    except (TypeError, ValueError) as e:
        raise ValueError("%s: bad sizes: %s" % (filename, e))
    cost_name = data["cost"]
    if not isinstance(cost_name, str) or cost_name not in _COSTS:
        raise ValueError("%s: unknown cost %r (known: %s)" % (filename, cost_name, ", ".join(_COSTS)))
    activation = data.get("activation", "sigmoid")
    if not isinstance(activation, str) or activation not in _ACTIVATIONS:
        raise ValueError("%s: unknown activation %r (known: %s)"
                         % (filename, activation, ", ".join(_ACTIVATIONS)))
    regularization = data.get("regularization", "L2")
    if not isinstance(regularization, str) or regularization not in _REGULARIZATIONS:
        raise ValueError("%s: unknown regularization %r" % (filename, regularization))
    p_dropout = data.get("p_dropout", 0.0)
    if (not _is_number(p_dropout)) or not (0.0 <= p_dropout < 1.0):
        raise ValueError("%s: p_dropout must be a number in [0, 1), not %r" % (filename, p_dropout))
    weights = _read_arrays(filename, "weights", data["weights"],
                           [(y, x) for x, y in zip(sizes[:-1], sizes[1:])])
    biases = _read_arrays(filename, "biases", data["biases"], [(y, 1) for y in sizes[1:]])
    net = network_class(sizes, cost=_COSTS[cost_name], activation=activation)
    net.weights = weights
    net.biases = biases
    net.p_dropout = float(p_dropout)
    net.regularization = regularization
    return net


#### Miscellaneous functions

def vectorized_result(j):
    """A 10-dimensional unit column with 1.0 at row j (digit -> desired output)."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def _one_hot(j, size):
    """``vectorized_result`` for an output layer of any size (same for 10)."""
    e = np.zeros((size, 1))
    e[j] = 1.0
    return e


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_sizes(sizes):
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError("sizes must be a list of at least two layer sizes, not %r" % (sizes,))
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1:
            raise ValueError("layer sizes must be positive integers, not %r" % (s,))
        if s > 2 ** 31 - 1:
            raise ValueError("layer sizes must be at most 2**31 - 1 (BLAS counts in 32-bit ints), not %r" % (s,))


def _check_leaves(v):
    """True when ``v`` is a nested list whose leaves are all numbers (not bools)."""
    if isinstance(v, list):
        return all(_check_leaves(e) for e in v)
    return _is_number(v)


def _read_arrays(filename, key, value, shapes):
    if not isinstance(value, list) or len(value) != len(shapes):
        raise ValueError("%s: %r must be a list of %d arrays" % (filename, key, len(shapes)))
    out = []
    for i, (v, shape) in enumerate(zip(value, shapes)):
        if not _check_leaves(v):
            raise ValueError("%s: %s[%d] has non-numeric entries" % (filename, key, i))
        try:
            a = np.array(v, dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError("%s: %s[%d] is not a rectangular array" % (filename, key, i))
        if a.shape != shape:
            raise ValueError("%s: %s[%d] has shape %s, sizes say %s" % (filename, key, i, a.shape, shape))
        out.append(a)
    return out


def _check_needs_evaluation(has_evaluation, monitor_evaluation_cost, monitor_evaluation_accuracy,
                            early_stopping_n, schedule_patience):
    if not has_evaluation:
        for flag, name in ((monitor_evaluation_cost, "monitor_evaluation_cost"),
                           (monitor_evaluation_accuracy, "monitor_evaluation_accuracy"),
                           (early_stopping_n is not None, "early_stopping_n"),
                           (schedule_patience is not None, "schedule_patience")):
            if flag:
                raise ValueError("%s needs evaluation_data" % name)


def _check_sgd_args(epochs, mini_batch_size, eta, lmbda, regularization, mu, p_dropout,
                    early_stopping_n, schedule_patience, schedule_factor, schedule_stop):
    def positive_int(v, name, allow_zero=False):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < (0 if allow_zero else 1):
            raise ValueError("%s must be a %s integer, not %r"
                             % (name, "non-negative" if allow_zero else "positive", v))
    positive_int(epochs, "epochs", allow_zero=True)
    positive_int(mini_batch_size, "mini_batch_size")
    if not _is_number(eta) or not math.isfinite(eta):
        raise ValueError("eta must be a finite number, not %r" % (eta,))
    if not _is_number(lmbda) or not math.isfinite(lmbda) or lmbda < 0:
        raise ValueError("lmbda must be a finite number >= 0, not %r" % (lmbda,))
    if regularization not in _REGULARIZATIONS:
        raise ValueError("regularization must be 'L2' or 'L1', not %r" % (regularization,))
    if not _is_number(mu) or not (0.0 <= mu < 1.0):
        raise ValueError("mu must be a number in [0, 1), not %r" % (mu,))
    if not _is_number(p_dropout) or not (0.0 <= p_dropout < 1.0):
        raise ValueError("p_dropout must be a number in [0, 1), not %r" % (p_dropout,))
    if early_stopping_n is not None:
        positive_int(early_stopping_n, "early_stopping_n")
    if schedule_patience is not None:
        positive_int(schedule_patience, "schedule_patience")
        if not _is_number(schedule_factor) or not math.isfinite(schedule_factor) or schedule_factor <= 1:
            raise ValueError("schedule_factor must be a finite number > 1, not %r" % (schedule_factor,))
        if not _is_number(schedule_stop) or not math.isfinite(schedule_stop) or schedule_stop <= 1:
            raise ValueError("schedule_stop must be a finite number > 1, not %r" % (schedule_stop,))
