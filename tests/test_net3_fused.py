"""network3's fused layer loops against the oracle, for each dtype and thread count: the fully
connected layers on the small-batch kernels of network/network2 (csrc/dense_fc3.h), on shapes that
cross every block edge of those kernels, and the same nets on BLAS, so that both paths are held to
the same answers; and conv layers whose bias, activation, its derivative, bias gradient and L2 step
run inside the pool and filter-gradient loops (csrc/pool.c, conv.c), below a conv or an FC layer."""
import numpy as np
import pytest

import nnfast
from nnfast import _core
from nnfast._gradcheck import gradcheck
from nnfast import network3 as n3
from nnfast.reference import network3 as R
from conftest import assert_same_on_thread_counts

# blocks of the kernels: 64 inputs per forward chunk, 256 units per input-gradient call, register
# blocks of 2 or 5 rows and 4 vectors: 130 and 300 leave a tail at each, 7 rows an odd one
N_IN, N_HID, N_OUT = 130, 300, 10
PATHS = {"small": (64, 0.0), "blas": (0, 0.0)}


@pytest.fixture(params=sorted(PATHS))
def path(request):
    old = _core.fc_small(*PATHS[request.param])
    yield request.param
    _core.fc_small(*old)


def layers(mod, p=0.0, act=None):
    return [mod.FullyConnectedLayer(n_in=N_IN, n_out=N_HID, activation_fn=act or mod.sigmoid, p_dropout=p),
            mod.FullyConnectedLayer(n_in=N_HID, n_out=40, activation_fn=act or mod.sigmoid, p_dropout=p),
            mod.SoftmaxLayer(n_in=40, n_out=N_OUT, p_dropout=p)]


def twin(B, dtype, p=0.0, act=None, seed=1):
    np.random.seed(seed)
    net = n3.Network(layers(n3, p, act and getattr(n3, act)), B, dtype=dtype)
    np.random.seed(seed)
    ref = R.Network(layers(R, p, act and getattr(R, act)), B)
    rng = np.random.default_rng(seed)
    for a, b in zip(net.layers, ref.layers):   # the softmax layer starts at zero: give it weights
        a.w[...] = rng.normal(scale=0.3, size=a.w.shape)
        b.w[...] = a.w
        b.b[...] = a.b
    return net, ref


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, N_IN)), rng.integers(0, N_OUT, n)


TOL = {np.float64: 1e-10, np.float32: 2e-4}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("B,act,lmbda", [(10, None, 0.0), (7, "ReLU", 0.5), (4, "tanh", 0.0)])
def test_training_equals_reference(path, dtype, threads, B, act, lmbda):
    net, ref = twin(B, dtype, act=act)
    x, y = data(12 * B + 3, seed=2)
    with nnfast.num_threads(threads):
        net.SGD((x.astype(dtype), y), 1, B, 0.2, None, None, lmbda=lmbda)
    ref.train((x, y), 1, B, 0.2, lmbda=lmbda)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=TOL[dtype])
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_training_and_evaluation_equal_reference(path, dtype):
    B = 10
    net, ref = twin(B, dtype, p=0.5, act="ReLU")
    x, y = data(8 * B, seed=5)
    np.random.seed(123)
    net.SGD((x.astype(dtype), y), 2, B, 0.1, None, None)
    np.random.seed(123)
    ref.train((x, y), 2, B, 0.1, seed=int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64)))
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=TOL[dtype])
    # the evaluation path scales the inputs' products by 1 - p (a tail of 3 rows in the last block)
    xe = data(23, seed=6)[0]
    np.testing.assert_allclose(net.feedforward(xe.astype(dtype)), ref.forward(xe, train=False), rtol=0,
                               atol=TOL[dtype])


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_gradients_equal_central_differences(path, p):
    """The forward product and the input gradient (the weight gradient of _gradients is BLAS's: the
    kernels only take the SGD step) against central differences of the cost (nnfast.gradcheck)."""
    net, _ = twin(7, np.float64, p=p, act="tanh")
    x, y = data(7, seed=3)
    result = gradcheck(net, x, y, samples=12, seed=5, first_example=8)
    assert result.ok(1e-6), str(result)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_does_not_change_results(path, dtype):
    x, y = data(150, seed=9)
    x = x.astype(dtype)
    assert_same_on_thread_counts(lambda: twin(10, dtype, p=0.3, act="ReLU")[0],
                                 lambda net: net.SGD((x, y), 2, 10, 0.1, None, None, lmbda=0.1, shuffle=True), x)


def test_paths_agree_and_default_choice_is_by_shape():
    """Both paths train the same net to the same weights within rounding; the default sends the
    book's dropout layers (10 x 1000 x 1000) to the kernels and its small layers to BLAS."""
    x, y = data(60, seed=7)
    out = {}
    for name, setting in PATHS.items():
        old = _core.fc_small(*setting)
        try:
            net, _ = twin(10, np.float64, act="ReLU")
            net.SGD((x, y), 1, 10, 0.1, None, None)
            out[name] = [p.copy() for p in net.params]
        finally:
            _core.fc_small(*old)
    for a, b in zip(out["small"], out["blas"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    rows, macs = _core.fc_small()
    assert 10 <= rows and 10 * 1000 * 1000 >= macs > 10 * 784 * 100


@pytest.mark.parametrize("bad", [{"rows": -1}, {"rows": 65}, {"rows": 2.0}, {"macs": -1.0}, {"macs": "1"}])
def test_fc_small_rejects_bad_settings(bad):
    before = _core.fc_small()
    with pytest.raises(ValueError):
        _core.fc_small(**bad)
    assert _core.fc_small() == before


# ---- conv layers: pool + bias + activation forward, pool routing + derivative, filter step + bias + L2

def conv_layers(mod, B, act):
    """conv below conv (the derivative made in the pool loop) and conv below FC (made by the FC's loop)."""
    a = getattr(mod, act)
    return [mod.ConvPoolLayer(filter_shape=(3, 2, 3, 4), image_shape=(B, 2, 9, 11), poolsize=(2, 3), activation_fn=a),
            mod.ConvPoolLayer(filter_shape=(5, 3, 2, 2), image_shape=(B, 3, 3, 2), poolsize=(1, 1), activation_fn=a),
            mod.FullyConnectedLayer(n_in=5 * 2 * 1, n_out=7, activation_fn=a),
            mod.SoftmaxLayer(n_in=7, n_out=5)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act,lmbda", [("sigmoid", 0.5), ("ReLU", 0.0), ("tanh", 0.5)])
def test_conv_training_equals_reference(dtype, threads, act, lmbda):
    B = 5
    np.random.seed(2)
    net = n3.Network(conv_layers(n3, B, act), B, dtype=dtype)
    np.random.seed(2)
    ref = R.Network(conv_layers(R, B, act), B)
    rng = np.random.default_rng(2)
    for a, b in zip(net.layers, ref.layers):
        a.w[...] = rng.normal(scale=0.5, size=a.w.shape)
        b.w[...] = a.w.reshape(b.w.shape)
        b.b[...] = a.b
    rng = np.random.default_rng(3)
    x, y = rng.random((15 * B, 2 * 9 * 11)), rng.integers(0, 5, 15 * B)
    with nnfast.num_threads(threads):
        net.SGD((x.astype(dtype), y), 1, B, 0.2, None, None, lmbda=lmbda)
    ref.train((x, y), 1, B, 0.2, lmbda=lmbda)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w.reshape(a.w.shape), rtol=0, atol=TOL[dtype])
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("act", ["sigmoid", "ReLU"])
def test_conv_gradients_equal_central_differences(act):
    B = 5
    np.random.seed(4)
    net = n3.Network(conv_layers(n3, B, act), B, dtype=np.float64)
    rng = np.random.default_rng(4)
    for layer in net.layers:
        layer.w[...] = rng.normal(scale=0.5, size=layer.w.shape)
    x, y = rng.random((B, 2 * 9 * 11)), rng.integers(0, 5, B)
    result = gradcheck(net, x, y, samples=12, seed=1)
    assert result.ok(1e-6), str(result)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_forward_cut_over_inputs_with_a_wide_softmax_layer(path, dtype, threads):
    """A softmax layer of 700 x 10 at mini-batch 10 (70,000 multiply-adds) and a hidden layer of
    130 x 700 take the forward product in four parts over their inputs (csrc/dense3.c), summed in
    part order with the bias, activation, softmax and, on the evaluation path, the dropout scale:
    training, evaluation and the thread counts against the oracle."""
    def mk(mod):
        return [mod.FullyConnectedLayer(n_in=N_IN, n_out=700, activation_fn=mod.sigmoid, p_dropout=0.2),
                mod.SoftmaxLayer(n_in=700, n_out=N_OUT, p_dropout=0.3)]
    np.random.seed(4)
    net = n3.Network(mk(n3), 10, dtype=dtype)
    np.random.seed(4)
    ref = R.Network(mk(R), 10)
    rng = np.random.default_rng(4)
    for a, b in zip(net.layers, ref.layers):
        a.w[...] = rng.normal(scale=0.1, size=a.w.shape)
        b.w[...] = a.w
        b.b[...] = a.b
    x, y = data(43, seed=8)
    np.random.seed(9)
    with nnfast.num_threads(threads):
        net.SGD((x.astype(dtype), y), 1, 10, 0.1, None, None, lmbda=0.2)
    np.random.seed(9)
    ref.train((x, y), 1, 10, 0.1, lmbda=0.2, seed=int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64)))
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=TOL[dtype])
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=TOL[dtype])
    xe = data(23, seed=6)[0]
    with nnfast.num_threads(threads):
        out = net.feedforward(xe.astype(dtype))
    np.testing.assert_allclose(out, ref.forward(xe, train=False), rtol=0, atol=TOL[dtype])
