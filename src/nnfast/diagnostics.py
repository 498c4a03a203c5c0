"""Chapter 5 as code: why are deep networks hard to train?

The chapter measures how fast each hidden layer learns.  The error of neuron
j in layer l, delta^l_j = dC/dz^l_j, equals dC/db^l_j, the rate at which the
cost changes with that neuron's bias; so the length ||delta^l|| of the
vector of these errors measures how quickly layer l is learning.  The book's
script (``generate_gradient.py``) averages the per-example gradients from
``backprop`` over the 1,000 training images,

    delta^l = (1/n) sum_x nabla_b^l(x),     speed of layer l = ||delta^l||,

and finds that early layers learn far more slowly than later ones: the
vanishing gradient problem.  ``gradient_norms`` computes exactly that, for
the hidden layers, in one batched backward pass; ``GradientNormRecorder``
records it after every epoch of training.

The cause shows in the simplest deep network, a chain of single neurons:

    dC/db_1 = sigma'(z_1) * w_2 sigma'(z_2) * ... * w_n sigma'(z_n) * dC/da_n.

sigma' is at most 1/4, so with weights of ordinary size every factor
w_j sigma'(z_j) is below 1/4 in magnitude and the product vanishes
exponentially with depth; with large weights (and biases that keep z_j near
0) the factors exceed 1 and it explodes.  ``unstable_chain`` computes the
factors.
"""
import numbers

import numpy as np

from . import _checks, _dense

__all__ = ["gradient_norms", "GradientNormRecorder", "unstable_chain", "Chain"]

_CHUNK = 4096


def _layers_of(net):
    """How ``net`` computes, as backprop does: (hidden act, its derivative,
    output function, delta(z, a, y) of the output layer, hidden scale)."""
    if not all(hasattr(net, a) for a in ("sizes", "weights", "biases")):
        raise TypeError("net must be a network of nnfast.network or nnfast.network2 (or the reference "
                        "ones), with sizes, weights and biases; got %s" % type(net).__name__)
    cost = getattr(net, "cost", None)
    if cost is None:                               # chapter 1: sigmoid throughout, quadratic cost
        return (_dense.sigmoid, _dense.sigmoid_prime, _dense.sigmoid,
                lambda z, a, y: (a - y) * _dense.sigmoid_prime(z), 1.0)
    act, act_prime = net._hidden()
    out = _dense.softmax if net._softmax_output() else _dense.sigmoid
    p = float(getattr(net, "p_dropout", 0.0))
    return act, act_prime, out, cost.delta, 1.0 - p


def _summed_bias_gradients(net, X, Y):
    """sum over the rows of X, Y of backprop's nabla_b, in float64."""
    act, act_prime, out, delta_fn, scale = _layers_of(net)
    weights = [np.asarray(w, dtype=np.float64) for w in net.weights]
    biases = [np.asarray(b, dtype=np.float64).reshape(-1, 1) for b in net.biases]
    total = [np.zeros(b.shape[0]) for b in biases]
    for start in range(0, len(X), _CHUNK):
        a = np.asarray(X[start:start + _CHUNK], dtype=np.float64).T       # examples as columns
        y = np.asarray(Y[start:start + _CHUNK], dtype=np.float64).T
        nabla_b = _dense.backprop(weights, biases, a, y, delta_fn, act, act_prime, out, scale=scale)[0]
        for t, nb in zip(total, nabla_b):
            t += nb.reshape(-1)
    return total


def gradient_norms(net, data, include_output=False):
    """The chapter's speed of learning: for each hidden layer l, ||delta^l|| with
    delta^l = (1/n) sum_x dC_x/db^l, the gradient of the cost with respect to
    the layer's biases averaged over the n examples of ``data``.

    Returns a list of floats, first hidden layer first (empty for a network
    without hidden layers); ``include_output=True`` appends the output layer's.
    The cost is the network's own (the quadratic for ``network``,
    ``net.cost`` for ``network2``), without regularisation, whose term has
    no bias part.  The numbers equal averaging ``net.backprop(x, y)[0]`` over
    the data, as the book's script does, computed in one batched pass in
    float64.

    ``data``: the book's list of ``(x, y)`` pairs (y a one-hot column or an
    integer label), or an array pair ``(X, Y)`` as ``SGD`` accepts.
    """
    _layers_of(net)
    X, Y, _ = _dense.as_arrays(data, "data", net.sizes[0], net.sizes[-1], np.float64)
    return _norms(net, X, Y, include_output)


def _norms(net, X, Y, include_output):
    total = _summed_bias_gradients(net, X, Y)
    keep = total if include_output else total[:-1]
    return [float(np.linalg.norm(t / len(X))) for t in keep]


class GradientNormRecorder(object):
    """Records ``gradient_norms(net, data)`` after every epoch.

    Call it as ``recorder(net, epoch, record)``, the signature of SGD's
    per-epoch hook: it stores the hidden layers' norms in
    ``record["gradient_norms"]`` (when ``record`` is a dict) and appends them
    to its own ``.norms`` (and the epoch to ``.epochs``).  ``data`` is laid
    out as arrays once, on the first call."""

    def __init__(self, data):
        if data is None:
            raise ValueError("data is empty")
        self.data = data
        self.norms = []
        self.epochs = []
        self._arrays = None

    def __call__(self, net, epoch, record=None):
        _layers_of(net)
        key = (net.sizes[0], net.sizes[-1])
        if self._arrays is None or self._arrays[0] != key:
            X, Y, _ = _dense.as_arrays(self.data, "data", key[0], key[1], np.float64)
            self._arrays = (key, X, Y)
        norms = _norms(net, self._arrays[1], self._arrays[2], False)
        self.norms.append(norms)
        self.epochs.append(epoch)
        if isinstance(record, dict):
            record["gradient_norms"] = norms


class Chain(object):
    """``unstable_chain``'s result: per neuron j = 1..n, ``zs``, ``activations``
    (a_0 = x first), ``terms`` [sigma'(z_1), w_2 sigma'(z_2), ..., w_n
    sigma'(z_n)], their ``product`` (= da_n/db_1), ``dC_da`` = a_n - y and
    ``dC_db`` [dC/db_1, ..., dC/db_n] (``dC_db[0] = product * dC_da``)."""

    def __init__(self, zs, activations, terms, dC_da, dC_db):
        self.zs, self.activations, self.terms = zs, activations, terms
        self.product = float(np.prod(terms))
        self.dC_da, self.dC_db = dC_da, dC_db

    def report(self):
        lines = ["neuron  w_j*sigma'(z_j)       dC/db_j"]
        for j, (t, g) in enumerate(zip(self.terms, self.dC_db)):
            lines.append("%6d  %15.6g  %12.4e" % (j + 1, t, g))
        lines.append("product of the terms: %.4e; dC/da_n = %.4g; dC/db_1 = %.4e"
                     % (self.product, self.dC_da, self.dC_db[0]))
        return "\n".join(lines)

    __str__ = report


def unstable_chain(weights, biases, x, y=0.0):
    """The chapter's chain of single sigmoid neurons, input x, weights w_1..w_n,
    biases b_1..b_n, quadratic cost C = (a_n - y)^2 / 2.  Returns a ``Chain``
    whose ``terms`` are sigma'(z_1) and then w_j sigma'(z_j) for j = 2..n, and
    whose ``dC_db[0]`` is their product times dC/da_n = a_n - y: dC/db_1.
    (For j = 1 the chapter's first factor is sigma'(z_1) alone: w_1
    multiplies the input, not another neuron.)"""
    w = _chain_array(weights, "weights")
    b = _chain_array(biases, "biases")
    if len(w) != len(b):
        raise ValueError("weights and biases must have the same length (one per neuron), got %d and %d"
                         % (len(w), len(b)))
    x = _checks.check_real("x", x)
    y = _checks.check_real("y", y)
    n = len(w)
    zs, activations = np.empty(n), [x]
    for j in range(n):
        zs[j] = w[j] * activations[-1] + b[j]
        activations.append(float(_dense.sigmoid(zs[j])))
    sp = _dense.sigmoid_prime(zs)
    terms = [float(sp[0])] + [float(w[j] * sp[j]) for j in range(1, n)]
    dC_da = activations[-1] - y
    # backwards: dC/db_j = sigma'(z_j) * (w_{j+1} sigma'(z_{j+1}) * ... * w_n sigma'(z_n)) * dC/da_n
    dC_db, downstream = [0.0] * n, dC_da
    for j in range(n - 1, -1, -1):
        dC_db[j] = float(sp[j] * downstream)
        downstream *= w[j] * sp[j]
    return Chain(list(zs), activations, terms, dC_da, dC_db)


def _chain_array(v, name):
    try:
        a = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError("%s must be a list of numbers, one per neuron, got %r" % (name, v)) from None
    if a.size < 1:
        raise ValueError("%s must hold at least one number" % name)
    if not np.all(np.isfinite(a)):
        raise ValueError("%s contains NaN or infinity" % name)
    return a
