"""The chapter-3 oracle (nnfast.reference.network2): gradients by finite differences,
the book's arithmetic bit for bit on the default path, the chapter's options, save/load."""
import io
import itertools
import json
import os
import random
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

from nnfast.reference import _rng
from nnfast.reference import network2 as ref

COSTS = [ref.QuadraticCost, ref.CrossEntropyCost, ref.LogLikelihoodCost]
ACTIVATIONS = ["sigmoid", "tanh", "relu"]
SIZES = [[5, 4, 3], [6, 5, 4, 3]]


# ---------------------------------------------------------------- helpers

def one_hot(j, n):
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


def make_data(rng, n, n_in, n_out, onehot=True):
    data = []
    for _ in range(n):
        x = rng.rand(n_in, 1)
        j = int(rng.randint(n_out))
        data.append((x, one_hot(j, n_out) if onehot else j))
    return data


def params(net):
    return net.weights + net.biases


def fd_gradient(f, arrays, eps=1e-6):
    """Central differences of scalar f() w.r.t. every entry of every array (in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            fp = f()
            a[idx] = old - eps
            fm = f()
            a[idx] = old
            g[idx] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def rel_err(g1, g2):
    v1 = np.concatenate([g.ravel() for g in g1])
    v2 = np.concatenate([g.ravel() for g in g2])
    return np.linalg.norm(v1 - v2) / max(np.linalg.norm(v1) + np.linalg.norm(v2), 1e-300)


def run_quiet(fn, *args, **kw):
    out = io.StringIO()
    with redirect_stdout(out):
        res = fn(*args, **kw)
    return res, out.getvalue()


class BookNetwork(object):
    """The book's network2.Network, transcribed literally to Python 3 (training and
    monitoring only): the default path of the oracle must match it bit for bit."""

    def __init__(self, sizes, cost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
        self.cost = cost

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = ref.sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False):
        if evaluation_data: n_data = len(evaluation_data)
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))
            print("Epoch %s training complete" % j)
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
            if monitor_evaluation_accuracy:
                accuracy = self.accuracy(evaluation_data)
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(self.accuracy(evaluation_data), n_data))
            print()
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = ref.sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = ref.sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def accuracy(self, data, convert=False):
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert: y = ref.vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("cost,activation,sizes",
                         list(itertools.product(COSTS, ACTIVATIONS, SIZES)),
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_backprop_matches_finite_differences(cost, activation, sizes):
    rng = np.random.RandomState(sum(sizes) + len(activation))
    np.random.seed(7)
    net = ref.Network(sizes, cost=cost, activation=activation)
    x = rng.randn(sizes[0], 1)
    if cost is ref.LogLikelihoodCost:
        y = one_hot(1, sizes[-1])
    else:
        y = rng.rand(sizes[-1], 1)  # any target in [0, 1] for quadratic / cross-entropy
    nb, nw = net.backprop(x, y)
    fd = fd_gradient(lambda: net.cost.fn(net.feedforward(x), y), params(net))
    assert rel_err(nw + nb, fd) < 1e-6


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_evaluation_path_with_dropout_scaling(activation):
    """After dropout training, backprop without masks is the gradient of feedforward's cost."""
    np.random.seed(3)
    net = ref.Network([6, 5, 4, 3], cost=ref.CrossEntropyCost, activation=activation)
    net.p_dropout = 0.3
    x = np.random.randn(6, 1)
    y = one_hot(2, 3)
    nb, nw = net.backprop(x, y)
    fd = fd_gradient(lambda: net.cost.fn(net.feedforward(x), y), params(net))
    assert rel_err(nw + nb, fd) < 1e-6


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_with_masks_matches_finite_differences(activation):
    np.random.seed(4)
    net = ref.Network([6, 7, 5, 3], cost=ref.LogLikelihoodCost, activation=activation)
    masks = [np.array([[1.0], [0.0], [1.0], [1.0], [0.0], [1.0], [1.0]]),
             np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])]
    x = np.random.randn(6, 1)
    y = one_hot(0, 3)
    act = ref._ACTIVATIONS[activation][0]

    def masked_cost():
        a = x
        for i, (b, w) in enumerate(zip(net.biases, net.weights)):
            z = np.dot(w, a) + b
            a = ref.softmax(z) if i == 2 else act(z) * masks[i]
        return net.cost.fn(a, y)

    nb, nw = net.backprop(x, y, masks=masks)
    fd = fd_gradient(masked_cost, params(net))
    assert rel_err(nw + nb, fd) < 1e-6
    # dropped units get no gradient on their incoming weights and biases
    assert np.all(nw[0][[1, 4], :] == 0) and np.all(nb[1][[0, 3]] == 0)


@pytest.mark.parametrize("regularization", ["L2", "L1"])
def test_regularised_total_cost_gradient(regularization):
    rng = np.random.RandomState(11)
    np.random.seed(11)
    net = ref.Network([5, 4, 3], cost=ref.CrossEntropyCost, activation="tanh")
    net.regularization = regularization
    data = make_data(rng, 6, 5, 3)
    lmbda = 0.7
    grad_w = [np.zeros(w.shape) for w in net.weights]
    grad_b = [np.zeros(b.shape) for b in net.biases]
    for x, y in data:
        nb, nw = net.backprop(x, y)
        grad_w = [g + d / len(data) for g, d in zip(grad_w, nw)]
        grad_b = [g + d / len(data) for g, d in zip(grad_b, nb)]
    reg = (lambda w: w) if regularization == "L2" else np.sign
    grad_w = [g + (lmbda / len(data)) * reg(w) for g, w in zip(grad_w, net.weights)]
    fd = fd_gradient(lambda: net.total_cost(data, lmbda), params(net))
    assert rel_err(grad_w + grad_b, fd) < 1e-6


def test_total_cost_regularisation_terms():
    np.random.seed(1)
    net = ref.Network([3, 2, 2])
    data = [(np.ones((3, 1)), one_hot(0, 2)), (np.zeros((3, 1)), one_hot(1, 2))]
    base = net.total_cost(data, 0.0)
    sq = sum(np.sum(w * w) for w in net.weights)
    ab = sum(np.sum(np.abs(w)) for w in net.weights)
    assert net.total_cost(data, 3.0) == pytest.approx(base + 0.5 * (3.0 / 2) * sq, rel=1e-12)
    net.regularization = "L1"
    assert net.total_cost(data, 3.0) == pytest.approx(base + (3.0 / 2) * ab, rel=1e-12)
    # convert=True takes integer labels (validation/test format)
    assert net.total_cost([(x, int(np.argmax(y))) for x, y in data], 0.0, convert=True) == base


# ---------------------------------------------------------------- costs, activations, init

def test_costs_and_activations_values_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ref.sigmoid(np.array([-1000.0]))[0] == 0.0
        assert ref.sigmoid_prime(np.array([-1000.0, 1000.0])).tolist() == [0.0, 0.0]
        a = np.array([[0.0], [1.0], [0.5]])
        y = np.array([[0.0], [1.0], [1.0]])
        assert ref.CrossEntropyCost.fn(a, y) == pytest.approx(np.log(2))
        assert np.isfinite(ref.CrossEntropyCost.fn(np.array([[0.0]]), np.array([[1.0]])))
        a = ref.softmax(np.array([[1000.0], [999.0], [0.0]]))
        assert np.isfinite(a).all() and a.sum() == pytest.approx(1.0)
        y = one_hot(1, 3)
        assert ref.LogLikelihoodCost.fn(a, y) == pytest.approx(-np.log(a[1, 0]), rel=1e-15)
        assert np.isfinite(ref.LogLikelihoodCost.fn(np.array([[1.0], [0.0]]), one_hot(1, 2)))
    assert ref.LogLikelihoodCost.delta(None, a, y).tolist() == (a - y).tolist()
    z = np.array([[-1.0], [0.0], [2.0]])
    assert ref.relu(z).ravel().tolist() == [0.0, 0.0, 2.0]
    assert ref.relu_prime(z).ravel().tolist() == [0.0, 0.0, 1.0]
    v = ref.vectorized_result(3)
    assert v.shape == (10, 1) and v[3, 0] == 1.0 and v.sum() == 1.0


def test_output_layer_sigmoid_or_softmax():
    np.random.seed(0)
    net = ref.Network([4, 5, 3], activation="relu")
    x = np.random.randn(4, 1)
    h = ref.relu(np.dot(net.weights[0], x) + net.biases[0])
    z = np.dot(net.weights[1], h) + net.biases[1]
    assert np.array_equal(net.feedforward(x), ref.sigmoid(z))
    net.cost = ref.LogLikelihoodCost
    assert np.allclose(net.feedforward(x), np.exp(z) / np.exp(z).sum(), rtol=1e-14)
    net.p_dropout = 0.5
    z = np.dot(net.weights[1], 0.5 * h) + net.biases[1]
    assert np.allclose(net.feedforward(x), np.exp(z) / np.exp(z).sum(), rtol=1e-14)


@pytest.mark.parametrize("initializer", ["default", "large", "he"])
def test_initializers_use_the_books_random_stream(initializer):
    sizes = [7, 5, 3]
    np.random.seed(42)
    net = ref.Network(sizes, initializer=initializer)
    np.random.seed(42)
    biases = [np.random.randn(y, 1) for y in sizes[1:]]
    raw = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    scale = {"default": lambda x: 1.0 / np.sqrt(x), "large": lambda x: 1.0,
             "he": lambda x: np.sqrt(2.0 / x)}[initializer]
    for b, nb in zip(biases, net.biases):
        assert np.array_equal(b, nb)
    for r, w, x in zip(raw, net.weights, sizes[:-1]):
        assert np.allclose(w, r * scale(x), rtol=1e-15, atol=0)
    if initializer == "default":  # the book's exact expression
        assert all(np.array_equal(w, r / np.sqrt(x)) for r, w, x in zip(raw, net.weights, sizes))
    np.random.seed(42)
    net.large_weight_initializer()
    assert all(np.array_equal(w, r) for r, w in zip(raw, net.weights))


def test_constructor_rejects_bad_options():
    with pytest.raises(ValueError):
        ref.Network([3, 2], activation="softplus")
    with pytest.raises(ValueError):
        ref.Network([3, 2], initializer="xavier")
    with pytest.raises(ValueError):
        ref.Network([3])


# ---------------------------------------------------------------- book equivalence, SGD output

def test_default_path_is_the_book_bit_for_bit():
    """Same seeds: weights, printed lines and the four lists identical to the book's code;
    the default path does not touch np.random during SGD."""
    rng = np.random.RandomState(5)
    train = make_data(rng, 23, 6, 10)
    evald = make_data(rng, 7, 6, 10, onehot=False)
    for cost in (ref.CrossEntropyCost, ref.QuadraticCost):
        results = []
        for cls in (BookNetwork, ref.Network):
            np.random.seed(9)
            net = cls([6, 5, 10], cost=cost)
            random.seed(13)
            state = np.random.get_state()[1].copy()
            res, out = run_quiet(net.SGD, list(train), 2, 4, 0.5, lmbda=0.3, evaluation_data=evald,
                                 monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                                 monitor_training_cost=True, monitor_training_accuracy=True)
            assert np.array_equal(np.random.get_state()[1], state)
            results.append((res, out, net.weights, net.biases))
        (r1, o1, w1, b1), (r2, o2, w2, b2) = results
        assert o1 == o2 and r1 == r2
        assert all(np.array_equal(a, b) for a, b in zip(w1 + b1, w2 + b2))


def test_sgd_printed_lines_and_returned_lists():
    rng = np.random.RandomState(6)
    train = make_data(rng, 9, 4, 3)
    evald = make_data(rng, 5, 4, 3, onehot=False)
    np.random.seed(1)
    random.seed(1)
    net = ref.Network([4, 3, 3], cost=ref.LogLikelihoodCost, activation="tanh")
    (ec, ea, tc, ta), out = run_quiet(net.SGD, train, 3, 2, 0.1, lmbda=0.1, evaluation_data=evald,
                                      monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                                      monitor_training_cost=True, monitor_training_accuracy=True)
    expected = []
    for j in range(3):
        expected += ["Epoch {} training complete".format(j),
                     "Cost on training data: {}".format(tc[j]),
                     "Accuracy on training data: {} / 9".format(ta[j]),
                     "Cost on evaluation data: {}".format(ec[j]),
                     "Accuracy on evaluation data: {} / 5".format(ea[j]), ""]
    assert out.split("\n") == expected + [""]
    assert len(ec) == len(ea) == len(tc) == len(ta) == 3
    assert ea[-1] == net.accuracy(evald) and ta[-1] == net.accuracy(train, convert=True)
    assert tc[-1] == net.total_cost(train, 0.1) and ec[-1] == net.total_cost(evald, 0.1, convert=True)
    # only the flags set produce lines and entries
    (ec, ea, tc, ta), out = run_quiet(net.SGD, train, 2, 2, 0.1, evaluation_data=evald,
                                      monitor_evaluation_accuracy=True)
    assert ec == [] and tc == [] and ta == [] and len(ea) == 2
    assert out.split("\n") == ["Epoch 0 training complete", "Accuracy on evaluation data: %d / 5" % ea[0], "",
                               "Epoch 1 training complete", "Accuracy on evaluation data: %d / 5" % ea[1], "", ""]
    _, out = run_quiet(net.SGD, train, 1, 2, 0.1)
    assert out == "Epoch 0 training complete\n\n"


def test_sgd_shuffles_in_place_and_uses_short_last_batch():
    rng = np.random.RandomState(2)
    train = make_data(rng, 7, 3, 2)
    np.random.seed(0)
    net = ref.Network([3, 2])
    sizes_seen = []
    orig = net.update_mini_batch

    def spy(mb, eta, lmbda, n, **kw):
        sizes_seen.append((len(mb), n))
        return orig(mb, eta, lmbda, n, **kw)
    net.update_mini_batch = spy
    expected = list(train)
    random.seed(4)
    random.shuffle(expected)
    random.seed(4)
    run_quiet(net.SGD, train, 1, 3, 0.1)
    assert [id(t) for t in train] == [id(t) for t in expected]
    assert sizes_seen == [(3, 7), (3, 7), (1, 7)]


# ---------------------------------------------------------------- momentum, L1

class _FixedGrad(ref.Network):
    """backprop returns fixed gradients: update algebra by hand."""

    def backprop(self, x, y, masks=None):
        return [np.array([[0.5]])], [np.array([[2.0]])]


def _fixed_net(w=1.0, b=0.0):
    np.random.seed(0)
    net = _FixedGrad([1, 1])
    net.weights = [np.array([[w]])]
    net.biases = [np.array([[b]])]
    return net


@pytest.mark.parametrize("regularization,w2", [("L2", 0.3931), ("L1", 0.391)])
def test_momentum_update_by_hand(regularization, w2):
    # eta 0.1, lmbda 1, n 10, m 1, mu 0.9, grads nabla_w 2, nabla_b 0.5, w0 1, b0 0
    net = _fixed_net()
    mb = [(np.zeros((1, 1)), np.zeros((1, 1)))]
    net.update_mini_batch(mb, 0.1, 1.0, 10, mu=0.9, regularization=regularization)
    assert net.weights[0][0, 0] == pytest.approx(0.79, abs=1e-15)   # v = -0.1*(0.1*1 + 2)
    assert net.biases[0][0, 0] == pytest.approx(-0.05, abs=1e-15)
    net.update_mini_batch(mb, 0.1, 1.0, 10, mu=0.9, regularization=regularization)
    assert net.weights[0][0, 0] == pytest.approx(w2, abs=1e-15)     # w1 + 0.9*v1 - 0.1*(0.1*R(w1) + 2)
    assert net.biases[0][0, 0] == pytest.approx(-0.145, abs=1e-15)  # -0.05 + 0.9*-0.05 - 0.05


def test_momentum_velocity_restarts_each_sgd_call():
    data = [(np.zeros((1, 1)), np.zeros((1, 1)))]
    net = _fixed_net()
    run_quiet(net.SGD, list(data), 1, 1, 0.1, lmbda=1.0, mu=0.9)
    run_quiet(net.SGD, list(data), 1, 1, 0.1, lmbda=1.0, mu=0.9)
    # two first steps, n = 1: w1 = 1 - 0.1*(1*1 + 2) = 0.7; w2 = 0.7 - 0.1*(0.7 + 2) = 0.43
    assert net.weights[0][0, 0] == pytest.approx(0.43, abs=1e-15)


def test_mu_zero_and_l1_use_plain_expressions():
    net = _fixed_net(w=-1.0, b=0.25)
    mb = [(np.zeros((1, 1)), np.zeros((1, 1)))] * 2
    net.update_mini_batch(mb, 0.3, 0.5, 10, regularization="L1")
    assert net.weights[0][0, 0] == -1.0 - 0.3 * (0.5 / 10) * -1.0 - (0.3 / 2) * 4.0
    assert net.biases[0][0, 0] == 0.25 - (0.3 / 2) * 1.0
    net = _fixed_net(w=-1.0, b=0.25)
    net.update_mini_batch(mb, 0.3, 0.5, 10)
    assert net.weights[0][0, 0] == (1 - 0.3 * (0.5 / 10)) * -1.0 - (0.3 / 2) * 4.0


# ---------------------------------------------------------------- dropout

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_rng_mask_keeps_fraction(p):
    units, examples = 400, 50
    kept = np.mean([_rng.keep_mask(12345, l, a, np.arange(units), p)
                    for l in (1, 2) for a in range(examples)])
    total = units * examples * 2
    sigma = np.sqrt(p * (1 - p) / total)
    assert abs(kept - (1 - p)) < 5 * sigma


def test_dropout_training_uses_the_documented_masks():
    """SGD with dropout equals updates recomputed here with masks from _rng, unit by unit."""
    rng = np.random.RandomState(8)
    train = make_data(rng, 5, 4, 3)
    p, eta, mbs, epochs = 0.4, 0.2, 2, 2
    np.random.seed(21)
    net = ref.Network([4, 6, 5, 3], activation="relu")
    w0 = [w.copy() for w in net.weights]
    b0 = [b.copy() for b in net.biases]
    random.seed(3)
    state = np.random.get_state()
    run_quiet(net.SGD, list(train), epochs, mbs, eta, p_dropout=p)
    assert net.p_dropout == p

    np.random.set_state(state)
    seed = int(np.random.randint(0, 2 ** 62, dtype=np.int64))
    check = ref.Network([4, 6, 5, 3], activation="relu")
    check.weights, check.biases = w0, b0
    data = list(train)
    random.seed(3)
    n = len(data)
    for j in range(epochs):
        random.shuffle(data)
        for k in range(0, n, mbs):
            nb_sum = [np.zeros(b.shape) for b in check.biases]
            nw_sum = [np.zeros(w.shape) for w in check.weights]
            for pos in range(k, min(k + mbs, n)):
                masks = [np.array([[1.0 if _rng.uniform(seed, l, j * n + pos, u)[0] >= p else 0.0]
                                   for u in range(check.sizes[l])]) for l in (1, 2)]
                nb, nw = check.backprop(*data[pos], masks=masks)
                nb_sum = [a + b for a, b in zip(nb_sum, nb)]
                nw_sum = [a + b for a, b in zip(nw_sum, nw)]
            m = min(k + mbs, n) - k
            check.weights = [w - (eta / m) * g for w, g in zip(check.weights, nw_sum)]
            check.biases = [b - (eta / m) * g for b, g in zip(check.biases, nb_sum)]
    for a, b in zip(net.weights + net.biases, check.weights + check.biases):
        assert np.allclose(a, b, rtol=0, atol=1e-14)


def test_dropout_draws_one_seed_and_evaluation_scales():
    rng = np.random.RandomState(8)
    train = make_data(rng, 4, 3, 2)
    np.random.seed(2)
    net = ref.Network([3, 4, 2])
    np.random.seed(99)
    np.random.randint(0, 2 ** 62, dtype=np.int64)
    after_one = np.random.randn()
    np.random.seed(99)
    run_quiet(net.SGD, list(train), 1, 2, 0.1, p_dropout=0.5)
    assert np.random.randn() == after_one
    x = train[0][0]
    h = ref.sigmoid(np.dot(net.weights[0], x) + net.biases[0]) * 0.5
    assert np.array_equal(net.feedforward(x), ref.sigmoid(np.dot(net.weights[1], h) + net.biases[1]))
    # a later SGD call without dropout resets it
    run_quiet(net.SGD, list(train), 1, 2, 0.1)
    assert net.p_dropout == 0.0


# ---------------------------------------------------------------- schedule and early stopping

def _scripted(accuracies):
    """A network whose evaluation accuracy after epoch j is accuracies[j]; records eta."""
    np.random.seed(0)
    net = ref.Network([2, 2])
    state = {"epoch": -1, "etas": []}

    def update(mb, eta, lmbda, n, **kw):
        state["etas"].append(eta)

    def accuracy(data, convert=False):
        return accuracies[len(state["etas"]) - 1]
    net.update_mini_batch = update
    net.accuracy = accuracy
    return net, state


def test_learning_rate_schedule():
    net, state = _scripted([5, 6, 6, 6, 6, 6, 6, 6, 6])
    train = [(np.zeros((2, 1)), one_hot(0, 2))]
    evald = [(np.zeros((2, 1)), 0)]
    _, out = run_quiet(net.SGD, train, 9, 1, 0.8, evaluation_data=evald,
                       schedule_patience=2, schedule_factor=2.0, schedule_stop=4.0)
    assert state["etas"] == [0.8, 0.8, 0.8, 0.8, 0.4, 0.4]
    lines = out.split("\n")
    assert lines == ["Epoch 0 training complete", "", "Epoch 1 training complete", "",
                     "Epoch 2 training complete", "", "Epoch 3 training complete", "",
                     "Learning rate reduced to 0.4", "Epoch 4 training complete", "",
                     "Epoch 5 training complete", "", "Learning rate reduced to 0.2",
                     "Learning rate fell by a factor of 4.0: stopping", ""]


def test_schedule_counter_resets_on_improvement():
    net, state = _scripted([1, 1, 2, 2, 3, 3, 3])
    train = [(np.zeros((2, 1)), one_hot(0, 2))]
    _, out = run_quiet(net.SGD, train, 7, 1, 1.0, evaluation_data=[(np.zeros((2, 1)), 0)],
                       schedule_patience=2)
    assert state["etas"] == [1.0] * 7
    assert out.count("Learning rate reduced to 0.5") == 1 and out.endswith("Learning rate reduced to 0.5\n")


def test_early_stopping():
    net, state = _scripted([1, 2, 2, 3, 3, 3, 3, 3, 3])
    train = [(np.zeros((2, 1)), one_hot(0, 2))]
    evald = [(np.zeros((2, 1)), 0)]
    (ec, ea, tc, ta), out = run_quiet(net.SGD, train, 9, 1, 0.5, evaluation_data=evald,
                                      monitor_evaluation_accuracy=True, early_stopping_n=3)
    assert len(state["etas"]) == 7 and ea == [1, 2, 2, 3, 3, 3, 3]
    assert out.endswith("Accuracy on evaluation data: 3 / 1\n\nEarly stopping: no improvement in 3 epochs\n")


@pytest.mark.parametrize("kw", [{"early_stopping_n": 2}, {"schedule_patience": 2},
                                {"monitor_evaluation_cost": True}, {"monitor_evaluation_accuracy": True},
                                {"lmbda": -1.0}, {"lmbda": float("nan")}, {"regularization": "L3"},
                                {"mu": 1.0}, {"p_dropout": 1.0}, {"p_dropout": -0.1}])
def test_sgd_rejects_bad_arguments_before_training(kw):
    np.random.seed(0)
    net = ref.Network([2, 2])
    w = [a.copy() for a in net.weights]
    train = [(np.zeros((2, 1)), one_hot(0, 2))]
    with pytest.raises(ValueError):
        run_quiet(net.SGD, train, 1, 1, 0.5, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(w, net.weights))


# ---------------------------------------------------------------- save / load

def test_save_load_roundtrip_default_is_book_format(tmp_path):
    np.random.seed(0)
    net = ref.Network([4, 3, 2])
    f = str(tmp_path / "net.json")
    net.save(f)
    data = json.load(open(f))
    assert set(data) == {"sizes", "weights", "biases", "cost"}
    assert data["cost"] == "CrossEntropyCost" and data["sizes"] == [4, 3, 2]
    assert os.listdir(str(tmp_path)) == ["net.json"]
    back = ref.load(f)
    assert back.cost is ref.CrossEntropyCost and back.activation == "sigmoid"
    assert back.p_dropout == 0.0 and back.regularization == "L2"
    assert all(np.array_equal(a, b) for a, b in zip(params(net), params(back)))


def test_save_load_roundtrip_with_options(tmp_path):
    np.random.seed(0)
    net = ref.Network([4, 3, 2], cost=ref.LogLikelihoodCost, activation="relu")
    net.p_dropout = 0.25
    net.regularization = "L1"
    f = str(tmp_path / "net.json")
    net.save(f)
    data = json.load(open(f))
    assert data["activation"] == "relu" and data["p_dropout"] == 0.25 and data["regularization"] == "L1"
    back = ref.load(f)
    assert back.cost is ref.LogLikelihoodCost and back.activation == "relu"
    assert back.p_dropout == 0.25 and back.regularization == "L1"
    assert all(np.array_equal(a, b) for a, b in zip(params(net), params(back)))
    x = np.random.randn(4, 1)
    assert np.array_equal(net.feedforward(x), back.feedforward(x))


def test_save_is_atomic(tmp_path, monkeypatch):
    np.random.seed(0)
    net = ref.Network([2, 2])
    f = str(tmp_path / "net.json")
    net.save(f)
    before = open(f).read()

    def broken_dump(obj, fp, **kw):
        fp.write('{"sizes": [2')
        raise KeyboardInterrupt
    monkeypatch.setattr(ref.json, "dump", broken_dump)
    with pytest.raises(KeyboardInterrupt):
        net.save(f)
    assert open(f).read() == before
    assert os.listdir(str(tmp_path)) == ["net.json"]


def test_book_written_file_loads(tmp_path):
    """A file in the book's documented format (written by hand) loads and computes."""
    text = ('{"sizes": [2, 3, 2], "weights": [[[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], '
            '[[1, 2, 3], [-1.5, 0.5, 2.5]]], "biases": [[[0.1], [0.2], [0.3]], [[-1], [1]]], '
            '"cost": "QuadraticCost"}')
    f = tmp_path / "book.json"
    f.write_text(text)
    net = ref.load(str(f))
    assert net.cost is ref.QuadraticCost and net.sizes == [2, 3, 2]
    x = np.array([[1.0], [2.0]])
    w1 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
    w2 = np.array([[1.0, 2, 3], [-1.5, 0.5, 2.5]])
    h = ref.sigmoid(w1.dot(x) + np.array([[0.1], [0.2], [0.3]]))
    assert np.array_equal(net.feedforward(x), ref.sigmoid(w2.dot(h) + np.array([[-1.0], [1.0]])))
    assert net.weights[1].dtype == np.float64


GOOD = {"sizes": [2, 1], "weights": [[[0.5, -0.5]]], "biases": [[[0.0]]], "cost": "CrossEntropyCost"}


@pytest.mark.parametrize("change", [
    {"cost": "Network"}, {"cost": "sigmoid"}, {"cost": "__class__"}, {"cost": 3},
    {"activation": "softplus"}, {"activation": "eval"}, {"regularization": "L0"}, {"p_dropout": "0.5"},
    {"p_dropout": 1.0}, {"sizes": [2]}, {"sizes": [2, 0]}, {"sizes": [2, "1"]}, {"sizes": [2, True]},
    {"weights": [[[0.5, -0.5, 1.0]]]}, {"weights": [[[0.5], [-0.5]]]}, {"weights": []},
    {"weights": [[[0.5, "1.0"]]]}, {"weights": [[[0.5, None]]]}, {"weights": [[[0.5, True]]]},
    {"weights": [[[0.5], 1.0]]}, {"biases": [[0.0]]}, {"biases": [[[0.0], [1.0]]]},
    {"biases": [[["x"]]]}, {"biases": "0"},
    {"sizes": None}, {"weights": None}, {"biases": None}, {"cost": None},
])
def test_load_rejects_bad_files(tmp_path, change):
    data = dict(GOOD)
    for k, v in change.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ValueError):
        ref.load(str(f))


def test_load_rejects_non_object_and_garbage(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("[1, 2]")
    with pytest.raises(ValueError):
        ref.load(str(f))
    f.write_text("not json")
    with pytest.raises(ValueError):
        ref.load(str(f))
    f.write_text(json.dumps(GOOD))
    assert ref.load(str(f)).weights[0].shape == (1, 2)
