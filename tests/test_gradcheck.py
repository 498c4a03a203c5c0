"""Chapter 2: gradcheck agrees with backprop on every kind of network, catches a wrong
derivative, leaves the network untouched and rejects bad arguments by name."""
import numpy as np
import pytest

import nnfast
from nnfast import network, network2
from nnfast import network3 as n3
from nnfast.reference import network as R1
from nnfast.reference import network2 as R2
from nnfast.reference import network3 as R3

TOL = 1e-6


def snapshot(net):
    """The parameter objects and copies of their values."""
    if hasattr(net, "layers"):
        return [(l.w, l.b, l.w.copy(), l.b.copy()) for l in net.layers]
    return [(w, b, w.copy(), b.copy()) for w, b in zip(net.weights, net.biases)]


def assert_unchanged(net, snap):
    pairs = [(l.w, l.b) for l in net.layers] if hasattr(net, "layers") else list(zip(net.weights, net.biases))
    for (w, b), (w0, b0, wc, bc) in zip(pairs, snap):
        assert w is w0 and b is b0
        assert np.array_equal(w, wc) and np.array_equal(b, bc) and w.dtype == wc.dtype


def columns(n_in, n_out, m, seed):
    rng = np.random.default_rng(seed)
    return rng.random((n_in, m)), rng.integers(0, n_out, m)


@pytest.mark.parametrize("cls", [network.Network, R1.Network])
def test_chapter1_network_one_column(cls):
    np.random.seed(0)
    net = cls([6, 5, 4])
    rng = np.random.default_rng(1)
    x, y = rng.random((6, 1)), rng.random((4, 1))
    snap = snapshot(net)
    r = nnfast.gradcheck(net, x, y)
    assert r.ok(TOL), r.report()
    assert set(r.errors) == {"weights[0]", "biases[0]", "weights[1]", "biases[1]"}
    assert r.checked["weights[0]"] == 30 and r.checked["biases[1]"] == 4
    assert_unchanged(net, snap)


@pytest.mark.parametrize("cost", [network2.QuadraticCost, network2.CrossEntropyCost, network2.LogLikelihoodCost])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_network2_every_cost_and_activation(cost, activation):
    np.random.seed(3)
    net = network2.Network([5, 7, 6, 4], cost=cost, activation=activation)
    x, y = columns(5, 4, 3, seed=4)
    snap = snapshot(net)
    r = nnfast.gradcheck(net, x, y)
    assert r.ok(TOL), r.report()
    assert len(r.errors) == 6 and r.max_error < TOL
    assert_unchanged(net, snap)


def test_network2_float32_dropout_trained_and_reference():
    np.random.seed(5)
    net = network2.Network([4, 6, 3], dtype=np.float32)
    net.p_dropout = 0.3                      # as after SGD(p_dropout=0.3): feedforward scales by 0.7
    x, y = columns(4, 3, 2, seed=6)
    snap = snapshot(net)
    assert nnfast.gradcheck(net, x, y).ok(TOL)
    assert_unchanged(net, snap)
    np.random.seed(5)
    ref = R2.Network([4, 6, 3], cost=R2.QuadraticCost, activation="tanh")
    assert nnfast.gradcheck(ref, x[:, 0], np.eye(3)[1]).ok(TOL)   # 1-D x and y for one example


def net3_layers(mod, B, p):
    return [mod.ConvPoolLayer(filter_shape=(3, 2, 3, 4), image_shape=(B, 2, 9, 11), poolsize=(2, 3),
                              activation_fn=mod.tanh),
            mod.FullyConnectedLayer(n_in=3 * 3 * 2, n_out=7, activation_fn=mod.ReLU, p_dropout=p),
            mod.SoftmaxLayer(n_in=7, n_out=5, p_dropout=p)]


def make_net3(mod, p=0.0, dtype=np.float64, B=4):
    np.random.seed(1)
    net = mod.Network(net3_layers(mod, B, p), B, dtype=dtype) if mod is n3 else mod.Network(net3_layers(mod, B, p), B)
    # the softmax layer starts at zero, which would hide errors below it
    net.layers[-1].w[...] = np.random.default_rng(0).normal(scale=0.5, size=net.layers[-1].w.shape)
    return net


@pytest.mark.parametrize("mod,dtype", [(n3, np.float64), (n3, np.float32), (R3, np.float64)])
@pytest.mark.parametrize("p", [0.0, 0.4])
def test_network3_native_and_reference(mod, dtype, p):
    net = make_net3(mod, p, dtype)
    rng = np.random.default_rng(2)
    x, y = rng.random((3, 198)), rng.integers(0, 5, 3)
    snap = snapshot(net)
    r = nnfast.gradcheck(net, x, y, seed=7, first_example=3)
    assert r.ok(TOL), r.report()
    assert list(r.errors) == ["layers[0].w", "layers[0].b", "layers[1].w", "layers[1].b",
                              "layers[2].w", "layers[2].b"]
    assert_unchanged(net, snap)
    if mod is n3:
        assert net.dtype == np.dtype(dtype)
        assert net.params == [a for l in net.layers for a in (l.w, l.b)]


def test_a_wrong_derivative_is_flagged_in_its_array(monkeypatch):
    np.random.seed(8)
    net = network2.Network([5, 6, 3])
    x, y = columns(5, 3, 2, seed=9)
    book_backprop = net.backprop

    def wrong_backprop(x, y):
        nabla_b, nabla_w = book_backprop(x, y)
        nabla_w[1] = nabla_w[1].copy()
        nabla_w[1][2, 4] *= 1.5              # one entry 50% too large
        return nabla_b, nabla_w

    monkeypatch.setattr(net, "backprop", wrong_backprop)
    r = nnfast.gradcheck(net, x, y)
    assert r.errors["weights[1]"] > 0.1 and r.worst["weights[1]"] == (2, 4)
    assert not r.ok(TOL) and r.max_error == r.errors["weights[1]"]
    assert all(e < TOL for name, e in r.errors.items() if name != "weights[1]")
    assert "weights[1]" in str(r)


def test_a_wrong_native_network3_gradient_is_flagged(monkeypatch):
    net = make_net3(n3)
    native = net._gradients

    def wrong(*args, **kw):
        grads = native(*args, **kw)
        grads[1][1][3] += 0.01                 # layers[1].b[3]
        return grads

    monkeypatch.setattr(net, "_gradients", wrong)
    rng = np.random.default_rng(2)
    r = nnfast.gradcheck(net, rng.random((2, 198)), rng.integers(0, 5, 2))
    assert r.errors["layers[1].b"] > 1e-3 and r.worst["layers[1].b"] == (3,)
    assert r.errors["layers[0].w"] < TOL and r.errors["layers[2].w"] < TOL


def test_samples_checks_a_subset_without_touching_numpys_generator():
    np.random.seed(10)
    net = network2.Network([20, 15, 4])
    x, y = columns(20, 4, 1, seed=11)
    state = np.random.get_state()[1].copy()
    r = nnfast.gradcheck(net, x, y, samples=7)
    assert np.array_equal(np.random.get_state()[1], state)
    assert r.checked == {"weights[0]": 7, "biases[0]": 7, "weights[1]": 7, "biases[1]": 4}
    assert r.ok(TOL)


def test_on_a_real_mnist_image(mnist_test_arrays):
    X, labels = mnist_test_arrays
    np.random.seed(12)
    net = network2.Network([784, 12, 10])
    r = nnfast.gradcheck(net, X[0].reshape(784, 1), int(labels[0]), samples=40)
    assert r.ok(TOL), r.report()


def test_bad_arguments_name_themselves():
    np.random.seed(0)
    net = network2.Network([3, 4, 2])
    x, y = np.ones((3, 1)), np.ones((2, 1))
    for eps in (0, -1e-5, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            nnfast.gradcheck(net, x, y, eps=eps)
    with pytest.raises(TypeError, match="eps"):
        nnfast.gradcheck(net, x, y, eps="small")
    with pytest.raises(ValueError, match="x must have shape"):
        nnfast.gradcheck(net, np.ones((4, 1)), y)
    with pytest.raises(ValueError, match="y must have shape"):
        nnfast.gradcheck(net, x, np.ones((3, 1)))
    with pytest.raises(ValueError, match="y: labels"):
        nnfast.gradcheck(net, x, 5)
    with pytest.raises(ValueError, match="x contains NaN"):
        nnfast.gradcheck(net, np.full((3, 1), np.nan), y)
    with pytest.raises(ValueError, match="samples"):
        nnfast.gradcheck(net, x, y, samples=0)
    with pytest.raises(TypeError, match="net must be a network"):
        nnfast.gradcheck(object(), x, y)
    net3 = make_net3(n3, B=2)
    with pytest.raises(ValueError, match=r"x must have shape \(m, 198\)"):
        nnfast.gradcheck(net3, np.ones((3, 198)), np.zeros(3, dtype=int))   # more than a mini-batch
    with pytest.raises(ValueError, match="integer label"):
        nnfast.gradcheck(net3, np.ones((2, 198)), np.ones((2, 5)))
