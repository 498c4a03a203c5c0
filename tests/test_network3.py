"""network3 as a whole: gradients, training trajectories, dropout, threads, the book's API and bad input."""
import json
import os

import numpy as np
import pytest

import nnfast
from nnfast import network3 as n3
from nnfast.reference import network3 as R
from conftest import assert_same_on_thread_counts


def layers(mod, B, p=0.0, act_conv=None, act_fc=None):
    """A small net with every layer kind: two convs (non-square, pool remainder), FC, softmax."""
    ac = act_conv or mod.tanh
    af = act_fc or mod.sigmoid
    return [mod.ConvPoolLayer(filter_shape=(3, 2, 3, 4), image_shape=(B, 2, 9, 11), poolsize=(2, 3), activation_fn=ac),
            mod.ConvPoolLayer(filter_shape=(4, 3, 2, 2), image_shape=(B, 3, 3, 2), poolsize=(1, 1), activation_fn=ac),
            mod.FullyConnectedLayer(n_in=4 * 2 * 1, n_out=7, activation_fn=af, p_dropout=p),
            mod.SoftmaxLayer(n_in=7, n_out=5, p_dropout=p)]


def twin(B=4, p=0.0, seed=1, dtype=np.float64, nonzero_softmax=True, **kw):
    np.random.seed(seed)
    net = n3.Network(layers(n3, B, p, **{k: getattr(n3, v) for k, v in kw.items()}), B, dtype=dtype)
    np.random.seed(seed)
    ref = R.Network(layers(R, B, p, **{k: getattr(R, v) for k, v in kw.items()}), B)
    if nonzero_softmax:   # zero softmax weights hide errors in the layers below
        rng = np.random.default_rng(seed)
        for a, b in zip(net.layers, ref.layers):
            b.w[...] = rng.normal(scale=0.5, size=b.w.shape)
            a.w[...] = b.w.reshape(a.w.shape)
    for a, b in zip(net.layers, ref.layers):   # our layers draw in float32 (as the book): share exact values
        b.b[...] = a.b
        b.w[...] = a.w.reshape(b.w.shape)
    return net, ref


def data(n, seed=0, n_in=2 * 9 * 11, classes=5):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, classes, n)


# ---- gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.4])
def test_gradients_equal_reference(p):
    net, ref = twin(p=p)
    x, y = data(4)
    for (gw, gb), (rw, rb) in zip(net._gradients(x, y, seed=9, first_example=40),
                                  ref.gradients(x, y, seed=9, first_example=40)):
        np.testing.assert_allclose(gw, rw.reshape(gw.shape), rtol=0, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=0, atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_gradients_equal_central_differences(p):
    net, ref = twin(p=p)
    x, y = data(4, seed=3)
    grads = net._gradients(x, y, seed=5, first_example=8)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for layer, (gw, gb) in zip(ref.layers, grads):
        for param, g in ((layer.w, gw.reshape(layer.w.shape)), (layer.b, gb)):
            flat = param.reshape(-1)
            for i in rng.choice(flat.size, size=min(flat.size, 12), replace=False):
                old = flat[i]
                flat[i] = old + eps
                cp = ref.cost(x, y, seed=5, first_example=8)
                flat[i] = old - eps
                cm = ref.cost(x, y, seed=5, first_example=8)
                flat[i] = old
                num = (cp - cm) / (2 * eps)
                assert abs(num - g.reshape(-1)[i]) <= 1e-7 + 1e-5 * abs(num), (layer, i, num, g.reshape(-1)[i])


# ---- training trajectories ------------------------------------------------------------------

@pytest.mark.parametrize("lmbda", [0.0, 0.5])
@pytest.mark.parametrize("acts", [{}, {"act_conv": "ReLU", "act_fc": "ReLU"}])
def test_twenty_minibatches_equal_reference(lmbda, acts, capsys):
    B = 4
    net, ref = twin(B, **acts)
    x, y = data(20 * B + 3, seed=2)          # remainder dropped
    val = data(9, seed=4)
    net.SGD((x, y), 1, B, 0.2, val, None, lmbda=lmbda)
    ref.train((x, y), 1, B, 0.2, lmbda=lmbda)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w.reshape(a.w.shape), rtol=0, atol=1e-10)
        np.testing.assert_allclose(a.b, b.b, rtol=0, atol=1e-10)


def test_dropout_training_equals_reference_with_same_seed():
    B = 4
    net, ref = twin(B, p=0.5)
    x, y = data(10 * B, seed=5)
    np.random.seed(123)
    net.SGD((x, y), 2, B, 0.1, data(8), None)
    np.random.seed(123)
    seed = int(np.random.randint(0, 2 ** 63 - 1, dtype=np.int64))
    ref.train((x, y), 2, B, 0.1, seed=seed)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w.reshape(a.w.shape), rtol=0, atol=1e-10)


def test_evaluation_path_scales_by_one_minus_p():
    net, ref = twin(p=0.5)
    x, _ = data(11, seed=6)
    out = net.feedforward(x)
    np.testing.assert_allclose(out, ref.forward(x, train=False), rtol=0, atol=1e-12)
    # by hand for the softmax layer: softmax((1 - p) x w + b)
    ref.forward(x, train=False)
    h = ref.layers[2].a
    np.testing.assert_allclose(out, R.softmax(0.5 * h @ ref.layers[3].w + ref.layers[3].b), atol=1e-12)


def test_float32_training_close_to_float64():
    net32, _ = twin(dtype=np.float32)
    net64, _ = twin(dtype=np.float64)
    assert net32.layers[0].w.dtype == np.float32 and net64.params[0].dtype == np.float64
    x, y = data(40, seed=8)
    for net in (net32, net64):
        net.SGD((x, y), 2, 4, 0.1, (x, y), None)
    for a, b in zip(net32.layers, net64.layers):
        np.testing.assert_allclose(a.w, b.w, rtol=0, atol=1e-4)


def test_thread_count_does_not_change_results():
    x, y = data(200, seed=9)

    def make_net():
        np.random.seed(0)
        return n3.Network(layers(n3, 10, p=0.3, act_conv=n3.ReLU), 10)
    assert_same_on_thread_counts(make_net, lambda net: net.SGD((x, y), 2, 10, 0.1, (x, y), None, shuffle=True), x)


def test_thread_count_of_a_long_epoch_changes_no_number():
    """An epoch of 320 mini-batches (many native calls) on two threads ends with the numbers of
    a one-thread run, bit for bit; ``net.last_threads`` says what SGD asked the kernels for."""
    if not nnfast._config._core.openmp_enabled():
        pytest.skip("serial build")
    res = []
    x, y = data(3200, seed=10)
    for t in (1, 2):
        np.random.seed(0)
        net = n3.Network(layers(n3, 10, p=0.2), 10)
        with nnfast.num_threads(t):
            net.SGD((x, y), 1, 10, 0.1, None, None)
        assert net.last_threads in ((1,) if t == 1 else (1, 2))
        res.append([p.copy() for p in net.params])
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


# ---- the book's interface -------------------------------------------------------------------

def test_book_initialisation_and_attributes():
    np.random.seed(0)
    c = n3.ConvPoolLayer(filter_shape=(20, 1, 5, 5), image_shape=(10, 1, 28, 28), poolsize=(2, 2))
    f = n3.FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100)
    s = n3.SoftmaxLayer(n_in=100, n_out=10)
    np.random.seed(0)
    w = np.random.normal(loc=0, scale=np.sqrt(1.0 / 125), size=(20, 1, 5, 5))
    b = np.random.normal(loc=0, scale=1.0, size=(20,))
    fw = np.random.normal(loc=0.0, scale=np.sqrt(1.0 / 100), size=(2880, 100))
    np.testing.assert_array_equal(c.w, w.astype(np.float32))
    np.testing.assert_array_equal(c.b, b.astype(np.float32))
    np.testing.assert_array_equal(f.w, fw.astype(np.float32))
    assert not s.w.any() and not s.b.any() and s.w.shape == (100, 10)
    net = n3.Network([c, f, s], 10)
    assert net.params == [c.w, c.b, f.w, f.b, s.w, s.b] or all(a is b for a, b in zip(net.params, [c.w, c.b, f.w, f.b, s.w, s.b]))
    assert c.params[0] is c.w and c.w.dtype == np.float32
    assert n3.size((np.zeros((7, 784)), np.zeros(7))) == 7


def test_sgd_prints_the_books_lines_and_returns(capsys):
    net, _ = twin(B=2)
    x, y = data(1001 * 2 + 1, seed=1)
    val, test = data(7, seed=2), data(5, seed=3)
    out = net.SGD((x, y), 2, 2, 0.05, val, test)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Training mini-batch number 0"
    assert "Training mini-batch number 1000" in lines and "Training mini-batch number 2000" in lines
    first_epoch = [i for i, l in enumerate(lines) if l.startswith("Epoch 0:")][0]
    assert lines.index("Training mini-batch number 1000") < first_epoch < lines.index("Training mini-batch number 2000")
    epoch_lines = [l for l in lines if l.startswith("Epoch ")]
    assert [l.split(":")[0] for l in epoch_lines] == ["Epoch 0", "Epoch 1"]
    assert "This is the best validation accuracy to date." in lines
    assert any(l.startswith("The corresponding test accuracy is ") for l in lines)
    assert lines[-3] == "Finished training network."
    best, it, tacc = out
    assert lines[-2] == "Best validation accuracy of {0:.2%} obtained at iteration {1}".format(best, it)
    assert lines[-1] == "Corresponding test accuracy of {0:.2%}".format(tacc)
    assert it in (1000, 2001)
    # validation uses whole mini-batches only: 3 batches of 2 of the 7 examples
    assert abs(best * 6 - round(best * 6)) < 1e-9


def test_sgd_without_test_data(capsys):
    net, _ = twin(B=2)
    x, y = data(20, seed=1)
    best, it, tacc = net.SGD((x, y), 1, 2, 0.05, (x, y), None)
    lines = capsys.readouterr().out.splitlines()
    assert tacc is None and it == 9 and 0 <= best <= 1
    assert lines[-1].startswith("Best validation accuracy of")


def test_predict_and_accuracy_any_n():
    net, ref = twin(B=4)
    for n in (1, 3, 4, 9):
        x, y = data(n, seed=n)
        np.testing.assert_array_equal(net.predict(x), ref.predict(x))
        assert net.accuracy(x, y) == np.mean(ref.predict(x) == y)
    assert net.predict(np.zeros((0, 198))).shape == (0,)


def test_save_load_roundtrip(tmp_path):
    net, _ = twin(B=4, p=0.25, act_conv="ReLU")
    x, _ = data(13)
    path = tmp_path / "net.npz"
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]
    with np.load(path, allow_pickle=False) as f:
        arch = json.loads(str(f["architecture"]))
    assert arch["format"] == "nnfast.network3" and [l["type"] for l in arch["layers"]] == [
        "ConvPoolLayer", "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer"]
    state = np.random.get_state()[1].copy()
    net2 = n3.load(path)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert net2.dtype == net.dtype and net2.layers[2].p_dropout == 0.25 and net2.layers[0].activation_fn is n3.ReLU
    np.testing.assert_array_equal(net2.feedforward(x), net.feedforward(x))


def test_load_rejects_unknown_names(tmp_path):
    net, _ = twin(B=2)
    path = tmp_path / "n.npz"
    net.save(path)
    with np.load(path) as f:
        arrays = dict(f)
    arch = json.loads(str(arrays["architecture"]))
    arch["layers"][0]["activation_fn"] = "os.system"
    arrays["architecture"] = np.array(json.dumps(arch))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="activation_fn"):
        n3.load(path)


def test_ensemble_majority_vote():
    nets = [twin(B=4, seed=s)[0] for s in (1, 2, 3)]
    x, y = data(17, seed=3)
    preds = np.array([n.predict(x) for n in nets])
    voted = n3.Ensemble(nets).predict(x)
    for j in range(len(y)):
        counts = np.bincount(preds[:, j], minlength=5)
        assert counts[voted[j]] == counts.max()
    assert 0 <= n3.Ensemble(nets).accuracy(x, y) <= 1


# ---- bad input --------------------------------------------------------------------------------

def test_size_mismatch_names_both_layers():
    B = 10
    with pytest.raises(ValueError) as e:
        n3.Network([n3.ConvPoolLayer(filter_shape=(20, 1, 5, 5), image_shape=(B, 1, 28, 28)),
                    n3.FullyConnectedLayer(n_in=20 * 13 * 13, n_out=100),
                    n3.SoftmaxLayer(n_in=100, n_out=10)], B)
    msg = str(e.value)
    assert "layer 1" in msg and "layer 0" in msg and "3380" in msg and "2880" in msg and "ConvPoolLayer" in msg


@pytest.mark.parametrize("kwargs,exc", [
    (dict(filter_shape=(20, 1, 29, 5), image_shape=(10, 1, 28, 28)), ValueError),   # filter larger than image
    (dict(filter_shape=(20, 1, 5, 5), image_shape=(10, 1, 28, 28), poolsize=(25, 2)), ValueError),
    (dict(filter_shape=(20, 2, 5, 5), image_shape=(10, 1, 28, 28)), ValueError),   # input maps disagree
    (dict(filter_shape=(20, 1, 5), image_shape=(10, 1, 28, 28)), TypeError),
    (dict(filter_shape=(20, 1, 5, 5), image_shape=(10, 1, 28, 28), poolsize=(0, 2)), ValueError),
    (dict(filter_shape=(20, 1, 5, 5), image_shape=(10, 1, 28, 28), activation_fn=np.exp), TypeError),
])
def test_conv_layer_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        n3.ConvPoolLayer(**kwargs)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_bad_p_dropout(p):
    with pytest.raises(ValueError, match="p_dropout"):
        n3.FullyConnectedLayer(10, 10, p_dropout=p)
    with pytest.raises(ValueError, match="p_dropout"):
        n3.SoftmaxLayer(10, 10, p_dropout=p)


def test_image_shape_batch_size_is_handled():
    np.random.seed(0)
    net = n3.Network([n3.ConvPoolLayer(filter_shape=(2, 1, 3, 3), image_shape=(99, 1, 6, 6)),
                      n3.SoftmaxLayer(n_in=2 * 2 * 2, n_out=3)], 4)
    x = np.random.rand(10, 36)
    best, _, _ = net.SGD((x, np.arange(10) % 3), 1, 4, 0.1, (x, np.arange(10) % 3), None)
    assert net.predict(x).shape == (10,)


def test_bad_data_leaves_network_unchanged():
    net, _ = twin(B=4)
    before = [p.copy() for p in net.params]
    x, y = data(40)
    bad = [
        ((x[:, :100], y), ValueError),                    # width is not the first layer's input
        ((x, y[:-1]), ValueError),
        ((np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), ValueError),
        ((x, y + 5), ValueError),                         # labels out of range
        ((x, y + 0.5), TypeError),
        ((x.astype(object), y), TypeError),
        (x, TypeError),
    ]
    for training, exc in bad:
        with pytest.raises(exc):
            net.SGD(training, 1, 4, 0.1, (x, y), None)
    with pytest.raises(ValueError, match="mini_batch_size"):
        net.SGD((x, y), 1, 5, 0.1, (x, y), None)
    with pytest.raises(ValueError, match="eta"):
        net.SGD((x, y), 1, 4, float("inf"), (x, y), None)
    with pytest.raises(ValueError, match="fewer than one mini-batch"):
        net.SGD((x[:3], y[:3]), 1, 4, 0.1, (x, y), None)
    with pytest.raises(ValueError):
        net.predict(x[:, :50])
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, b)


def test_network_bad_construction():
    with pytest.raises(ValueError, match="last layer"):
        n3.Network([n3.FullyConnectedLayer(4, 3)], 2)
    with pytest.raises(TypeError):
        n3.Network([], 2)
    with pytest.raises(TypeError, match="dtype"):
        n3.Network([n3.SoftmaxLayer(4, 3)], 2, dtype=np.int32)
    with pytest.raises(ValueError, match="mini_batch_size"):
        n3.Network([n3.SoftmaxLayer(4, 3)], 0)
    layer = n3.SoftmaxLayer(4, 3)
    layer.w = np.zeros((3, 4))
    with pytest.raises(ValueError, match="shape"):
        n3.Network([layer], 2)


def test_chapter6_first_network_on_real_data(fashion_dir, capsys):
    """The chapter's own lines, import changed, on a slice of Fashion-MNIST."""
    from nnfast import network3
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer
    training_data, validation_data, test_data = network3.load_data_shared(
        path=fashion_dir, dataset="fashion-mnist")
    assert network3.size(training_data) == 50000 and training_data[0].dtype == np.float32
    training_data = (training_data[0][:2000], training_data[1][:2000])
    validation_data = (validation_data[0][:500], validation_data[1][:500])
    mini_batch_size = 10
    np.random.seed(0)
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
        FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    best, it, test_acc = net.SGD(training_data, 2, mini_batch_size, 0.1, validation_data, test_data)
    assert best > 0.4 and it in (199, 399) and test_acc > 0.4
    assert "Finished training network." in capsys.readouterr().out
