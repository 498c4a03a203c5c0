"""The book's lists at no cost (issue 13, item 4): a list of (x, y) whose x are views of
the rows of one matrix, as load_data_wrapper() hands out, is trained on that matrix
through the list's order (no stacking of columns), and gives the same bits as the
ordinary path; a list that is not what it seems takes the ordinary path."""
import contextlib
import io
import random

import numpy as np
import pytest

from nnfast import _dense, _train, mnist_loader, network, network2, network3
from nnfast.network3 import FullyConnectedLayer, SoftmaxLayer

N_IN, N_OUT = 12, 4


def matrices(n=70, seed=0, dtype=np.float32):
    """A contiguous (n, N_IN) input matrix and its (n, N_OUT) one-hot matrix, as the loader makes them."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, N_IN)).astype(dtype)
    Y = np.zeros((n, N_OUT))
    Y[np.arange(n), rng.integers(0, N_OUT, n)] = 1.0
    return X, Y


def view_list(X, Y):
    """load_data_wrapper()'s layout: x_i = X[i].reshape(N_IN, 1), y_i = Y[i].reshape(N_OUT, 1), views."""
    return list(zip(X.reshape(len(X), N_IN, 1), Y.reshape(len(Y), N_OUT, 1)))


def copied(data):
    return [(np.array(x), y if isinstance(y, int) else np.array(y)) for x, y in data]


def train(kind, data, epochs=3, dtype=np.float64, test=None, **kw):
    np.random.seed(5)
    random.seed(5)
    with contextlib.redirect_stdout(io.StringIO()):
        if kind == "network":
            net = network.Network([N_IN, 8, N_OUT], dtype=dtype)
            net.SGD(data, epochs, 7, 2.0, test_data=test, progress=False, **kw)
        else:
            net = network2.Network([N_IN, 8, N_OUT], dtype=dtype)
            out = net.SGD(data, epochs, 7, 0.5, lmbda=0.1, evaluation_data=test, progress=False,
                          monitor_training_cost=True, monitor_training_accuracy=True,
                          monitor_evaluation_cost=test is not None, monitor_evaluation_accuracy=test is not None, **kw)
            net.monitors = out
    return net


def same_params(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def recognised(data, dtype=np.float64):
    """The training set SGD would use: rows is None (the matrix's order) or the row of each example."""
    return _dense._list_of_rows(data, N_IN, N_OUT, np.dtype(dtype))


@pytest.mark.parametrize("kind", ["network", "network2"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_view_list_trains_bit_identical_to_a_copied_list(kind, dtype):
    X, Y = matrices()
    views = view_list(X, Y)
    plain = copied(views)
    test = list(zip(X[:20].reshape(20, N_IN, 1), Y[:20].argmax(axis=1).tolist()))
    assert recognised(views, dtype) is not None and recognised(plain, dtype) is None
    a, b = train(kind, views, dtype=dtype, test=test), train(kind, plain, dtype=dtype, test=copied(test))
    assert same_params(a, b)
    if kind == "network2":
        assert a.monitors == b.monitors
    # both lists are left in the same (shuffled) order, as the book's random.shuffle leaves them
    assert all(np.array_equal(x, p) for (x, _), (p, _) in zip(views, plain))


@pytest.mark.parametrize("kind", ["network", "network2"])
def test_shuffled_view_list_trains_through_the_row_order(kind):
    X, Y = matrices()
    views = view_list(X, Y)
    random.Random(3).shuffle(views)
    found = recognised(views)
    assert found is not None and found.X.base is X and found.rows is not None
    assert np.array_equal(found.X[found.rows], np.concatenate([x.T for x, _ in views]))
    plain = copied(views)
    a, b = train(kind, views), train(kind, plain)
    assert same_params(a, b)
    if kind == "network2":      # the training monitors, over the examples in the list's order
        assert a.monitors == b.monitors


def test_second_sgd_call_on_the_shuffled_list_is_bit_identical():
    X, Y = matrices()
    views, plain = view_list(X, Y), copied(view_list(X, Y))
    a, b = train("network", views, epochs=2), train("network", plain, epochs=2)
    assert recognised(views).rows is not None          # SGD left it shuffled
    with contextlib.redirect_stdout(io.StringIO()):
        for net, data in ((a, views), (b, plain)):
            random.seed(9)
            net.SGD(data, 2, 5, 1.0, progress=False)
    assert same_params(a, b)


def test_dropout_stream_counts_the_examples_not_the_matrix_rows():
    """A list over part of a matrix (validation rows of the 60,000): the dropout masks follow
    the example count, as on the ordinary path."""
    X, Y = matrices(n=90)
    views = view_list(X, Y)[10:80:2]
    found = recognised(views)
    assert found is not None and len(found.X) == 69 and found.n == 35
    plain = copied(views)
    assert same_params(train("network2", views, p_dropout=0.3), train("network2", plain, p_dropout=0.3))


@pytest.mark.parametrize("spoil", ["fresh x", "other base", "duplicate row", "nan in range", "float64 rows for float32", "int label out of range", "a list"])
def test_a_list_that_is_not_what_it_seems_takes_the_ordinary_path(spoil):
    X, Y = matrices()
    views = view_list(X, Y)
    dtype = np.float64
    if spoil == "fresh x":
        views[17] = (views[17][0].copy(), views[17][1])
    elif spoil == "other base":
        X2, _ = matrices(seed=1)
        views[17] = (X2[17].reshape(N_IN, 1), views[17][1])
    elif spoil == "duplicate row":
        views[17] = views[18]
    elif spoil == "nan in range":
        X[30, 2] = np.nan
        views = views[:30] + views[31:]          # row 30 is not trained but lies between the others
    elif spoil == "float64 rows for float32":
        views, dtype = view_list(X.astype(np.float64), Y), np.float32
    elif spoil == "int label out of range":
        views = [(x, int(y.argmax())) for x, y in views]
        views[3] = (views[3][0], N_OUT)
    elif spoil == "a list":
        views[5] = [views[5][0], views[5][1]]
    assert recognised(views, dtype) is None
    if spoil == "int label out of range":
        with pytest.raises(ValueError, match="labels must be in"):
            train("network", views, dtype=dtype)
        return
    # the ordinary path trains it, as any list (copied, so no path can be taken by the views)
    plain = copied(views)
    assert same_params(train("network", views, dtype=dtype), train("network", plain, dtype=dtype))


def test_targets_are_read_as_values():
    """y need not be views: a fresh one-hot column, another example's label, float32 targets
    for a float64 net are read as the ordinary path reads them."""
    X, Y = matrices()
    views = view_list(X, Y)
    views[17] = (views[17][0], np.eye(N_OUT)[(views[17][1].argmax() + 1) % N_OUT].reshape(N_OUT, 1))
    views[18] = (views[18][0], views[40][1])
    plain = copied(views)
    assert recognised(views) is not None
    assert same_params(train("network", views), train("network", plain))
    views = [(x, y.astype(np.float32)) for x, y in view_list(X, Y)]
    plain = copied(views)
    assert recognised(views) is not None
    assert same_params(train("network2", views), train("network2", plain))


def test_rows_of_refuses_what_is_not_one_row_of_one_matrix():
    X, _ = matrices()
    rows = list(X.reshape(len(X), N_IN, 1))
    M, idx = _train.rows_of(rows[5:9], N_IN, (np.dtype(np.float32),))
    assert M.base is X and np.array_equal(idx, [0, 1, 2, 3]) and M.shape == (4, N_IN)
    flat = X.reshape(-1)
    assert _train.rows_of([flat[3:3 + N_IN]], N_IN, (np.dtype(np.float32),)) is None     # not on a row boundary
    assert _train.rows_of([X[2, ::2].reshape(-1, 1)], N_IN // 2, (np.dtype(np.float32),)) is None   # strided
    assert _train.rows_of(rows[:3], N_IN, (np.dtype(np.float64),)) is None                 # another dtype
    assert _train.rows_of(rows[:2] + [rows[0]], N_IN, (np.dtype(np.float32),)) is None     # a row twice
    M, idx = _train.rows_of(rows[:2] + [rows[0]], N_IN, (np.dtype(np.float32),), distinct=False)
    assert np.array_equal(idx, [0, 1, 0])
    X.setflags(write=False)                          # read-only memory: addresses found another way
    M, idx = _train.rows_of(rows[7:3:-1], N_IN, (np.dtype(np.float32),))
    assert np.array_equal(idx, [3, 2, 1, 0]) and np.array_equal(M[idx], X[7:3:-1])
    assert _train.rows_of([], N_IN, (np.dtype(np.float32),)) is None
    assert _train.rows_of([X], N_IN, (np.dtype(np.float32),)) is None                      # not a view
    sub = rows[0].view(np.recarray)
    assert _train.rows_of([sub], N_IN, (np.dtype(np.float32),)) is None                    # not a plain ndarray


def test_evaluation_lists_of_views_read_as_the_ordinary_path():
    X, Y = matrices()
    labels = Y.argmax(axis=1)
    views = list(zip(X.reshape(len(X), N_IN, 1), labels.tolist()))
    random.Random(1).shuffle(views)
    got = _dense.as_arrays(views, "data", N_IN, N_OUT, np.dtype(np.float64))
    want = _dense.as_arrays(copied(views), "data", N_IN, N_OUT, np.dtype(np.float64))
    assert all(np.array_equal(g, w) and g.dtype == w.dtype for g, w in zip(got[:2], want[:2]))


def test_checkpoint_of_a_view_list_resumes_on_a_copied_list(tmp_path):
    """The data's fingerprint is of the examples in the list's order, whichever path reads them."""
    X, Y = matrices()
    path = str(tmp_path / "run.npz")
    views = view_list(X, Y)
    plain = copied(views)
    whole = train("network", copied(views), epochs=4)
    train("network", views, epochs=2, checkpoint=path)
    resumed = train("network", plain, epochs=4, resume=path)
    assert same_params(whole, resumed)


def test_network3_reads_a_view_list_as_its_arrays():
    X, Y = matrices()
    views = view_list(X, Y)
    random.Random(2).shuffle(views)

    def run(data):
        np.random.seed(3)
        net = network3.Network([FullyConnectedLayer(N_IN, 8), SoftmaxLayer(8, N_OUT)], 10)
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(data, 2, 10, 0.1, progress=False)
        return [p.copy() for layer in net.layers for p in (layer.w, layer.b)]

    assert all(np.array_equal(a, b) for a, b in zip(run(views), run(copied(views))))


def test_load_data_wrapper_lists_are_views_of_one_matrix_each(mnist_dir):
    import os
    if not os.path.exists(os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")) and not any(
            f.startswith("train-images") for f in os.listdir(mnist_dir)):
        pytest.skip("real data not found: the MNIST training file is missing under %s" % mnist_dir)
    training, validation, test = mnist_loader.load_data_wrapper(mnist_dir)
    for data, n in ((training, 50000), (validation, 10000), (test, 10000)):
        found = _dense._list_of_rows(data, 784, 10, np.dtype(np.float64))
        assert found is not None and found.rows is None and found.n == n and found.X.dtype == np.float32
        assert found.X.flags.c_contiguous
    random.shuffle(training)
    found = _dense._list_of_rows(training, 784, 10, np.dtype(np.float32))
    assert found.rows is not None and sorted(found.rows.tolist()) == list(range(50000))
    assert np.array_equal(found.targets(), np.concatenate([y.T for _, y in training]).astype(np.float32))

