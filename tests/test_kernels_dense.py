"""The dense kernels against the naive C reference and numpy (float64 and float32)."""
import numpy as np
import pytest

from nnfast import _testing

SHAPES = [(10, 784, 30), (10, 30, 10), (7, 13, 5), (1, 1, 1), (11, 37, 9), (3, 5, 2), (100, 100, 10), (2, 3, 17)]


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-4)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_forward_backward_match_naive_and_numpy(dtype, tol, shape, threads):
    B, K, J = shape
    rng = np.random.default_rng(B * 1000 + K * 10 + J)
    A = rng.standard_normal((B, K)).astype(dtype)
    W = rng.standard_normal((J, K)).astype(dtype)
    b = rng.standard_normal(J).astype(dtype)
    D = rng.standard_normal((B, J)).astype(dtype)
    scale = np.sqrt(K) + 1
    Z = _testing.dense_forward(A, W, b, False, threads)
    Zn = _testing.dense_forward(A, W, b, True, 1)
    np.testing.assert_allclose(Z, A.astype(np.float64) @ W.T.astype(np.float64) + b, atol=tol * scale, rtol=0)
    np.testing.assert_allclose(Z, Zn, atol=tol * scale, rtol=0)
    grads = []
    for naive in (False, True):
        dA, dW, db = np.ones((B, K), dtype), np.ones((J, K), dtype), np.ones(J, dtype)  # backward accumulates
        _testing.dense_backward(A, W, D, dA, dW, db, naive, threads)
        grads.append((dA, dW, db))
    (dA, dW, db), (dAn, dWn, dbn) = grads
    np.testing.assert_allclose(dA, 1 + D.astype(np.float64) @ W, atol=tol * (np.sqrt(J) + 1), rtol=0)
    np.testing.assert_allclose(dW, 1 + D.T.astype(np.float64) @ A, atol=tol * (np.sqrt(B) + 1), rtol=0)
    np.testing.assert_allclose(db, 1 + D.sum(axis=0, dtype=np.float64), atol=tol * (np.sqrt(B) + 1), rtol=0)
    for fast, naive in zip(grads[0], grads[1]):
        np.testing.assert_allclose(fast, naive, atol=tol * (np.sqrt(max(B, J)) + 1), rtol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_does_not_change_a_bit(dtype):
    rng = np.random.default_rng(5)
    A, W, b = (rng.standard_normal(s).astype(dtype) for s in [(13, 301), (29, 301), (29,)])
    D = rng.standard_normal((13, 29)).astype(dtype)
    outs = []
    for t in (1, 2, 3, 4):
        dA, dW, db = np.zeros((13, 301), dtype), np.zeros((29, 301), dtype), np.zeros(29, dtype)
        _testing.dense_backward(A, W, D, dA, dW, db, False, t)
        outs.append((_testing.dense_forward(A, W, b, False, t), dA, dW, db))
    for other in outs[1:]:
        for x, y in zip(outs[0], other):
            assert np.array_equal(x, y)


class _Net(object):
    def __init__(self, sizes, dtype, rng):
        self.sizes, self.dtype = sizes, np.dtype(dtype)
        self.weights = [rng.standard_normal((j, k)).astype(dtype) for k, j in zip(sizes[:-1], sizes[1:])]
        self.biases = [rng.standard_normal((j, 1)).astype(dtype) for j in sizes[1:]]


@pytest.mark.parametrize("dtype,x_dtype,tol", [(np.float64, np.float64, 1e-12), (np.float64, np.float32, 1e-12),
                                               (np.float32, np.float32, 1e-5)])
@pytest.mark.parametrize("n", [1, 255, 256, 1001])
def test_batched_evaluation_matches_numpy_for_any_thread_count(dtype, x_dtype, tol, n):
    """The BLAS path of evaluation (chunks of rows over threads): outputs, argmax and
    cross-entropy cost equal a plain numpy forward pass, bit for bit across thread counts."""
    from nnfast import _config, _dense
    rng = np.random.default_rng(n)
    net = _Net([37, 23, 11, 10], dtype, rng)
    X = rng.random((n, 37)).astype(x_dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    a = X.astype(np.float64)
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        a = 1 / (1 + np.exp(-(a @ w.T.astype(np.float64) + b.ravel())))
        if l < 2:
            a = a * 0.75          # hidden_scale (dropout's 1 - p at evaluation)
    cost = np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), axis=1)
    runs = []
    for t in (1, 2, 3):
        with _config.num_threads(t):
            runs.append(_dense.evaluate_arrays(net, X, Y, act_out=_dense.SIGMOID, cost=_dense.CROSS_ENTROPY,
                                               hidden_scale=0.75, want_cost=True, want_output=True))
    pred, c, out = runs[0]
    np.testing.assert_allclose(out, a, rtol=0, atol=tol)
    np.testing.assert_allclose(c, cost, rtol=tol * 10, atol=tol * 10)
    assert np.array_equal(pred, np.argmax(out, axis=1))
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            assert np.array_equal(x, y)


# ---- evaluation over many chunks: every activation and cost, any thread count ----------------

def _numpy_forward(weights, biases, X, act, out, hidden_scale):
    """The forward pass in float64 numpy, examples as rows."""
    hidden = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
              "linear": lambda z: z}[act]
    a = X.astype(np.float64)
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T.astype(np.float64) + b.astype(np.float64).ravel()
        if l < len(weights) - 1:
            a = hidden(z) * hidden_scale
        elif out == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = 1 / (1 + np.exp(-z))
    return a


COSTS = {"quadratic": lambda a, Y: 0.5 * np.sum((a - Y) ** 2, axis=1),
         "cross-entropy": lambda a, Y: np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), axis=1),
         "log-likelihood": lambda a, Y: np.sum(np.nan_to_num(-Y * np.log(a)), axis=1)}


@pytest.mark.parametrize("dtype,x_dtype,tol", [(np.float64, np.float64, 1e-12), (np.float64, np.float32, 1e-12),
                                               (np.float32, np.float32, 2e-5)])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("act,out,cost", [("sigmoid", "sigmoid", "cross-entropy"), ("tanh", "softmax", "log-likelihood"),
                                          ("relu", "sigmoid", "quadratic"), ("linear", "softmax", "log-likelihood")])
def test_evaluation_over_many_chunks_matches_numpy_bit_for_bit_across_threads(dtype, x_dtype, tol, threads, act,
                                                                               out, cost):
    """network and network2's evaluation on the engine's evaluation path (_core.Plan.predict through
    _dense.Evaluator): several blocks and a short last one, outputs, argmax and costs as numpy's,
    hidden activations times 0.75, and the same bits on 1 thread, on ``threads`` and with the count
    changing after every block, from one object."""
    import nnfast
    from nnfast import _config, _core, _dense, _train, network2
    sizes = [200, 90, 30, 10]
    rng = np.random.default_rng(len(act) * 7 + threads)
    weights = [(rng.standard_normal((j, k)) / np.sqrt(k)).astype(dtype) for k, j in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(j).astype(dtype) for j in sizes[1:]]
    codes = (_dense.ACTIVATIONS[act], _dense.SOFTMAX if out == "softmax" else _dense.SIGMOID,
             {"quadratic": _dense.QUADRATIC, "cross-entropy": _dense.CROSS_ENTROPY,
              "log-likelihood": _dense.LOG_LIKELIHOOD}[cost])
    net = network2.Network(sizes, dtype=dtype)
    net.weights, net.biases = weights, [b.reshape(-1, 1) for b in biases]
    params = _train.dense_params(net)
    params.load()
    evaluate = _dense.Evaluator(net, params, *codes)
    rows = _dense.Evaluator.EVAL_ROWS
    n = 2 * rows + 37
    X = rng.random((n, sizes[0])).astype(x_dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    runs = []
    try:
        for mode, t in ((_core.FIXED, 1), (_core.FIXED, threads), (_core.CYCLE, threads), (_core.FIXED, 1)):
            with nnfast.num_threads(t, adapt=False):
                _config.set_thread_mode(mode)
                runs.append(evaluate(X, Y, 0.75, True, True))
    finally:
        _config.set_thread_mode(_core.ADAPT)
    pred, c, a = runs[0]
    expect = _numpy_forward(weights, biases, X, act, out, 0.75)
    np.testing.assert_allclose(a, expect, rtol=0, atol=tol)
    np.testing.assert_allclose(c, COSTS[cost](expect, Y.astype(np.float64)), rtol=tol * 10, atol=tol * 10)
    assert np.array_equal(pred, np.argmax(a, axis=1))
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            assert np.array_equal(x, y)
