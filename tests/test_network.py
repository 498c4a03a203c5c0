"""nnfast.network against the book's algorithm (nnfast.reference.network)."""
import contextlib
import io
import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import _dense
from nnfast import network
from nnfast.reference import network as ref

from conftest import as_test_list, as_training_list


def _pair(sizes, seed=1, dtype=np.float64):
    np.random.seed(seed)
    a = ref.Network(sizes)
    np.random.seed(seed)
    b = network.Network(sizes, dtype=dtype)
    return a, b


def _run(net, *args, **kw):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        net.SGD(*args, **kw)
    return out.getvalue()


def _maxdiff(xs, ys):
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(xs, ys))


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 10], [5, 4, 3, 2], [784, 20, 15, 10]])
def test_initial_weights_are_the_books(sizes):
    a, b = _pair(sizes, seed=42)
    assert b.num_layers == len(sizes) and b.sizes == sizes
    for x, y in zip(a.biases + a.weights, b.biases + b.weights):
        assert x.shape == y.shape and np.array_equal(x, y)
    np.random.seed(42)
    c = network.Network(sizes, dtype=np.float32)
    for x, y in zip(a.weights, c.weights):
        assert y.dtype == np.float32 and np.array_equal(x.astype(np.float32), y)


@pytest.mark.parametrize("sizes,mbs", [([784, 30, 10], 10), ([784, 30, 10], 7), ([784, 10], 13),
                                       ([784, 20, 15, 10], 9), ([784, 100, 10], 33)])
def test_two_epochs_on_real_mnist_match_the_book(mnist_test_arrays, sizes, mbs):
    X, y = mnist_test_arrays
    train = as_training_list(X[:1000], y[:1000])       # 1000 % mbs != 0 for most: a short last mini-batch
    test = as_test_list(X[5000:5300], y[5000:5300])
    a, b = _pair(sizes, seed=3)
    d1, d2 = list(train), list(train)
    random.seed(11)
    out_ref = _run(a, d1, 2, mbs, 3.0, test_data=test)
    random.seed(11)
    out_fast = _run(b, d2, 2, mbs, 3.0, test_data=test)
    assert _maxdiff(a.weights, b.weights) < 1e-9
    assert _maxdiff(a.biases, b.biases) < 1e-9
    assert out_fast == out_ref                          # "Epoch j: k / 300" lines
    assert all(p is q for p, q in zip(d1, d2))          # the list is left shuffled as the book leaves it
    assert b.evaluate(test) == a.evaluate(test)


def test_array_pairs_train_like_lists(mnist_test_arrays):
    X, y = mnist_test_arrays
    X, y = X[:500], y[:500]
    results = []
    for data in (as_training_list(X, y), (X, y), (X, np.eye(10)[y])):
        np.random.seed(0)
        net = network.Network([784, 16, 10])
        random.seed(4)
        _run(net, data, 2, 10, 3.0)
        results.append(net.weights + net.biases)
    for other in results[1:]:
        assert _maxdiff(results[0], other) == 0.0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_thread_count(threads):
    rng = np.random.default_rng(0)
    X, y = rng.random((400, 50)), rng.integers(0, 10, 400)
    nets = []
    for t in (1, threads):
        np.random.seed(5)
        net = network.Network([50, 23, 17, 10])
        random.seed(6)
        with nnfast.num_threads(t):
            _run(net, (X, y), 2, 10, 3.0)
        nets.append(net)
    for p, q in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert np.array_equal(p, q)


def test_one_or_two_threads_over_a_ragged_epoch_give_the_same_weights():
    """201 mini-batches of 10 and a short one, on one thread and on up to two (the native loop
    may change its count between segments): the weights must be the same bit for bit."""
    rng = np.random.default_rng(1)
    X, y = rng.random((2013, 30)), rng.integers(0, 10, 2013)    # 201 mini-batches of 10 and a short one
    nets = []
    for t in (1, 2):
        np.random.seed(5)
        net = network.Network([30, 12, 10])
        random.seed(6)
        with nnfast.num_threads(t):
            _run(net, (X, y), 2, 10, 3.0)
        nets.append(net)
    for p, q in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert np.array_equal(p, q)


def test_baseline_simd_path_agrees_with_the_book():
    """The portable (non-AVX2) build of the kernels, forced in a child process."""
    code = (
        "import numpy as np, random, io, contextlib\n"
        "from nnfast import network, _core\n"
        "from nnfast.reference import network as ref\n"
        "assert _core.dense_path() in ('baseline', 'portable')\n"
        "rng = np.random.default_rng(1); X = rng.random((300, 40)); y = rng.integers(0, 10, 300)\n"
        "data = [(X[i].reshape(-1, 1), np.eye(10)[y[i]].reshape(-1, 1)) for i in range(300)]\n"
        "np.random.seed(2); a = ref.Network([40, 12, 10]); np.random.seed(2); b = network.Network([40, 12, 10])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    random.seed(3); a.SGD(list(data), 2, 7, 3.0); random.seed(3); b.SGD(list(data), 2, 7, 3.0)\n"
        "print(max(np.abs(p - q).max() for p, q in zip(a.weights + a.biases, b.weights + b.biases)))\n")
    env = dict(os.environ, NNFAST_SIMD="baseline")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.strip()) < 1e-9


def test_float32_network_trains(mnist_test_arrays):
    X, y = mnist_test_arrays
    np.random.seed(0)
    net = network.Network([784, 30, 10], dtype=np.float32)
    random.seed(0)
    _run(net, (X[:8000], y[:8000]), 3, 10, 3.0)
    assert all(w.dtype == np.float32 for w in net.weights + net.biases)
    assert net.evaluate((X[8000:], y[8000:])) > 0.85 * 2000


def test_update_mini_batch_and_backprop_match_the_book():
    rng = np.random.default_rng(3)
    batch = [(rng.random((6, 1)), rng.random((4, 1))) for _ in range(5)]
    a, b = _pair([6, 5, 4], seed=9)
    a.update_mini_batch(batch, 0.7)
    b.update_mini_batch(batch, 0.7)
    assert _maxdiff(a.weights + a.biases, b.weights + b.biases) < 1e-14
    x, t = batch[0]
    for p, q in zip(a.backprop(x, t)[1] + a.backprop(x, t)[0], b.backprop(x, t)[1] + b.backprop(x, t)[0]):
        np.testing.assert_allclose(p, q, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a.feedforward(x), b.feedforward(x), rtol=1e-14)
    np.testing.assert_array_equal(b.cost_derivative(x, x), 0 * x)


def test_backprop_equals_central_differences():
    rng = np.random.default_rng(8)
    np.random.seed(8)
    net = network.Network([5, 4, 3, 2])
    x, y = rng.random((5, 1)), rng.random((2, 1))
    nabla_b, nabla_w = net.backprop(x, y)

    def cost():
        return 0.5 * float(np.sum((net.feedforward(x) - y) ** 2))

    eps = 1e-6
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads):
            num = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                cp = cost()
                p[idx] = old - eps
                cm = cost()
                p[idx] = old
                num[idx] = (cp - cm) / (2 * eps)
            np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_assigned_arrays_are_used():
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 6)), rng.integers(0, 3, 50)
    a, b = _pair([6, 4, 3], seed=1)
    new_w = [np.asfortranarray(w * 0.5) for w in a.weights]        # non-contiguous, as a user might assign
    a.weights = [w.copy() for w in new_w]
    b.weights = [w.tolist() for w in new_w]                         # even nested lists
    random.seed(1)
    _run(a, as_training_list_small(X, y, 3), 1, 5, 1.0)
    random.seed(1)
    _run(b, (X, y), 1, 5, 1.0)
    assert _maxdiff(a.weights + a.biases, b.weights + b.biases) < 1e-13


def as_training_list_small(X, y, k):
    eye = np.eye(k)
    return [(X[i].reshape(-1, 1), eye[y[i]].reshape(-1, 1)) for i in range(len(y))]


def test_sigmoid_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = network.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
        network.sigmoid_prime(np.array([-1000.0, 1000.0]))
    assert s.tolist() == [0.0, 0.5, 1.0]


def test_read_only_and_strided_inputs():
    rng = np.random.default_rng(2)
    big = rng.random((60, 20))
    X = big[:, ::2]                                   # strided view
    X.setflags(write=False)
    y = rng.integers(0, 4, 60)
    a, b = _pair([10, 6, 4], seed=2)
    random.seed(0)
    _run(a, as_training_list_small(np.ascontiguousarray(X), y, 4), 1, 8, 2.0)
    random.seed(0)
    _run(b, (X, y), 1, 8, 2.0)
    assert _maxdiff(a.weights, b.weights) < 1e-13


def test_epochs_zero_and_no_test_data_lines():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 4)), rng.integers(0, 2, 30)
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    assert _run(net, (X, y), 0, 10, 1.0) == ""
    assert _run(net, (X, y), 2, 100, 1.0) == "Epoch 0 complete\nEpoch 1 complete\n"   # mini-batch > n is fine
    assert net.SGD((X, y), 0, 10, 1.0) is None


BAD = [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(mini_batch_size=0), ValueError, "mini_batch_size"),
    (dict(eta=0.0), ValueError, "eta"),
    (dict(eta=-1.0), ValueError, "eta"),
    (dict(eta=float("nan")), ValueError, "eta"),
    (dict(eta=float("inf")), ValueError, "eta"),
    (dict(training_data=[]), ValueError, "empty"),
    (dict(training_data=[(np.zeros((5, 1)), np.zeros((2, 1)))]), ValueError, "sizes\\[0\\]"),
    (dict(training_data=[(np.zeros((4, 1)), np.zeros((3, 1)))]), ValueError, "sizes\\[-1\\]"),
    (dict(training_data=[(np.full((4, 1), np.nan), np.zeros((2, 1)))]), ValueError, "NaN"),
    (dict(training_data=(np.full((3, 4), np.inf), np.zeros(3, int))), ValueError, "NaN or infinity"),
    (dict(training_data=(np.zeros((3, 4)), np.array([0, 1, 2]))), ValueError, "labels"),
    (dict(training_data=(np.zeros((3, 4)), np.array([0, 1]))), ValueError, "3 inputs but 2 targets"),
    (dict(training_data=[(np.zeros((4, 1)), np.zeros((2, 1))), "junk"]), TypeError, "pair"),
    (dict(training_data=(np.zeros((3, 4), dtype=object), np.zeros(3, int))), TypeError, "numeric"),
    (dict(test_data=[(np.zeros((7, 1)), 0)]), ValueError, "test_data"),
]


@pytest.mark.parametrize("change,exc,match", BAD)
def test_bad_arguments_leave_the_network_unchanged(change, exc, match):
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    before = [p.copy() for p in net.weights + net.biases]
    args = dict(training_data=[(np.zeros((4, 1)), np.array([[1.0], [0.0]]))] * 3, epochs=1,
                mini_batch_size=2, eta=1.0, test_data=None)
    args.update(change)
    with pytest.raises(exc, match=match):
        net.SGD(**args)
    assert all(np.array_equal(p, q) for p, q in zip(before, net.weights + net.biases))


@pytest.mark.parametrize("sizes,exc", [([784], ValueError), ([], ValueError), ([784, 0, 10], ValueError),
                                       ([784, -3], ValueError), ([784, 2.5], TypeError), ([784, True], TypeError),
                                       (None, TypeError), ([784, 2 ** 31, 10], ValueError)])
def test_bad_sizes(sizes, exc):
    with pytest.raises(exc, match="sizes"):
        network.Network(sizes)


def test_layer_too_large_for_blas_is_refused_before_allocating():
    from nnfast import network2
    with pytest.raises(ValueError, match=r"sizes.*(2147483647|2\*\*31)"):
        network2.Network([1, 2 ** 31, 1])


def test_bad_weights_are_refused_before_training():
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    net.weights[0] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        net.SGD([(np.zeros((4, 1)), np.zeros((2, 1)))], 1, 1, 1.0)
    net.weights[0] = np.full((3, 4), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        net.SGD([(np.zeros((4, 1)), np.zeros((2, 1)))], 1, 1, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_input_finiteness_check_finds_the_first_bad_row(dtype, layout):
    """The check of input matrices (one native pass, csrc/finite.c, on C-contiguous float arrays;
    numpy's over blocks otherwise) against numpy's isfinite: NaN and both infinities anywhere in a
    row (inside the 16 lanes of the native sums or in a row's tail), next to the largest finite
    values, subnormals and negative zeros, which are finite."""
    rng = np.random.default_rng(11)
    info = np.finfo(dtype)
    for trial in range(150):
        n, d = int(rng.integers(1, 40)), int(rng.integers(1, 45))
        X = (rng.normal(size=(n, d)) * 10.0 ** rng.integers(-30, 30)).astype(dtype)
        for _ in range(int(rng.integers(0, 5))):
            X[rng.integers(n), rng.integers(d)] = rng.choice([np.inf, -np.inf, np.nan, info.max, -info.max,
                                                              info.tiny / 4, -0.0])
        if layout == "strided":
            X = np.repeat(X, 2, axis=1)[:, ::2]
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        assert _dense.first_nonfinite_row(X) == (int(bad[0]) if len(bad) else None)
