"""network3's two lowerings of a conv layer, each held to the oracle: im2col + BLAS (csrc/conv.c) and
the direct kernels (csrc/conv_direct.c), forced in turn with _core.conv_lowering.  Shapes like the
book's first layer (one input map) and second (several), with odd sizes that cross the direct
kernels' blocks: non-square images and filters, output rows that are not whole vectors, filter counts
that are not whole blocks of 4, pool windows that leave a remainder; training, evaluation and the
gradients of one mini-batch; the same weights to the bit for 1, 2 and 3 threads."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast import network3 as n3
from nnfast.reference import network3 as R
from conftest import assert_same_on_thread_counts

LOWERINGS = ("im2col", "direct")
TOL = {np.float64: 1e-10, np.float32: 3e-4}


@pytest.fixture(params=LOWERINGS)
def lowering(request):
    old = _core.conv_lowering(request.param)
    yield request.param
    _core.conv_lowering(old)


def first_layer_net(mod, B, act="sigmoid"):
    """One input map like the book's conv1: 13x30 image (27 outputs a row: 3 float vectors and a tail
    of 3), 5 filters 5x4 (a block of 4 and one more), pool 2x3 (a row of the 9-row map dropped)."""
    a = getattr(mod, act)
    return [mod.ConvPoolLayer(filter_shape=(5, 1, 5, 4), image_shape=(B, 1, 13, 30), poolsize=(2, 3), activation_fn=a),
            mod.FullyConnectedLayer(n_in=5 * 4 * 9, n_out=12, activation_fn=a),
            mod.SoftmaxLayer(n_in=12, n_out=4)]


def two_conv_net(mod, B, act="ReLU"):
    """Two conv layers like conv2relu: 2 input maps 12x11, 6 filters 3x3, pool 2x2 (remainders on both
    sides); then 7 filters 3x2 over the 6 maps 5x4 (the input gradient runs), pool 1x1."""
    a = getattr(mod, act)
    return [mod.ConvPoolLayer(filter_shape=(6, 2, 3, 3), image_shape=(B, 2, 12, 11), poolsize=(2, 2), activation_fn=a),
            mod.ConvPoolLayer(filter_shape=(7, 6, 3, 2), image_shape=(B, 6, 5, 4), poolsize=(1, 1), activation_fn=a),
            mod.FullyConnectedLayer(n_in=7 * 3 * 3, n_out=10, activation_fn=a),
            mod.SoftmaxLayer(n_in=10, n_out=3)]


NETS = {"first": (first_layer_net, 13 * 30, 4), "two": (two_conv_net, 2 * 12 * 11, 3)}


def twins(which, B, dtype, act, seed=1):
    build, n_in, n_out = NETS[which]
    np.random.seed(seed)
    net = n3.Network(build(n3, B, act), B, dtype=dtype)
    np.random.seed(seed)
    ref = R.Network(build(R, B, act), B)
    rng = np.random.default_rng(seed)
    for a, b in zip(net.layers, ref.layers):   # the softmax layer starts at zero: give it weights
        a.w[...] = rng.normal(scale=0.4, size=a.w.shape)
        b.w[...] = a.w.reshape(b.w.shape)
        b.b[...] = a.b
    return net, ref


def data(which, n, seed=0):
    _, n_in, n_out = NETS[which]
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("which,act,lmbda", [("first", "sigmoid", 0.0), ("first", "tanh", 0.5),
                                             ("two", "ReLU", 0.5), ("two", "sigmoid", 0.0)])
def test_training_and_evaluation_equal_reference(lowering, dtype, threads, which, act, lmbda):
    B = 5
    net, ref = twins(which, B, dtype, act)
    x, y = data(which, 8 * B + 2, seed=2)
    with nnfast.num_threads(threads):
        net.SGD((x.astype(dtype), y), 1, B, 0.2, None, None, lmbda=lmbda)
    ref.train((x, y), 1, B, 0.2, lmbda=lmbda)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w.reshape(a.w.shape), rtol=0, atol=TOL[dtype])
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=TOL[dtype])
    xe = data(which, 2 * B + 3, seed=3)[0]   # a last block of 3 rows
    np.testing.assert_allclose(net.feedforward(xe.astype(dtype)), ref.forward(xe, train=False), rtol=0,
                               atol=TOL[dtype])


@pytest.mark.parametrize("which", sorted(NETS))
def test_lowerings_give_the_same_gradients(which):
    """nn3_gradients of one mini-batch through each lowering: the same numbers up to rounding (the
    sums run in another order), in float64 and float32."""
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        x, y = data(which, 6, seed=4)
        grads = {}
        for mode in LOWERINGS:
            old = _core.conv_lowering(mode)
            try:
                net, _ = twins(which, 6, dtype, "tanh")
                grads[mode] = [g for pair in net._gradients(x.astype(dtype), y) for g in pair]
            finally:
                _core.conv_lowering(old)
        for a, b in zip(grads["im2col"], grads["direct"]):
            scale = max(1.0, float(np.abs(a).max()))
            np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("which", sorted(NETS))
def test_thread_count_does_not_change_results(lowering, dtype, which):
    x, y = data(which, 60, seed=9)
    x = x.astype(dtype)
    assert_same_on_thread_counts(lambda: twins(which, 10, dtype, "ReLU")[0],
                                 lambda net: net.SGD((x, y), 2, 10, 0.1, None, None, lmbda=0.1, shuffle=True), x)


def test_book_first_layer_shape_trains_the_same_on_both_lowerings():
    """The book's conv1 (20 filters 5x5 on 28x28, pool 2x2) at mini-batch 10: both lowerings give the
    same weights to rounding after a few mini-batches, and the default rule takes the direct kernels
    (csrc/conv_direct.c's measurements)."""
    def build(mod):
        return [mod.ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
                mod.FullyConnectedLayer(n_in=20 * 12 * 12, n_out=30), mod.SoftmaxLayer(n_in=30, n_out=10)]
    rng = np.random.default_rng(5)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    out = {}
    for mode in LOWERINGS + ("shape",):
        old = _core.conv_lowering(mode)
        try:
            np.random.seed(6)
            net = n3.Network(build(n3), 10, dtype=np.float32)
            net.SGD((x, y), 1, 10, 0.1, None, None)
            out[mode] = [p.copy() for p in net.params]
        finally:
            _core.conv_lowering(old)
    for a, b in zip(out["im2col"], out["direct"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    # both really ran: their sums run in other orders, so the filters round differently
    assert not np.array_equal(out["im2col"][0], out["direct"][0])
    assert all(np.array_equal(a, b) for a, b in zip(out["shape"], out["direct"]))


def test_shapes_the_direct_kernels_do_not_fit_fall_back_to_im2col():
    """A 130x130 image overflows the direct kernels' per-example buffers: even forced 'direct', the
    layer runs im2col + BLAS, so the two settings give the same weights to the bit."""
    def build(mod):
        return [mod.ConvPoolLayer(image_shape=(2, 1, 130, 130), filter_shape=(2, 1, 3, 3), poolsize=(2, 2)),
                mod.SoftmaxLayer(n_in=2 * 64 * 64, n_out=3)]
    rng = np.random.default_rng(8)
    x, y = rng.random((6, 130 * 130)), rng.integers(0, 3, 6)
    w1 = rng.normal(scale=0.01, size=(2 * 64 * 64, 3))   # the softmax layer starts at zero
    out = {}
    for mode in LOWERINGS:
        old = _core.conv_lowering(mode)
        try:
            np.random.seed(9)
            net = n3.Network(build(n3), 2)
            net.layers[1].w[...] = w1
            net.SGD((x, y), 1, 2, 0.1, None, None)
            out[mode] = [p.copy() for p in net.params]
        finally:
            _core.conv_lowering(old)
    for a, b in zip(out["im2col"], out["direct"]):
        np.testing.assert_array_equal(a, b)


BASELINE = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import test_conv_lowering as T
from nnfast import _core
_core.conv_lowering("direct")
worst = 0.0
for which, act in (("first", "tanh"), ("two", "ReLU")):
    for dtype in (np.float64, np.float32):
        net, ref = T.twins(which, 5, dtype, act)
        x, y = T.data(which, 23, seed=2)
        net.SGD((x.astype(dtype), y), 1, 5, 0.2, None, None, lmbda=0.5)
        ref.train((x, y), 1, 5, 0.2, lmbda=0.5)
        for a, b in zip(net.layers, ref.layers):
            worst = max(worst, float(np.abs(a.w - b.w.reshape(a.w.shape)).max()) / T.TOL[dtype])
print(worst)
"""


def test_baseline_instruction_set_agrees_with_the_reference():
    """The direct kernels' baseline (non-AVX2) instantiation, forced in a child process."""
    env = dict(os.environ, NNFAST_SIMD="baseline")
    r = subprocess.run([sys.executable, "-c", BASELINE, os.path.dirname(os.path.abspath(__file__))], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.strip().splitlines()[-1]) < 1.0


WIDE_CHILD = r'''
import hashlib, sys
import numpy as np
import nnfast
from nnfast import _core, network3 as n3
_core.conv_lowering("direct")
dtype, B = sys.argv[1], 10
nets = [lambda: [n3.ConvPoolLayer(filter_shape=(5, 1, 5, 4), image_shape=(B, 1, 13, 30), poolsize=(2, 3),
                                  activation_fn=n3.sigmoid),
                 n3.FullyConnectedLayer(n_in=5 * 4 * 9, n_out=12, activation_fn=n3.sigmoid),
                 n3.SoftmaxLayer(n_in=12, n_out=4)],
        lambda: [n3.ConvPoolLayer(filter_shape=(6, 2, 3, 3), image_shape=(B, 2, 12, 27), poolsize=(2, 2),
                                  activation_fn=n3.ReLU),
                 n3.ConvPoolLayer(filter_shape=(7, 6, 3, 3), image_shape=(B, 6, 5, 12), poolsize=(1, 1),
                                  activation_fn=n3.ReLU),
                 n3.FullyConnectedLayer(n_in=7 * 3 * 10, n_out=10, activation_fn=n3.ReLU),
                 n3.SoftmaxLayer(n_in=10, n_out=4)]]
h = hashlib.sha256()
for seed, layers in enumerate(nets):
    np.random.seed(seed)   # before the layers: they draw their weights and biases
    layers = layers()
    net = n3.Network(layers, B, dtype=dtype)
    rng = np.random.default_rng(seed)
    for layer in net.layers:   # the softmax layer starts at zero: give it weights
        layer.w[...] = rng.normal(scale=0.4, size=layer.w.shape)
    x, y = rng.random((40, layers[0].n_in)).astype(dtype), rng.integers(0, 4, 40)
    with nnfast.num_threads(2):
        net.SGD((x, y), 1, B, 0.1, None, None)
    for layer in net.layers:
        h.update(np.ascontiguousarray(layer.w).tobytes()); h.update(np.ascontiguousarray(layer.b).tobytes())
print(_core.simd_level(), h.hexdigest())
'''


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_avx512_direct_kernels_give_the_avx2_bits(dtype):
    """The direct kernels' AVX-512 instantiation (64-byte vectors in correlate: the forward pass of a
    first layer with 27 outputs a row, and the input gradient of a second layer 12 wide, tails and
    all) against the AVX2 one (NNFAST_SIMD=avx2), each in a child process: the same weights to the
    bit after 4 mini-batches of training."""
    from conftest import avx512_and_avx2_outputs
    wide, avx2 = avx512_and_avx2_outputs(WIDE_CHILD, dtype)
    assert wide == avx2


@pytest.mark.parametrize("bad", ["blas", "", None.__class__.__name__])
def test_conv_lowering_rejects_unknown_modes(bad):
    before = _core.conv_lowering()
    with pytest.raises(ValueError):
        _core.conv_lowering(bad)
    assert _core.conv_lowering() == before
