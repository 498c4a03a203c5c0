"""Shared fixtures: where the real data lives, and small real data sets.

Tests that need data find it through NNFAST_DATA (CI sets it to ../shared/data)
and skip with the reason when it is absent.
"""
import os

import numpy as np
import pytest

import nnfast


def child_env(**extra):
    """The environment for a child Python that must import the nnfast these tests import
    (src/ in a checkout, site-packages under CI), whatever its working directory; ``extra``
    entries are set on top (a value of None removes the variable)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(nnfast.__file__)))
    path = [here] + [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def avx512_and_avx2_outputs(code, *args):
    """Run the Python ``code`` (which prints ``_core.simd_level()`` then a hash last) in two child
    processes, AVX-512 kernels (the default) and NNFAST_SIMD=avx2; return the two hashes after checking
    each child ran the instruction set it was meant to.  Skips where the AVX-512 kernels never run."""
    import subprocess
    import sys
    from nnfast import _core
    if _core.simd_level() < 2:
        pytest.skip("AVX-512 kernels not in use: no AVX-512 F/DQ/BW/VL here, or NNFAST_SIMD caps them")
    out = {}
    for simd in ("avx2", None):
        r = subprocess.run([sys.executable, "-c", code, *args], env=child_env(NNFAST_SIMD=simd),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out[simd] = r.stdout.strip().splitlines()[-1].split()
    assert out["avx2"][0] == "1" and out[None][0] == "2"
    return out[None][1], out["avx2"][1]


def assert_same_on_thread_counts(make_net, train, x):
    """A network3 made by make_net() and trained by train(net) on 1, 2 and 3 threads: its parameters and
    feedforward(x) afterwards are the same to the bit (work is cut by shape, never by thread count)."""
    if not nnfast._config._core.openmp_enabled():
        pytest.skip("serial build")
    res = []
    for t in (1, 2, 3):
        net = make_net()
        with nnfast.num_threads(t):
            train(net)
            res.append([p.copy() for p in net.params] + [net.feedforward(x)])
    for other in res[1:]:
        for a, b in zip(res[0], other):
            np.testing.assert_array_equal(a, b)


def data_root():
    root = os.environ.get("NNFAST_DATA")
    return root if root and os.path.isdir(root) else None


def _need(sub, files):
    root = data_root()
    if root is None:
        pytest.skip("real data not found: set NNFAST_DATA to the folder holding mnist/ and fashion-mnist/")
    folder = os.path.join(root, sub)
    missing = [f for f in files if not os.path.exists(os.path.join(folder, f))]
    if missing:
        pytest.skip("real data not found: %s missing under %s" % (", ".join(missing), folder))
    return folder


@pytest.fixture(scope="session")
def mnist_dir():
    """Folder with MNIST's 10,000 test images (IDX, gzip)."""
    return _need("mnist", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])


@pytest.fixture(scope="session")
def mnist_full_dir():
    """Folder with all of MNIST: the 60,000 training images (IDX, gzip or not) and the test files."""
    root = data_root()
    folder = os.path.join(root, "mnist") if root else None
    if folder and not any(os.path.exists(os.path.join(folder, "train-images-idx3-ubyte" + s)) for s in ("", ".gz")):
        pytest.skip("real data not found: MNIST's training images missing under %s" % folder)
    return _need("mnist", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])


@pytest.fixture(scope="session")
def fashion_dir():
    """Folder with the full Fashion-MNIST (IDX, gzip)."""
    return _need("fashion-mnist", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])


@pytest.fixture(scope="session")
def mnist_test_arrays(mnist_dir):
    """MNIST's test set as (X float32 (10000, 784) in [0, 1], y int64 (10000,))."""
    from nnfast import mnist_loader
    X, y = mnist_loader.load_idx(mnist_dir, "test")
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def as_training_list(X, y):
    """The book's training format: list of ((784, 1) column, (10, 1) one-hot)."""
    eye = np.eye(10)
    return [(X[i].reshape(-1, 1), eye[int(y[i])].reshape(-1, 1)) for i in range(len(y))]


def as_test_list(X, y):
    """The book's validation/test format: list of ((784, 1) column, int label)."""
    return [(X[i].reshape(-1, 1), int(y[i])) for i in range(len(y))]
