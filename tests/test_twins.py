"""The two native engines (network/network2 on csrc/dense_impl.h, network3 on csrc/net3.c) share
one argmax, one softmax and one sigmoid (csrc/activations.h): the same input gives the same
answers through both, rows with NaN outputs included.

The NaN rule is numpy's, which the oracle uses: np.argmax returns the first NaN of a row if it
has one, else the first maximum.  The NaN is made as the boundary checks allow (they refuse NaN
inputs and parameters): a ReLU hidden unit overflows to inf on finite weights, and an output
weight of 0 turns it into NaN (0 * inf) whatever the order of the sums."""
import numpy as np
import pytest

from nnfast import network2, network3
from nnfast.reference import network2 as ref

BIG = {np.float64: 1e308, np.float32: 3e38}


def overflowing(dtype):
    """Parameters of a [2, 1, 3] network and inputs (5, 2): the first and last rows overflow."""
    big = BIG[dtype]
    w1, b1 = np.array([[big, big]], dtype), np.zeros((1, 1), dtype)
    w2, b2 = np.array([[1.0], [0.0], [-1.0]], dtype), np.array([[0.0], [0.5], [-0.2]], dtype)
    x = np.array([[2.0, 2.0], [1.0, -1.0], [-2.0, -2.0], [1e-300 if dtype == np.float64 else 1e-37, 0.0],
                  [3.0, 1.0]], dtype)
    return [w1, w2], [b1, b2], x


def numpy_outputs(ws, bs, x, out):
    """The oracle's forward pass (ReLU hidden layer), row by row."""
    rows = []
    with np.errstate(over="ignore", invalid="ignore"):
        for xi in x:
            h = np.maximum(ws[0] @ xi.reshape(-1, 1) + bs[0], 0)
            rows.append(out(ws[1] @ h + bs[1])[:, 0])
    return np.array(rows)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_argmax_nan_rule_is_numpys(dtype):
    ws, bs, x = overflowing(dtype)
    net = network2.Network([2, 1, 3], cost=network2.QuadraticCost, activation="relu", dtype=dtype)
    net.weights, net.biases = ws, bs
    outs = np.array([net.feedforward(xi.reshape(-1, 1))[:, 0] for xi in x])
    nan_rows = np.isnan(outs).any(axis=1)
    assert nan_rows[0] and nan_rows[-1] and not nan_rows[1:-1].any() and not np.isnan(outs).all(axis=1).any()
    expected = np.argmax(numpy_outputs(ws, bs, x, ref.sigmoid), axis=1)
    assert expected[0] == 1          # the NaN wins over the larger unit 0 (sigmoid(inf) = 1)
    data = list(zip(x.reshape(-1, 2, 1), expected))
    assert net.accuracy(data) == len(x)
    for j in range(3):               # any other label is counted wrong
        assert net.accuracy([(xi, j) for xi, e in data if e != j]) == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_engines_agree_nan_rows_included(dtype):
    """network2 with the log-likelihood cost and network3's SoftmaxLayer: one softmax, one argmax."""
    ws, bs, x = overflowing(dtype)
    n2 = network2.Network([2, 1, 3], cost=network2.LogLikelihoodCost, activation="relu", dtype=dtype)
    n2.weights, n2.biases = ws, bs
    hidden, out = network3.FullyConnectedLayer(2, 1, activation_fn=network3.ReLU), network3.SoftmaxLayer(1, 3)
    n3 = network3.Network([hidden, out], 5, dtype=dtype)
    hidden.w, hidden.b = np.ascontiguousarray(ws[0].T), bs[0][:, 0].copy()
    out.w, out.b = np.ascontiguousarray(ws[1].T), bs[1][:, 0].copy()
    a3 = n3.feedforward(x)
    a2 = np.array([n2.feedforward(xi.reshape(-1, 1))[:, 0] for xi in x])
    assert np.isnan(a3[0]).all() and not np.isnan(a3[1:-1]).any()
    np.testing.assert_array_equal(np.isnan(a2), np.isnan(a3))
    np.testing.assert_allclose(a2, a3, rtol=1e-6 if dtype == np.float32 else 1e-15)
    pred = n3.predict(x)
    np.testing.assert_array_equal(pred, np.argmax(a3, axis=1))
    np.testing.assert_array_equal(pred, np.argmax(numpy_outputs(ws, bs, x, ref.softmax), axis=1))
    assert n2.accuracy(list(zip(x.reshape(-1, 2, 1), pred))) == len(x)
