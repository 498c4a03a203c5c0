"""Theano's face: network3's data and every layer's w and b answer get_value, set_value and
eval as the book's shared variables did (src/conv.py's idioms), and stay numpy arrays, viewed
without a copy by the native code, through training, save/load, copy and pickling."""
import copy
import pickle

import numpy as np
import pytest

from nnfast import _shared, network3
from nnfast.data import loader as data_loader
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer
from test_loader import write_split

MBS = 10


@pytest.fixture
def shared_data(tmp_path, monkeypatch):
    """load_data_shared on a small IDX folder: 60 training, 20 validation, 30 test images."""
    monkeypatch.setattr(data_loader, "_N_TRAIN", 60)
    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("test", 30)):
        write_split(str(tmp_path), split, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                    rng.integers(0, 10, n, dtype=np.uint8))
    return network3.load_data_shared(str(tmp_path))


def small_net():
    np.random.seed(3)
    return Network([ConvPoolLayer(image_shape=(MBS, 1, 28, 28), filter_shape=(4, 1, 5, 5), poolsize=(2, 2)),
                    FullyConnectedLayer(n_in=4 * 12 * 12, n_out=20),
                    SoftmaxLayer(n_in=20, n_out=10)], MBS)


def test_conv_py_idioms(shared_data):
    training_data, validation_data, test_data = shared_data
    net = small_net()
    before = net.layers[0].w.eval()                   # plot_filters
    net.SGD(training_data, 2, MBS, 0.5, validation_data, test_data)
    filters = net.layers[0].w.eval()
    assert type(filters) is np.ndarray and filters.shape == (4, 1, 5, 5)
    assert not np.array_equal(filters, before)        # the trained values
    filters[...] = 0                                  # eval() is a copy
    assert np.any(net.layers[0].w != 0)
    test_x, test_y = test_data[0].eval(), test_data[1].eval()     # plot_errors, ensemble
    assert test_x.shape == (30, 784) and test_y.shape == (30,) and type(test_y) is np.ndarray
    np.testing.assert_array_equal(test_x, test_data[0])
    # the book's size(): data[0].get_value(borrow=True).shape[0]
    assert training_data[0].get_value(borrow=True).shape[0] == network3.size(training_data) == 60
    assert np.shares_memory(training_data[0].get_value(borrow=True), training_data[0])
    assert not np.shares_memory(training_data[0].get_value(), training_data[0])
    for layer in net.layers:                          # parameters keep the face after training
        for p in (layer.w, layer.b):
            assert isinstance(p, _shared.SharedArray) and p.get_value().dtype == np.float32


def test_set_value_reaches_the_network(shared_data):
    _, _, (test_x, _) = shared_data
    net = small_net()
    out = net.layers[-1]
    out.w.set_value(np.zeros((20, 10)))               # float64 into float32: cast, as floatX
    b = np.zeros(10, dtype=np.float32)
    b[3] = 50.0
    out.b.set_value(b)
    assert np.all(net.predict(test_x) == 3)           # the native path reads the new values
    assert net.params[-1] is out.b and net.layers[-1].params[0] is out.w
    with pytest.raises(ValueError, match="shape"):
        out.w.set_value(np.zeros((10, 20)))
    with pytest.raises(TypeError, match="dtype"):
        out.w.set_value(np.zeros((20, 10), dtype=complex))
    np.testing.assert_array_equal(out.w.get_value(), 0)


def test_assigned_arrays_get_the_face_without_a_copy():
    layer = FullyConnectedLayer(n_in=5, n_out=3)
    new = np.arange(15, dtype=np.float32).reshape(5, 3)
    layer.w = new                                     # a harness publishing new arrays
    assert isinstance(layer.w, _shared.SharedArray) and np.shares_memory(layer.w, new)
    assert layer.w is layer.w                         # one object: params lists stay in step
    np.testing.assert_array_equal(layer.w.eval(), new)
    layer.__dict__["b"] = np.ones(3)                  # as a pickle of an older nnfast layer holds it
    assert isinstance(layer.b, _shared.SharedArray) and layer.b.get_value().sum() == 3
    del layer.__dict__["b"]
    with pytest.raises(AttributeError, match="b"):
        layer.b


def test_native_paths_view_without_a_copy(shared_data):
    (x, y), _, _ = shared_data
    net = small_net()
    seen = net._check_x(x, "x")
    assert type(seen) is np.ndarray and np.shares_memory(seen, x)
    assert type(np.asarray(net.layers[0].w)) is np.ndarray and np.shares_memory(np.asarray(net.layers[0].w),
                                                                                  net.layers[0].w)
    assert net.accuracy(x, y) == network3.Network.accuracy(net, np.asarray(x), np.asarray(y))


def test_save_load_copy_pickle_keep_the_face(shared_data, tmp_path):
    training_data, _, (test_x, _) = shared_data
    net = small_net()
    net.SGD(training_data, 1, MBS, 0.5)
    expected = net.predict(test_x)
    net.save(tmp_path / "net.npz")
    others = [network3.load(tmp_path / "net.npz"), copy.deepcopy(net), pickle.loads(pickle.dumps(net))]
    for other in others:
        for a, b in zip(net.layers, other.layers):
            assert isinstance(b.w, _shared.SharedArray) and isinstance(b.b, _shared.SharedArray)
            np.testing.assert_array_equal(a.w.get_value(), b.w.eval())
        np.testing.assert_array_equal(other.predict(test_x), expected)
    assert not np.shares_memory(others[1].layers[0].w, net.layers[0].w)
    data = pickle.loads(pickle.dumps(shared_data))
    assert isinstance(data[2][0], _shared.SharedArray) and np.array_equal(data[2][0].eval(), test_x)
    assert isinstance(copy.copy(test_x), _shared.SharedArray)


def test_ensemble_replaces_the_theano_function(shared_data):
    """conv.py's ensemble() compiled a theano.function per net for its test predictions; here
    net.predict(test_x) gives them, and network3.Ensemble takes the vote."""
    training_data, _, (test_x, test_y) = shared_data
    nets = []
    for seed in range(3):
        np.random.seed(seed)
        net = Network([FullyConnectedLayer(n_in=784, n_out=20), SoftmaxLayer(n_in=20, n_out=10)], MBS)
        net.SGD(training_data, 1, MBS, 0.5)
        nets.append(net)
    predictions = np.array([net.predict(test_x) for net in nets])
    vote = network3.Ensemble(nets).predict(test_x)
    for j in range(len(test_y)):
        counts = np.bincount(predictions[:, j], minlength=10)
        assert counts[vote[j]] == counts.max()        # a plurality label
    assert network3.Ensemble(nets).accuracy(test_x, test_y.eval()) == np.mean(vote == test_y)
