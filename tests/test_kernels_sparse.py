"""The first fully connected layer on its nonzero inputs (csrc/dense_sparse.h, through net3.h's
nn_sparse_*): the forward product and the SGD step against numpy, float64 and float32, on the slices
dense3.c gives them; the density at which they hand the work back; and training through them against
the dense products and the oracle, the same bits for any thread count."""
import contextlib
import io
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _core, _testing

TOL = {np.float64: 1e-12, np.float32: 2e-4}
# (nb, I, O): O below a vector (scalars: 8 doubles, 16 floats in the AVX-512 build), a multiple of it,
# and a last vector overlapping the one before (30, 33, 100); more than 4 vectors (groups: 300); bands of
# 32 rows (33, 64, 100 rows); chunks of 1024 inputs (1100)
SHAPES = [(10, 784, 30), (10, 784, 100), (1, 1, 1), (3, 5, 2), (7, 13, 7), (11, 37, 9), (10, 50, 16), (33, 65, 33),
          (64, 100, 10), (100, 300, 300), (5, 1100, 17), (32, 20, 15), (2, 3, 8)]
ZEROS = 0.8   # MNIST's share of zero pixels


def part(n, which):
    """[lo, hi) of range(n): all of it, or a slice from an odd start to short of the end (dense3.c's parts)."""
    if which == "all" or n < 3:
        return 0, n
    return n // 3 | 1, n - n // 5 - 1


def operands(dtype, shape, seed, zeros=ZEROS):
    """x (nb, I) with that share of zeros and a column 0 in every row; w (I, O); dz (nb, O)."""
    nb, I, O = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((nb, I)).astype(dtype)
    x[rng.random(x.shape) < zeros] = 0
    x[:, I // 2] = 0
    return x, rng.standard_normal((I, O)).astype(dtype), rng.standard_normal((nb, O)).astype(dtype)


def check(kernel, dtype, shape, which):
    """One kernel on one case against numpy: its slice within tolerance, the rest as it was to the bit, the
    same bits again from the same call on copies."""
    nb, I, O = shape
    x, w, dz = operands(dtype, shape, seed=nb * 1000 + I * 10 + O)
    x64, w64, dz64 = x.astype(np.float64), w.astype(np.float64), dz.astype(np.float64)
    lo, hi = part(I, which)
    tol = TOL[dtype]
    if kernel == "forward":            # z = x[:, lo:hi] w[lo:hi]
        out = _testing.sparse_forward(x, w, lo, hi, out=np.full((nb, O), np.nan, dtype))
        again = _testing.sparse_forward(x.copy(), w.copy(), lo, hi)
        np.testing.assert_allclose(out, x64[:, lo:hi] @ w64[lo:hi], rtol=0, atol=tol * (np.sqrt(hi - lo) + 1))
    else:                              # acc[lo:hi] += alpha x[:, lo:hi]^T dz
        alpha = -0.3
        out, again = w.copy(), w.copy()
        assert _testing.sparse_update(x, dz, out, alpha, lo, hi)
        assert _testing.sparse_update(x.copy(), dz.copy(), again, alpha, lo, hi)
        expect = w64[lo:hi] + alpha * x64[:, lo:hi].T @ dz64
        np.testing.assert_allclose(out[lo:hi], expect, rtol=0, atol=tol * (np.sqrt(nb) + 1) * 2)
        np.testing.assert_array_equal(out[:lo], w[:lo])
        np.testing.assert_array_equal(out[hi:], w[hi:])
        idle = [i for i in range(lo, hi) if not x[:, i].any()]     # inputs 0 in every row: rows of w untouched
        assert idle
        np.testing.assert_array_equal(out[idle], w[idle])
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("which", ["all", "part"])
@pytest.mark.parametrize("kernel", ["forward", "update"])
def test_sparse_kernels_match_numpy(kernel, which, shape, dtype):
    check(kernel, dtype, shape, which)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_kernels_hand_dense_inputs_back_untouched(dtype):
    """More than `density` of the slice nonzero: nothing written, the caller's dense product instead;
    at or below it, the work is done (the count is over the slice alone)."""
    x, w, dz = operands(dtype, (10, 200, 30), seed=2, zeros=0.5)
    share = np.count_nonzero(x[:, 50:150]) / x[:, 50:150].size
    out = np.full((10, 30), 7, dtype)
    assert _testing.sparse_forward(x, w, 50, 150, density=share * 0.99, out=out) is None
    assert (out == 7).all()
    acc = w.copy()
    assert not _testing.sparse_update(x, dz, acc, 0.1, 50, 150, density=share * 0.99)
    np.testing.assert_array_equal(acc, w)
    assert _testing.sparse_forward(x, w, 50, 150, density=share, out=out) is out
    assert _testing.sparse_update(x, dz, acc, 0.1, 50, 150, density=share)
    x[:] = 0                           # no nonzero at all: z is 0, acc unchanged
    out = _testing.sparse_forward(x, w, density=0.0)
    assert out is not None and not out.any()
    acc = w.copy()
    assert _testing.sparse_update(x, dz, acc, 0.1, density=0.0)
    np.testing.assert_array_equal(acc, w)


def test_sparse_kernels_decide_on_the_first_band_of_rows():
    """Above 32 rows the share is counted on the first 32 (training's rows are a random sample): dense
    first rows hand the work back however sparse the rest, sparse first rows take it all, correctly."""
    x, w, dz = operands(np.float64, (70, 60, 20), seed=6, zeros=0.0)
    x[32:] = 0
    assert _testing.sparse_forward(x, w, density=0.3) is None
    acc = w.copy()
    assert not _testing.sparse_update(x, dz, acc, 0.1, density=0.3)
    x, w, dz = operands(np.float64, (70, 60, 20), seed=6, zeros=0.9)
    x[40:] = np.random.default_rng(1).standard_normal((30, 60))
    np.testing.assert_allclose(_testing.sparse_forward(x, w, density=0.3), x @ w, rtol=0, atol=1e-12)
    acc = w.copy()
    assert _testing.sparse_update(x, dz, acc, 0.1, density=0.3)
    np.testing.assert_allclose(acc, w + 0.1 * x.T @ dz, rtol=0, atol=1e-12)


def test_sparse_kernels_keep_infinities_and_nans_of_x():
    """Only exact zeros are left out: an inf or a NaN input reaches the sums as in the dense product."""
    x, w, dz = operands(np.float64, (4, 20, 9), seed=3)
    x[1, 3], x[2, 5] = np.inf, np.nan
    z = _testing.sparse_forward(x, w)
    assert np.isnan(z[2]).all() and np.isfinite(z[[0, 3]]).all()
    np.testing.assert_array_equal(np.isinf(z[1]), np.isinf(x[1] @ w))
    acc = w.copy()
    _testing.sparse_update(x, dz, acc, 0.1)
    assert np.isnan(acc[5]).all() and np.isfinite(acc[[0, 1, 2]]).all()


def test_sparse_kernels_refuse_what_they_cannot_take():
    x, w, dz = operands(np.float64, (6, 9, 7), seed=1)
    with pytest.raises(TypeError):
        _testing.sparse_forward(x, w.astype(np.float32))
    with pytest.raises(TypeError):
        _testing.sparse_update(x, dz, w.astype(np.float32), 0.1)
    with pytest.raises(ValueError, match="slice"):
        _testing.sparse_forward(x, w, 4, 3)
    with pytest.raises(ValueError, match="slice"):
        _testing.sparse_update(x, dz, w.copy(), 0.1, 0, 10)
    with pytest.raises(ValueError, match="shape"):
        _testing.sparse_update(x, np.ascontiguousarray(dz[:, :6]), w.copy(), 0.1)
    with pytest.raises(ValueError):                      # out over an input
        _testing.sparse_forward(x, np.zeros((9, 9)), out=x[:, :9])
    w.setflags(write=False)
    with pytest.raises(ValueError):
        _testing.sparse_update(x, dz, w, 0.1)
    with pytest.raises(ValueError, match="density"):
        _core.sparse_inputs(1.5)


# The baseline (SSE2, no FMA) and AVX2 instantiations, forced in a child process, against numpy; and the
# AVX-512 one against AVX2 to the bit (lanes are independent, as in the small-batch forward product).
CHILD = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import test_kernels_sparse as T
from nnfast import _core, _testing
h = hashlib.sha256()
for which in ("all", "part"):
    for shape in T.SHAPES:
        for dtype in (np.float64, np.float32):
            for kernel in ("forward", "update"):
                T.check(kernel, dtype, shape, which)
            x, w, dz = T.operands(dtype, shape, seed=4)
            lo, hi = T.part(shape[1], which)
            h.update(_testing.sparse_forward(x, w, lo, hi).tobytes())
            _testing.sparse_update(x, dz, w, -0.7, lo, hi)
            h.update(w.tobytes())
print(_core.simd_level(), h.hexdigest())
"""


def test_baseline_instruction_set_matches_numpy():
    from conftest import child_env
    r = subprocess.run([sys.executable, "-c", CHILD, os.path.dirname(os.path.abspath(__file__))],
                       env=child_env(NNFAST_SIMD="baseline"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "0"


def test_avx512_gives_the_avx2_bits():
    from conftest import avx512_and_avx2_outputs
    wide, avx2 = avx512_and_avx2_outputs(CHILD, os.path.dirname(os.path.abspath(__file__)))
    assert wide == avx2


@contextlib.contextmanager
def sparse_share(density):
    old = _core.sparse_inputs(density)
    try:
        yield
    finally:
        _core.sparse_inputs(old)


def mnist_like(n, dtype, seed):
    """n rows of 784 inputs in [0, 1), four fifths 0 (a blob in the middle, as MNIST's strokes), labels."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 28, 28)).astype(dtype)
    X[rng.random(X.shape) < 0.6] = 0
    X[:, :5], X[:, -5:], X[:, :, :6], X[:, :, -6:] = 0, 0, 0, 0
    return X.reshape(n, 784), rng.integers(0, 10, n)


def train(module, dtype, threads, density, **kw):
    from nnfast import _config
    X, y = mnist_like(600, dtype, seed=1)
    np.random.seed(3)
    random.seed(3)
    net = module.Network([784, 30, 10], dtype=dtype)
    with sparse_share(density), _config.num_threads(threads, adapt=False), contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X, y), 2, 10, 0.5, **kw)
    return net.weights + net.biases


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [None, dict(lmbda=5.0), dict(lmbda=5.0, mu=0.9), dict(lmbda=5.0, regularization="L1")],
                         ids=["network", "L2", "momentum", "L1"])
def test_training_on_the_nonzeros_matches_the_dense_products(kw, dtype):
    """network (the book's step) and network2 (L2, momentum, L1) trained with the first layer on its
    nonzeros: the dense products' weights to within rounding (often to the bit: OpenBLAS's small-matrix
    kernels add in the same order), the same bits on one and two threads."""
    from nnfast import network, network2
    module, kw = (network, {}) if kw is None else (network2, kw)
    sparse1 = train(module, dtype, 1, 1.0, **kw)
    sparse2 = train(module, dtype, 2, 1.0, **kw)
    dense = train(module, dtype, 1, 0.0, **kw)
    for a, b in zip(sparse1, sparse2):
        np.testing.assert_array_equal(a, b)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    for a, b in zip(sparse1, dense):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def test_evaluation_on_the_nonzeros_matches_the_dense_products():
    """network2's accuracy and total cost through the sparse evaluation path: the dense path's."""
    from nnfast import network2
    X, y = mnist_like(3000, np.float64, seed=2)
    np.random.seed(4)
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    runs = []
    for density in (1.0, 0.0):
        with sparse_share(density):
            runs.append((net.accuracy((X, y)), net.total_cost((X, y), 0.0)))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-12)


def test_training_on_the_nonzeros_matches_the_oracle():
    """The book's per-example network (nnfast.reference) and the sparse path: the same weights to within
    rounding after an epoch of the book's chapter-1 run on MNIST-like inputs."""
    from nnfast import network
    from nnfast.reference import network as ref
    X, y = mnist_like(200, np.float64, seed=5)
    np.random.seed(6)
    oracle = ref.Network([784, 30, 10])
    np.random.seed(6)
    net = network.Network([784, 30, 10])
    data = [(x.reshape(784, 1), np.eye(10)[k].reshape(10, 1)) for x, k in zip(X, y)]
    with sparse_share(1.0), contextlib.redirect_stdout(io.StringIO()):
        random.seed(7)
        oracle.SGD(list(data), 1, 10, 3.0)
        random.seed(7)
        net.SGD(list(data), 1, 10, 3.0)
    for a, b in zip(net.weights + net.biases, oracle.weights + oracle.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
