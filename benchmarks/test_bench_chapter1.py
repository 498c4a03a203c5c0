"""pytest-benchmark suite, chapter 1: one training epoch on a Fashion-MNIST subset,
nnfast.network against the batched numpy version of the same algorithm.

Not part of the main test run (the repository's tests live in tests/). Run with

    NNFAST_DATA=<folder holding fashion-mnist/> pytest benchmarks/test_bench_chapter1.py

Environment: NNFAST_BENCH_N (training images, default 5000), NNFAST_BENCH_THREADS
(default min(2, CPUs)). Skips when the data, pytest-benchmark or nnfast.network
is missing.
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
THREADS = int(os.environ.get("NNFAST_BENCH_THREADS", str(min(2, os.cpu_count() or 1))))
ETA = 3.0
CONFIGS = [
    ([784, 30, 10], 10, "float64"),
    ([784, 30, 10], 10, "float32"),
    ([784, 30, 10], 100, "float64"),
    ([784, 100, 10], 10, "float64"),
]
IDS = ["%s-mb%d-%s" % ("x".join(map(str, s)), m, d) for s, m, d in CONFIGS]


@pytest.fixture(scope="module")
def train():
    folder = common.fashion_dir()
    if folder is None:
        pytest.skip("Fashion-MNIST not found: set NNFAST_DATA to the folder holding fashion-mnist/")
    X, y = common.load_idx(folder, "train")
    return X[:N], y[:N]


def _group(benchmark, sizes, mbs, dtype):
    benchmark.group = "chapter1 %s mini-batch %d %s, %d images, %d threads" % (sizes, mbs, dtype, N, THREADS)


@pytest.mark.parametrize("sizes,mbs,dtype", CONFIGS, ids=IDS)
def test_nnfast_epoch(benchmark, train, sizes, mbs, dtype):
    network = pytest.importorskip("nnfast.network")
    import nnfast
    X, y = train
    random.seed(0)
    np.random.seed(0)
    net = network.Network(sizes, dtype=np.dtype(dtype))
    _group(benchmark, sizes, mbs, dtype)

    def epoch():
        with nnfast.num_threads(THREADS), contextlib.redirect_stdout(io.StringIO()):
            net.SGD((X, y), 1, mbs, ETA)

    benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert all(np.isfinite(w).all() for w in net.weights)


@pytest.mark.parametrize("sizes,mbs,dtype", CONFIGS, ids=IDS)
def test_numpy_batched_epoch(benchmark, train, sizes, mbs, dtype):
    from threadpoolctl import threadpool_limits
    X, y = train
    Xd = np.ascontiguousarray(X, dtype=dtype)
    Y = common.one_hot(y, 10, dtype)
    net = numpy_batched.Network(sizes, dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    _group(benchmark, sizes, mbs, dtype)

    def epoch():
        with threadpool_limits(limits=THREADS, user_api="blas"):
            net.train_epoch(Xd, Y, mbs, ETA, rng=rng)

    benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert all(np.isfinite(w).all() for w in net.weights)
