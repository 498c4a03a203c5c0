"""network3's fully connected layers on the small-batch kernels, on shapes that straddle the blocks of
csrc/dense3.c and dense_fc3.h against the oracle: the SGD step walks each slice of w in blocks of
about 64 KB (16 rows of 1003 floats, 8 of 1003 doubles: a slice of 65 rows ends in an odd block),
the forward product cuts z's columns at multiples of 16 (1003 columns: a tail of 3 past the last
vector), and up to 64 rows of the mini-batch (register blocks of 5 rows, a remainder of 4).  And the
dropout masks' integer test (csrc/dropout.c) against the oracle's u >= p at p on a drawn u itself."""
import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast import network3 as n3
from nnfast.reference import _rng
from nnfast.reference import network3 as R
from conftest import assert_same_on_thread_counts

N_IN, N_WIDE, N_OUT = 130, 1003, 10
TOL = {np.float64: 1e-10, np.float32: 3e-4}


@pytest.fixture(autouse=True)
def small_kernels():
    old = _core.fc_small(64, 0.0)
    yield
    _core.fc_small(*old)


def layers(mod, p, act):
    a = getattr(mod, act)
    return [mod.FullyConnectedLayer(n_in=N_IN, n_out=N_WIDE, activation_fn=a, p_dropout=p),
            mod.FullyConnectedLayer(n_in=N_WIDE, n_out=70, activation_fn=a, p_dropout=p),
            mod.SoftmaxLayer(n_in=70, n_out=N_OUT, p_dropout=p)]


def twin(B, dtype, p, act, seed=1):
    np.random.seed(seed)
    net = n3.Network(layers(n3, p, act), B, dtype=dtype)
    np.random.seed(seed)
    ref = R.Network(layers(R, p, act), B)
    rng = np.random.default_rng(seed)
    for a, b in zip(net.layers, ref.layers):
        a.w[...] = rng.normal(scale=0.1, size=a.w.shape)
        b.w[...] = a.w
        b.b[...] = a.b
    return net, ref


def data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.random((n, N_IN)), rng.integers(0, N_OUT, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B,p,act,lmbda", [(10, 0.5, "ReLU", 0.0), (64, 0.0, "sigmoid", 0.5), (9, 0.3, "tanh", 0.0)])
def test_wide_layers_train_and_evaluate_as_reference(dtype, B, p, act, lmbda):
    net, ref = twin(B, dtype, p, act)
    x, y = data(3 * B + 1, seed=2)
    np.random.seed(7)
    with nnfast.num_threads(2):
        net.SGD((x.astype(dtype), y), 1, B, 0.1, None, None, lmbda=lmbda)
    np.random.seed(7)
    ref.train((x, y), 1, B, 0.1, lmbda=lmbda, seed=int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64)))
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=TOL[dtype])
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=TOL[dtype])
    xe = data(B + 3, seed=3)[0]
    np.testing.assert_allclose(net.feedforward(xe.astype(dtype)), ref.forward(xe, train=False), rtol=0,
                               atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_give_the_same_bits_for_any_thread_count(dtype):
    x, y = data(64, seed=4)
    x = x.astype(dtype)

    def train(net):
        np.random.seed(5)
        net.SGD((x, y), 1, 16, 0.1, None, None)
    assert_same_on_thread_counts(lambda: twin(16, dtype, 0.5, "ReLU")[0], train, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_leaves_out_rows_whose_input_is_zero(dtype):
    """The small kernels leave out inputs that are 0 (dense_fc3.h): the forward product sums each row
    over its nonzero inputs in chunks where at most half are nonzero, and the SGD step skips the
    mini-batch rows whose input is 0 in both rows of a pair of w's rows.  Inputs with every pattern of
    zeros (40% nonzero; a column 0 in all examples, one of a pair 0, both 0 in some rows) train as the
    oracle, and w's rows of inputs that are 0 in every example stay as they were, to the bit."""
    net, ref = twin(10, dtype, 0.0, "sigmoid")
    x, y = data(40, seed=6)
    rng = np.random.default_rng(8)
    x[rng.random(x.shape) < 0.6] = 0.0
    x[:, 5] = x[:, 6] = x[:, 11] = 0.0
    w0 = net.layers[0].w.copy()
    np.random.seed(7)
    with nnfast.num_threads(2):
        net.SGD((x.astype(dtype), y), 1, 10, 0.1, None, None)
    np.random.seed(7)
    ref.train((x, y), 1, 10, 0.1, seed=int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64)))
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=TOL[dtype])
    np.testing.assert_array_equal(net.layers[0].w[[5, 6, 11]], w0[[5, 6, 11]])
    assert not np.array_equal(net.layers[0].w[[4, 7, 10]], w0[[4, 7, 10]])


def test_dropout_threshold_is_exactly_u_at_least_p():
    """p set to drawn values of u (kept: u >= p) and to their neighbours; p = 1 drops all, and 300 units
    cross a block of 256 unit hashes."""
    n, I, seed, stream, first = 9, 300, 99, 3, 12
    e = np.arange(first, first + n, dtype=np.uint64)[:, None]
    u = _rng.uniform(seed, stream, e, np.arange(I, dtype=np.uint64)[None, :])
    x = np.random.default_rng(1).normal(size=(n, I))
    picks = [u[0, 0], u[4, 257], u.min(), u.max()]
    for p in picks + [np.nextafter(v, d) for v in picks for d in (0.0, 1.0)] + [1.0, 5e-324, 0.0]:
        mask, xd = _core.k_dropout_forward(x, p, seed, stream, first)
        np.testing.assert_array_equal(mask.astype(bool), u >= p)
        np.testing.assert_array_equal(xd, x * mask)


WIDE_CHILD = r'''
import hashlib, sys
import numpy as np
import nnfast
from nnfast import _core, network3 as n3
np.random.seed(3)
net = n3.Network([n3.FullyConnectedLayer(n_in=300, n_out=1003, activation_fn=n3.ReLU),
                  n3.FullyConnectedLayer(n_in=1003, n_out=1003, activation_fn=n3.ReLU, p_dropout=0.5),
                  n3.SoftmaxLayer(n_in=1003, n_out=10, p_dropout=0.5)], 10, dtype=sys.argv[1])
rng = np.random.default_rng(4)
x, y = rng.random((60, 300)).astype(sys.argv[1]), rng.integers(0, 10, 60)
with nnfast.num_threads(2):
    net.SGD((x, y), 2, 10, 0.05, None, None)
h = hashlib.sha256()
for layer in net.layers:
    h.update(np.ascontiguousarray(layer.w).tobytes()); h.update(np.ascontiguousarray(layer.b).tobytes())
print(_core.simd_level(), h.hexdigest())
'''


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_avx512_forward_gives_the_avx2_bits(dtype):
    """The fc forward product's AVX-512 instantiation (chosen on CPUs that have it) against the AVX2
    one (NNFAST_SIMD=avx2), each in a child process: the same weights to the bit after training."""
    from conftest import avx512_and_avx2_outputs
    wide, avx2 = avx512_and_avx2_outputs(WIDE_CHILD, dtype)
    assert wide == avx2
