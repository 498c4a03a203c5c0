"""Chapter 5: the speed of learning of each hidden layer equals the book's averaged backprop,
the per-epoch recorder stores it, and the chain of single neurons shows the unstable gradient."""
import numpy as np
import pytest

from nnfast import diagnostics as D
from nnfast import network, network2
from nnfast.reference import network as R1
from nnfast.reference import network2 as R2


def book_norms(net, data):
    """The book's generate_gradient.py: average backprop's nabla_b over the data, norm per layer."""
    total = None
    for x, y in data:
        nabla_b = net.backprop(x, y)[0]
        total = nabla_b if total is None else [t + nb for t, nb in zip(total, nabla_b)]
    return [float(np.linalg.norm(t / len(data))) for t in total]


def training_list(n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    return [(rng.random((n_in, 1)), np.eye(n_out)[:, [rng.integers(n_out)]]) for _ in range(n)]


@pytest.mark.parametrize("cost", [network2.QuadraticCost, network2.CrossEntropyCost, network2.LogLikelihoodCost])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_norms_equal_the_books_averaged_backprop(cost, activation):
    np.random.seed(2)
    net = network2.Network([8, 6, 5, 4, 3], cost=cost, activation=activation)
    data = training_list(40, 8, 3, seed=3)
    expected = book_norms(net, data)
    got = D.gradient_norms(net, data, include_output=True)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)
    assert D.gradient_norms(net, data) == got[:-1] and len(got) == 4


def test_chapter1_network_float32_dropout_and_array_pairs():
    np.random.seed(4)
    data = training_list(30, 5, 3, seed=5)
    X = np.hstack([x for x, _ in data]).T
    labels = np.array([int(np.argmax(y)) for _, y in data])
    net1 = network.Network([5, 4, 4, 3])
    np.testing.assert_allclose(D.gradient_norms(net1, (X, labels)), book_norms(net1, data)[:-1], rtol=1e-10)
    np.random.seed(4)
    ref1 = R1.Network([5, 4, 4, 3])
    assert D.gradient_norms(ref1, data) == D.gradient_norms(net1, data)
    net2 = network2.Network([5, 4, 4, 3], activation="tanh", dtype=np.float32)
    net2.p_dropout = 0.25                     # trained with dropout: backprop scales by 0.75
    w64 = R2.Network([5, 4, 4, 3], activation="tanh")
    w64.weights = [w.astype(np.float64) for w in net2.weights]
    w64.biases = [b.astype(np.float64) for b in net2.biases]
    w64.p_dropout = 0.25
    np.testing.assert_allclose(D.gradient_norms(net2, data), book_norms(w64, data)[:-1], rtol=1e-10)


def test_on_1000_real_images_like_the_chapter(mnist_test_arrays):
    X, labels = mnist_test_arrays
    data = [(X[i].reshape(784, 1), network2.vectorized_result(int(labels[i]))) for i in range(1000)]
    np.random.seed(0)
    net = network2.Network([784, 30, 30, 10])
    np.random.seed(0)
    ref = R2.Network([784, 30, 30, 10])
    got = D.gradient_norms(net, data)
    np.testing.assert_allclose(got, book_norms(ref, data)[:-1], rtol=1e-10, atol=0)
    assert got[0] < got[1]                    # the first hidden layer learns more slowly: the chapter's finding


def test_recorder_stores_the_norms_after_each_epoch():
    np.random.seed(6)
    net = network2.Network([6, 5, 5, 3])
    data = training_list(50, 6, 3, seed=7)
    recorder = D.GradientNormRecorder(list(data))
    for epoch in range(3):
        net.SGD(data, 1, 10, 0.5, lmbda=1.0)
        record = {"epoch": epoch}
        assert recorder(net, epoch, record) is None
        assert record["gradient_norms"] == D.gradient_norms(net, recorder.data) and len(record["gradient_norms"]) == 2
    recorder(net, 3, None)                    # no record to fill: still kept
    assert recorder.epochs == [0, 1, 2, 3] and len(recorder.norms) == 4
    assert recorder.norms[0] != recorder.norms[1] and recorder.norms[2] == recorder.norms[3]


def test_sgd_records_the_norms_into_its_history_through_on_epoch():
    """SGD(on_epoch=GradientNormRecorder(data), history=...) keeps chapter 5's speeds per epoch,
    equal to the norms of the network after each epoch (replayed from the same seeds)."""
    import random
    from nnfast.history import History
    data = training_list(60, 6, 3, seed=8)
    np.random.seed(9)
    net = network2.Network([6, 5, 5, 3])
    random.seed(10)
    recorder = D.GradientNormRecorder(list(data))
    history = History()
    net.SGD(list(data), 3, 10, 0.5, lmbda=1.0, on_epoch=recorder, history=history)
    epochs, recorded = history.column("gradient_norms")
    assert epochs == [0, 1, 2] and recorded == recorder.norms
    np.random.seed(9)
    replay = network2.Network([6, 5, 5, 3])
    random.seed(10)
    expected, train = [], list(data)
    for epoch in range(3):
        replay.SGD(train, 1, 10, 0.5, lmbda=1.0)   # same shuffles: each call reshuffles the list in place
        expected.append(D.gradient_norms(replay, data))
    np.testing.assert_allclose(recorded, expected, rtol=1e-12)


def test_chain_equals_backprop_of_a_network_of_single_neurons():
    weights, biases = [0.5, -1.2, 0.8, 1.1, -0.4], [0.1, 0.3, -0.5, 0.2, 0.9]
    chain = D.unstable_chain(weights, biases, x=0.7, y=0.2)
    np.random.seed(0)
    ref = R1.Network([1] * 6)
    ref.weights = [np.array([[w]]) for w in weights]
    ref.biases = [np.array([[b]]) for b in biases]
    nabla_b = ref.backprop(np.array([[0.7]]), np.array([[0.2]]))[0]
    np.testing.assert_allclose(chain.dC_db, [float(nb[0, 0]) for nb in nabla_b], rtol=1e-14)
    assert chain.dC_db[0] == pytest.approx(chain.product * chain.dC_da, rel=1e-14)
    assert "dC/db_1" in str(chain)


def test_chain_vanishes_with_small_weights_and_explodes_with_large_ones():
    rng = np.random.default_rng(8)
    n = 8
    weights = rng.uniform(-1, 1, n)
    chain = D.unstable_chain(weights, rng.normal(size=n), x=0.5, y=0.0)
    assert all(abs(t) < 0.25 for t in chain.terms) and abs(chain.product) < 0.25 ** n
    assert abs(chain.dC_db[0]) < abs(chain.dC_db[-1]) * 0.25 ** (n - 1)
    # w = 100 with biases that keep every z_j = 0: each w_j sigma'(z_j) = 100 / 4 = 25
    x = 0.3
    chain = D.unstable_chain([100.0] * n, [-100.0 * x] + [-50.0] * (n - 1), x=x, y=0.0)
    assert chain.terms == [0.25] + [25.0] * (n - 1)
    assert chain.product == pytest.approx(0.25 * 25.0 ** (n - 1), rel=1e-14)


def test_bad_arguments_name_themselves():
    np.random.seed(0)
    net = network2.Network([4, 3, 2])
    with pytest.raises(TypeError, match="net must be a network"):
        D.gradient_norms(object(), [(np.ones((4, 1)), np.ones((2, 1)))])
    with pytest.raises(ValueError, match="data is empty"):
        D.gradient_norms(net, [])
    with pytest.raises(ValueError, match="data"):
        D.gradient_norms(net, [(np.ones((5, 1)), np.ones((2, 1)))])
    with pytest.raises(ValueError, match="data is empty"):
        D.GradientNormRecorder(None)
    with pytest.raises(ValueError, match="same length"):
        D.unstable_chain([1.0, 2.0], [0.0], x=0.5)
    with pytest.raises(ValueError, match="weights contains NaN"):
        D.unstable_chain([1.0, np.nan], [0.0, 0.0], x=0.5)
    with pytest.raises(ValueError, match="biases must hold at least one"):
        D.unstable_chain([1.0], [], x=0.5)
    with pytest.raises(ValueError, match="x must be finite"):
        D.unstable_chain([1.0], [0.0], x=np.inf)
    with pytest.raises(TypeError, match="y must be a real"):
        D.unstable_chain([1.0], [0.0], x=0.5, y="one")
