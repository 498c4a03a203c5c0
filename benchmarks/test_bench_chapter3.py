"""pytest-benchmark suite, chapter 3: one monitored epoch (all four monitor flags)
of network2's [784,100,10] cross-entropy network, lmbda 5.0, eta 0.5, mini-batch
10, on a Fashion-MNIST subset: nnfast.network2 against the batched numpy version.

Not part of the main test run (the repository's tests live in tests/). Run with

    NNFAST_DATA=<folder holding fashion-mnist/> pytest benchmarks/test_bench_chapter3.py

Environment: NNFAST_BENCH_N (training images, default 5000; evaluation images
are a fifth of that), NNFAST_BENCH_THREADS (default min(2, CPUs)). Skips when
the data, pytest-benchmark or nnfast.network2 is missing.
"""
import contextlib
import io
import os
import random
import sys

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _bench_common as common  # noqa: E402

common.ensure_nnfast_importable()

import numpy_batched  # noqa: E402

N = int(os.environ.get("NNFAST_BENCH_N", "5000"))
N_EVAL = max(1, N // 5)
THREADS = int(os.environ.get("NNFAST_BENCH_THREADS", str(min(2, os.cpu_count() or 1))))
SIZES, MBS, ETA, LMBDA = [784, 100, 10], 10, 0.5, 5.0
MONITOR = dict(monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
               monitor_training_cost=True, monitor_training_accuracy=True)
GROUP = "chapter3 monitored epoch %s, %d + %d images, %d threads" % (SIZES, N, N_EVAL, THREADS)


@pytest.fixture(scope="module")
def data():
    folder = common.fashion_dir()
    if folder is None:
        pytest.skip("Fashion-MNIST not found: set NNFAST_DATA to the folder holding fashion-mnist/")
    X, y = common.load_idx(folder, "train")
    return (X[:N], y[:N]), (X[len(y) - N_EVAL:], y[len(y) - N_EVAL:])


def test_nnfast_network2_epoch(benchmark, data):
    network2 = pytest.importorskip("nnfast.network2")
    import nnfast
    (X, y), (Xe, ye) = data
    Y = common.one_hot(y, 10)
    random.seed(0)
    np.random.seed(0)
    net = network2.Network(SIZES, cost=network2.CrossEntropyCost)
    benchmark.group = GROUP

    def epoch():
        with nnfast.num_threads(THREADS), contextlib.redirect_stdout(io.StringIO()):
            return net.SGD((X, Y), 1, MBS, ETA, lmbda=LMBDA, evaluation_data=(Xe, ye), **MONITOR)

    res = benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert [len(r) for r in res] == [1, 1, 1, 1]


def test_numpy_batched_epoch(benchmark, data):
    from threadpoolctl import threadpool_limits
    (X, y), (Xe, ye) = data
    net = numpy_batched.Network(SIZES, cost="cross-entropy", init="default", seed=0)
    benchmark.group = GROUP

    def epoch():
        with threadpool_limits(limits=THREADS, user_api="blas"):
            return net.SGD(X, y, 1, MBS, ETA, lmbda=LMBDA, evaluation_data=(Xe, ye), **MONITOR)

    res = benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert [len(r) for r in res] == [1, 1, 1, 1]
