"""network and network2 at mini-batches beyond the book's 10, on the one training loop
(csrc/net3.c, whose fully connected products go to BLAS or the small-batch kernels by shape):
held to the book's algorithm (nnfast.reference), short last mini-batches included, bit for bit
the same on one thread or two.  No timings here (benchmarks/compare.py's chapter-1 rows at
mini-batch 32, 100, 1000)."""
import random

import numpy as np
import pytest

import nnfast
from nnfast import _config, _core, network, network2
from nnfast.reference import network as ref1
from nnfast.reference import network2 as ref2

from conftest import as_test_list, as_training_list
from test_network2 import ALL_FLAGS, CASES, _maxdiff, _params, _run, _same_lines, _same_results
from test_network2 import _pair as _pair2

needs_openmp = pytest.mark.skipif(not _core.openmp_enabled(), reason="serial build: one thread only")


@pytest.fixture(scope="module")
def real(mnist_test_arrays):
    """1,000 training images (book's training format) and 300 evaluation images (test format)."""
    X, y = mnist_test_arrays
    return as_training_list(X[:1000], y[:1000]), as_test_list(X[5000:5300], y[5000:5300])


# ------------------------------------------------------------------ against the book

# mini-batch, sizes: short last mini-batches of 1000 % mbs rows
NET1 = [(32, [784, 30, 10]), (33, [784, 100, 10]), (100, [784, 100, 10]), (300, [784, 20, 15, 10]),
        (1000, [784, 30, 10])]


@pytest.mark.parametrize("mbs,sizes", NET1)
def test_network_two_epochs_match_the_book(real, mbs, sizes):
    train, test = real
    np.random.seed(3)
    a = ref1.Network(sizes)
    np.random.seed(3)
    b = network.Network(sizes)
    d1, d2 = list(train), list(train)
    random.seed(11)
    out_ref = _run(a, d1, 2, mbs, 3.0, test_data=test, np_seed=None)[0]
    random.seed(11)
    out_fast = _run(b, d2, 2, mbs, 3.0, test_data=test, np_seed=None)[0]
    assert _maxdiff(a.weights + a.biases, b.weights + b.biases) < 1e-9
    assert out_fast == out_ref
    assert all(p is q for p, q in zip(d1, d2))


@pytest.mark.parametrize("mbs,sizes", NET1[:3])
def test_float32_network_follows_the_book(mnist_test_arrays, mbs, sizes):
    """float32 parameters and rows against the book in float64 from the same starting weights:
    one epoch stays within float32's rounding (as the small-batch path does)."""
    X, y = mnist_test_arrays
    X, y = X[:1000], y[:1000]
    np.random.seed(3)
    b = network.Network(sizes, dtype=np.float32)
    a = ref1.Network(sizes)
    a.weights = [w.astype(np.float64) for w in b.weights]
    a.biases = [v.astype(np.float64) for v in b.biases]
    random.seed(11)
    _run(a, as_training_list(X, y), 1, mbs, 3.0, np_seed=None)
    random.seed(11)
    _run(b, (X, y), 1, mbs, 3.0, np_seed=None)
    assert all(p.dtype == np.float32 for p in b.weights + b.biases)
    assert _maxdiff(a.weights + a.biases, b.weights + b.biases) < 2e-4


@pytest.mark.parametrize("netkw,sgdkw,eta", CASES, ids=lambda v: repr(v).replace(" ", ""))
def test_network2_two_epochs_match_the_reference(real, netkw, sgdkw, eta):
    """network2's costs, regularisers, momentum and dropout at mini-batch 32 (short last one of 8)."""
    train, evaluation = real
    a, b = _pair2([784, 30, 10], seed=3, **netkw)
    random.seed(11)
    out_ref, res_ref = _run(a, list(train), 2, 32, eta, evaluation_data=evaluation, **ALL_FLAGS, **sgdkw)
    random.seed(11)
    out_fast, res_fast = _run(b, list(train), 2, 32, eta, evaluation_data=evaluation, **ALL_FLAGS, **sgdkw)
    assert _maxdiff(_params(a), _params(b)) < 1e-9
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)
    if sgdkw.get("mu"):
        assert _maxdiff(a._velocity_w + a._velocity_b, b._velocity_w + b._velocity_b) < 1e-9


@pytest.mark.parametrize("mbs", [100, 300])
def test_network2_wide_and_deep_with_dropout_momentum_l1(real, mbs):
    train, evaluation = real
    a, b = _pair2([784, 100, 40, 10], seed=4, cost="LogLikelihoodCost", activation="relu",
                  initializer="he")
    kw = dict(evaluation_data=evaluation, lmbda=2.0, p_dropout=0.25, mu=0.4, regularization="L1", **ALL_FLAGS)
    random.seed(5)
    out_ref, res_ref = _run(a, list(train), 2, mbs, 0.1, **kw)
    random.seed(5)
    out_fast, res_fast = _run(b, list(train), 2, mbs, 0.1, **kw)
    assert _maxdiff(_params(a), _params(b)) < 1e-9
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)


@pytest.mark.parametrize("kw", [dict(), dict(lmbda=2.0, regularization="L1"), dict(mu=0.5)])
def test_update_mini_batch_of_40_matches_the_reference(real, kw):
    """One step on 40 examples (with dropout network2 takes its numpy path there, not this one)."""
    train, _ = real
    kw = dict(kw)
    a, b = _pair2([784, 30, 10], seed=9, cost="CrossEntropyCost", activation="tanh")
    lmbda = kw.pop("lmbda", 0.5)
    for k in range(3):
        batch = train[40 * k:40 * k + 40]
        a.update_mini_batch(batch, 0.4, lmbda, 1000, **kw)
        b.update_mini_batch(batch, 0.4, lmbda, 1000, **kw)
    assert _maxdiff(_params(a), _params(b)) < 1e-13


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mbs", [10, 40, 80])
def test_a_diverging_run_stops_before_the_update(dtype, mbs):
    """An infinite weighted input or delta ends training in the first epoch, before that
    mini-batch's update, with the parameters finite and the same message at any mini-batch size."""
    rng = np.random.default_rng(2)
    X, y = (rng.random((400, 20)) * 10).astype(dtype), rng.integers(0, 5, 400)
    eta = 1e308 if dtype == np.float64 else 1e38
    np.random.seed(2)
    net = network.Network([20, 15, 5], dtype=dtype)
    random.seed(2)
    with pytest.raises(nnfast.TrainingDiverged) as info:
        _run(net, (X, y), 2, mbs, eta, np_seed=None)
    assert info.value.epoch == 0 and info.value.mini_batch >= 1
    assert "the parameters are as before that mini-batch" in str(info.value)
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)


# ------------------------------------------------------------------ threads

WIDE, NARROW = [60, 130, 40, 10], [400, 60, 40, 10]


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mbs,mu,sizes", [(32, 0.3, WIDE), (32, 0.0, WIDE), (300, 0.3, WIDE), (300, 0.0, WIDE),
                                          (100, 0.0, [200, 130, 40, 10]), (100, 0.0, NARROW), (300, 0.3, NARROW)])
def test_one_or_two_threads_give_the_same_bits(dtype, mbs, mu, sizes):
    """Two threads, and a count switching after every mini-batch, change no number: the products
    are cut over the inputs into pieces fixed by the shape (the last mini-batch of 2013 % mbs rows
    too), with and without momentum, dropout and L2."""
    rng = np.random.default_rng(1)
    X, y = rng.random((2013, sizes[0])).astype(dtype), rng.integers(0, 10, 2013)
    runs = []
    for t, cycle in ((1, False), (2, False), (2, True)):
        with nnfast.num_threads(t, adapt=False):
            if cycle:
                _config.set_thread_mode(_core.CYCLE)     # num_threads' exit restores the mode
            np.random.seed(5)
            net = network2.Network(sizes, cost=network2.CrossEntropyCost, dtype=dtype)
            random.seed(6)
            _run(net, (X, y), 2, mbs, 0.5, lmbda=1.0, mu=mu, p_dropout=0.2, np_seed=7)
        runs.append(_params(net) + (net._velocity_w + net._velocity_b if mu else []))
    for other in runs[1:]:
        for p, q in zip(runs[0], other):
            assert np.array_equal(p, q)
