"""pytest-benchmark suite, data loading: the 60,000-image Fashion-MNIST training file
read from its IDX gzip and from nnfast's cache (issue target: from cache in under 0.2 s).

The shared data folder is read-only, so the IDX files are copied into a temporary
folder where the cache can be written. Not part of the main test run. Run with

    NNFAST_DATA=<folder holding fashion-mnist/> pytest benchmarks/test_bench_loader.py
"""
import os
import shutil

import pytest

pytest.importorskip("pytest_benchmark")

from nnfast import mnist_loader  # noqa: E402


@pytest.fixture(scope="module")
def writable_fashion(tmp_path_factory):
    root = os.environ.get("NNFAST_DATA")
    src = os.path.join(root, "fashion-mnist") if root else None
    if not src or not os.path.exists(os.path.join(src, "train-images-idx3-ubyte.gz")):
        pytest.skip("Fashion-MNIST not found: set NNFAST_DATA to the folder holding fashion-mnist/")
    dst = tmp_path_factory.mktemp("fashion")
    for name in os.listdir(src):
        if name.endswith(".gz"):
            shutil.copy(os.path.join(src, name), dst / name)
    return str(dst)


def _drop_cache(folder):
    for name in os.listdir(folder):
        if name.startswith("nnfast-cache"):
            os.remove(os.path.join(folder, name))


def test_load_60000_from_idx(benchmark, writable_fashion):
    X, y = benchmark.pedantic(mnist_loader.load_idx, args=(writable_fashion, "train"),
                              setup=lambda: _drop_cache(writable_fashion), rounds=3)
    assert X.shape == (60000, 784)


def test_load_60000_from_cache(benchmark, writable_fashion):
    mnist_loader.load_idx(writable_fashion, "train")          # writes the cache
    assert any(n.startswith("nnfast-cache-train") for n in os.listdir(writable_fashion))
    X, y = benchmark(mnist_loader.load_idx, writable_fashion, "train")
    assert X.shape == (60000, 784) and y.shape == (60000,)
