"""One engine runs all three networks.

network3's fully connected sigmoid layers under a softmax layer, and network2 of the same sizes
with the log-likelihood cost, given the same initial weights and the same mini-batches, end an
epoch with the same weights to the bit in float64: both walk the one training loop of
csrc/net3.c, with one weight layout (network2's weights are the transposed views of network3's w).
network.py is network2 with the quadratic cost: it takes the same loop.
"""
import contextlib
import io
import random

import numpy as np
import pytest

import nnfast
from nnfast import _core, network, network2, network3

needs_openmp = pytest.mark.skipif(not _core.openmp_enabled(), reason="serial build: one thread only")


def _pair(sizes, dtype=np.float64):
    """network2 (LogLikelihoodCost) and network3 (FullyConnectedLayer ..., SoftmaxLayer) holding the
    same parameters, network3's w the transpose of network2's weights."""
    np.random.seed(4)
    n2 = network2.Network(sizes, cost=network2.LogLikelihoodCost, dtype=dtype)
    layers = [network3.FullyConnectedLayer(k, j) for k, j in zip(sizes[:-2], sizes[1:-1])]
    n3 = network3.Network(layers + [network3.SoftmaxLayer(sizes[-2], sizes[-1])], 10, dtype=dtype)
    for layer, w, b in zip(n3.layers, n2.weights, n2.biases):
        layer.w, layer.b = np.ascontiguousarray(w.T), b.ravel().copy()
    return n2, n3


def _same_bits(n2, n3):
    return all(np.array_equal(layer.w, w.T) and np.array_equal(layer.b, b.ravel())
               for layer, w, b in zip(n3.layers, n2.weights, n2.biases))


# [784, 600, 10]: its first layer's products (4.7 million multiply-adds at mini-batch 10) take the
# small-batch kernels, the others BLAS (dense3.c's fc_small)
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 10], [784, 60, 30, 10], [784, 600, 10]])
@pytest.mark.parametrize("threads", [1, pytest.param(2, marks=needs_openmp)])
def test_network2_and_network3_end_an_epoch_with_the_same_bits(mnist_test_arrays, monkeypatch, sizes, threads):
    X, y = mnist_test_arrays
    X, y = np.asarray(X[:3000], dtype=np.float64), y[:3000]
    n2, n3 = _pair(sizes)
    assert _same_bits(n2, n3)
    # the same mini-batches: network3 takes the examples in their order (shuffle=False), and
    # network2's random.shuffle is made to leave them so
    monkeypatch.setattr(random, "shuffle", lambda order: None)
    with nnfast.num_threads(threads), contextlib.redirect_stdout(io.StringIO()):
        n2.SGD((X, y), 1, 10, 0.5)
        n3.SGD((X, y), 1, 10, 0.5)
    assert not np.array_equal(n3.layers[0].w, _pair(sizes)[1].layers[0].w)    # it did train
    assert _same_bits(n2, n3)


def test_the_bits_part_when_the_arithmetic_differs(mnist_test_arrays, monkeypatch):
    """The comparison above can fail: network2's cross-entropy cost under a sigmoid output (another
    last layer) ends the epoch elsewhere."""
    X, y = mnist_test_arrays
    X, y = np.asarray(X[:500], dtype=np.float64), y[:500]
    n2, n3 = _pair([784, 30, 10])
    n2.cost = network2.CrossEntropyCost
    monkeypatch.setattr(random, "shuffle", lambda order: None)
    with contextlib.redirect_stdout(io.StringIO()):
        n2.SGD((X, y), 1, 10, 0.5)
        n3.SGD((X, y), 1, 10, 0.5)
    assert not _same_bits(n2, n3)


def test_network_is_network2_with_the_quadratic_cost(mnist_test_arrays, monkeypatch):
    """network.py and network2 with QuadraticCost and the same weights: the same bits after an epoch
    with a short last mini-batch (995 examples at 10)."""
    X, y = mnist_test_arrays
    X, y = X[:995], y[:995]
    np.random.seed(2)
    n1 = network.Network([784, 30, 10])
    n2 = network2.Network([784, 30, 10], cost=network2.QuadraticCost)
    n2.weights, n2.biases = [w.copy() for w in n1.weights], [b.copy() for b in n1.biases]
    monkeypatch.setattr(random, "shuffle", lambda order: None)
    with contextlib.redirect_stdout(io.StringIO()):
        n1.SGD((X, y), 1, 10, 3.0)
        n2.SGD((X, y), 1, 10, 3.0)
    assert all(np.array_equal(p, q) for p, q in zip(n1.weights + n1.biases, n2.weights + n2.biases))


def test_the_plan_refuses_arrays_that_do_not_match():
    """The glue's own checks (the networks check the user's data before): a wrong X, missing or
    extra targets, rows outside X, mini-batches beyond the examples: ValueError, nothing trained."""
    np.random.seed(0)
    net = network2.Network([6, 4, 3], dtype=np.float64)
    from nnfast import _dense, _train
    params = _train.dense_params(net)
    params.load()
    X, Y = np.random.rand(25, 6), np.eye(3)[np.random.randint(0, 3, 25)]
    engine = _dense.Engine(net, params, X, Y, 0.5, (_dense.SIGMOID, _dense.SIGMOID, _dense.CROSS_ENTROPY), 10)
    plan, order = engine.plan, np.arange(25, dtype=np.int64)
    before = [a.copy() for a in params.arrays]
    good = dict(X=X, Y=None, T=Y, order=order, n=25, first_batch=0, n_batches=3)
    bad = [dict(X=X[:, :5]), dict(X=X.astype(np.int64)), dict(X=np.asfortranarray(X)), dict(T=None),
           dict(Y=np.zeros(25, dtype=np.int64), T=None), dict(T=Y[:, :2]), dict(T=Y.astype(np.float32)),
           dict(order=order - 1), dict(order=order + 1), dict(n_batches=4), dict(n=26), dict(first_batch=-1)]
    for change in bad:
        kw = dict(good, **change)
        with pytest.raises(ValueError, match="Plan.train"):
            plan.train(kw["X"], kw["Y"], kw["T"], kw["order"], kw["n"], kw["first_batch"], kw["n_batches"], 0.5,
                       0.0, False, 0.0, 0, 0, 1)
    assert plan.batches_done == 0
    assert all(np.array_equal(a, b) for a, b in zip(params.arrays, before))
    plan.train(X, None, Y, order, 25, 0, 3, 0.5, 0.0, False, 0.0, 0, 0, 1)     # 10 + 10 + 5 rows
    assert plan.batches_done == 3 and not all(np.array_equal(a, b) for a, b in zip(params.arrays, before))


def test_an_evaluation_plan_predicts_as_a_training_plan_and_refuses_to_train():
    """A plan made for predict alone (training=False: no dropout masks, no gradient buffers) gives
    the training plan's outputs to the bit, and refuses train() and gradients() with a ValueError."""
    from nnfast import _core
    rng = np.random.default_rng(3)
    specs = [dict(kind="fc", act=0, I=12, O=7, p=0.0, w=rng.standard_normal((12, 7)), b=rng.standard_normal(7)),
             dict(kind="softmax", I=7, O=4, p=0.3, w=rng.standard_normal((7, 4)), b=rng.standard_normal(4))]
    X = rng.random((23, 12))
    full, bare = _core.Plan(specs, 5, np.float64), _core.Plan(specs, 5, np.float64, training=False)
    got = [plan.predict(X, 2, True) for plan in (full, bare)]
    assert np.array_equal(got[0][0], got[1][0]) and np.array_equal(got[0][1], got[1][1])
    assert len(bare.keep) < len(full.keep)
    with pytest.raises(ValueError, match="Plan.train: .*predict alone"):
        bare.train(X, np.zeros(23, dtype=np.int64), None, np.arange(23, dtype=np.int64), 23, 0, 1, 0.1, 0.0,
                   False, 0.0, 0, 0, 1)
    with pytest.raises(ValueError, match="Plan.gradients: .*predict alone"):
        bare.gradients(X[:5], np.zeros(5, dtype=np.int64), 0, 0)
