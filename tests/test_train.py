"""The training harness shared by network, network2 and network3: one rule per argument,
parameters as the book leaves them (new arrays; the user's assignments are what trains
next), and any iterable of (x, y) pairs as data."""
import contextlib
import io
import random
import warnings

import numpy as np
import pytest

from nnfast import network, network2, network3
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer


def toy(n=60, n_in=12, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def book_list(X, y, n_out=4):
    eye = np.eye(n_out)
    return [(x.reshape(-1, 1), eye[c].reshape(-1, 1)) for x, c in zip(X, y)]


def quiet(f, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*a, **kw)


def make(kind, seed=1):
    np.random.seed(seed)
    random.seed(seed)
    if kind == "network":
        return network.Network([12, 8, 4])
    if kind == "network2":
        return network2.Network([12, 8, 4])
    return network3.Network([FullyConnectedLayer(12, 8), SoftmaxLayer(8, 4)], 5)


def params(net):
    if hasattr(net, "layers"):
        return [p for layer in net.layers for p in (layer.w, layer.b)]
    return list(net.weights) + list(net.biases)


def sgd(net, data, epochs=2, **kw):
    if isinstance(net, network3.Network):
        return quiet(net.SGD, data, epochs, 5, 0.5, **kw)
    return quiet(net.SGD, data, epochs, 5, 0.5, **kw)


KINDS = ["network", "network2", "network3"]


# ---------------------------------------------------------------------------
# one rule per argument
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change,exc,match", [
    (dict(eta=0.0), ValueError, "eta must be > 0"),
    (dict(eta=-1.0), ValueError, "eta must be > 0"),
    (dict(eta=float("inf")), ValueError, "eta must be finite"),
    (dict(eta="0.5"), TypeError, "eta must be a real number"),
    (dict(epochs=-1), ValueError, "epochs must be >= 0"),
    (dict(epochs=1.5), TypeError, "epochs must be an integer"),
    (dict(mini_batch_size=0), ValueError, "mini_batch_size must be >= 1"),
    (dict(mini_batch_size=True), TypeError, "mini_batch_size must be an integer"),
])
def test_the_same_rule_in_every_network(kind, change, exc, match):
    X, y = toy()
    net = make(kind)
    before = [p.copy() for p in params(net)]
    args = dict(epochs=1, mini_batch_size=5, eta=0.5)
    args.update(change)
    with pytest.raises(exc, match=match):
        quiet(net.SGD, (X, y), args["epochs"], args["mini_batch_size"], args["eta"])
    for a, b in zip(before, params(net)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["network2", "network3"])
@pytest.mark.parametrize("lmbda,exc", [(-0.1, ValueError), (float("nan"), ValueError), ("1", TypeError)])
def test_lmbda_must_be_finite_and_not_negative(kind, lmbda, exc):
    X, y = toy()
    net = make(kind)
    with pytest.raises(exc, match="lmbda"):
        sgd(net, (X, y), 1, lmbda=lmbda)


@pytest.mark.parametrize("change,exc", [(dict(mu=1.0), ValueError), (dict(mu=-0.1), ValueError),
                                        (dict(mu="0"), TypeError), (dict(p_dropout=1.0), ValueError),
                                        (dict(p_dropout=None), TypeError)])
def test_network2_extras(change, exc):
    X, y = toy()
    with pytest.raises(exc, match=list(change)[0]):
        sgd(make("network2"), (X, y), 1, **change)


def test_predict_and_accuracy_refuse_mismatched_lengths():
    X, y = toy()
    net = make("network3")
    with pytest.raises(ValueError, match="match x"):
        net.accuracy(X, y[:1])
    ensemble = network3.Ensemble([net, make("network3", seed=2)])
    with pytest.raises(ValueError, match="Ensemble.accuracy: 60 inputs but 1 labels"):
        ensemble.accuracy(X, y[:1])
    assert 0 <= ensemble.accuracy(X, y) <= 1


# ---------------------------------------------------------------------------
# parameters: new arrays after training; the user's assignments train next
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_arrays_kept_from_before_training_keep_their_values(kind):
    X, y = toy()
    net = make(kind)
    kept = params(net)
    values = [p.copy() for p in kept]
    sgd(net, (X, y), 2)
    for k, v, new in zip(kept, values, params(net)):
        np.testing.assert_array_equal(k, v)                 # untouched, as the book leaves them
        assert new is not k and not np.array_equal(new, v)  # the trained values are in new arrays


@pytest.mark.parametrize("kind", ["network", "network2"])
def test_update_mini_batch_makes_new_arrays(kind):
    X, y = toy()
    net = make(kind)
    kept = params(net)
    values = [p.copy() for p in kept]
    batch = book_list(X[:5], y[:5])
    if kind == "network":
        net.update_mini_batch(batch, 0.5)
    else:
        net.update_mini_batch(batch, 0.5, 0.0, 60)
    for k, v, new in zip(kept, values, params(net)):
        np.testing.assert_array_equal(k, v)
        assert new is not k


def _halve(net):
    """What a user's on_epoch may do: reassign every parameter (weight decay by hand)."""
    if hasattr(net, "layers"):
        for layer in net.layers:
            layer.w = layer.w * 0.5
            layer.b = layer.b.copy()
    else:
        net.weights = [w * 0.5 for w in net.weights]


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_assigned_in_on_epoch_are_the_ones_trained(kind):
    X, y = toy()
    data = book_list(X, y)        # the book's list: left shuffled, so two calls are one run
    a = make(kind)
    sgd(a, list(data), 2, on_epoch=lambda net, j, record: _halve(net) if j == 0 else None)
    b = make(kind)                # the same run, the assignment made between two SGD calls
    data_b = list(data)
    sgd(b, data_b, 1)
    _halve(b)
    sgd(b, data_b, 1)
    for p, q in zip(params(a), params(b)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad,exc,match", [
    (lambda a: a.T, ValueError, r"expected shape \((\d+), (\d+)\), got \((\d+), (\d+)\)"),
    (lambda a: a.reshape(-1), ValueError, "expected shape"),
    (lambda a: a.astype(str), TypeError, "expected a real numeric array"),
    (lambda a: np.full_like(a, np.nan), ValueError, "NaN or infinity"),
])
def test_a_bad_assignment_is_refused_naming_the_array(kind, bad, exc, match):
    X, y = toy()
    net = make(kind)
    name = "net.layers[0].w" if kind == "network3" else "net.weights[0]"

    def assign(net, j, record):
        if hasattr(net, "layers"):
            net.layers[0].w = bad(net.layers[0].w)
        else:
            net.weights[0] = bad(net.weights[0])

    with pytest.raises(exc, match=match) as info:
        sgd(net, (X, y), 3, on_epoch=assign)
    assert str(info.value).startswith(name)
    if "got" in match and kind == "network":
        assert "expected shape (8, 12), got (12, 8)" in str(info.value)


# ---------------------------------------------------------------------------
# data: lists, tuples, zips, generators
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("wrap", [tuple, lambda d: zip(*zip(*d)), lambda d: (item for item in d)])
def test_any_iterable_of_pairs_trains_as_the_list(kind, wrap):
    X, y = toy()
    data = book_list(X, y)
    test = [(x, int(c)) for x, c in zip(X[:20], y[:20])]
    a, b = make(kind), make(kind)

    def kw(t):            # t() gives the test data afresh
        if kind == "network3":
            return dict(validation_data=t(), test_data=t())
        if kind == "network2":
            return dict(evaluation_data=t(), monitor_evaluation_accuracy=True)
        return dict(test_data=t())

    random.seed(3)
    out_a = sgd(a, list(data), 2, **kw(lambda: list(test)))
    random.seed(3)
    out_b = sgd(b, wrap(data), 2, **kw(lambda: wrap(test)))
    assert out_a == out_b
    for p, q in zip(params(a), params(b)):
        np.testing.assert_array_equal(p, q)


def test_a_list_is_left_shuffled_as_the_book_leaves_it_and_a_tuple_untouched():
    X, y = toy()
    data = book_list(X, y)
    listed, tupled = list(data), tuple(data)
    net = make("network")
    random.seed(4)
    sgd(net, listed, 2)
    random.seed(4)
    book = list(data)
    random.shuffle(book)
    random.shuffle(book)
    assert all(p is q for p, q in zip(listed, book))
    sgd(make("network"), tupled, 2)
    assert all(p is q for p, q in zip(tupled, data))


def _raising(data, at):
    for i, item in enumerate(data):
        if i == at:
            raise OSError("disk gone")
        yield item


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad,exc,match", [
    (lambda d: [x for x, _ in d], TypeError, r"training_data\[0\] must be an \(x, y\) pair"),
    (lambda d: [(x, y, 1) for x, y in d], TypeError, r"training_data\[0\] must be an \(x, y\) pair"),
    (lambda d: _raising(d, 7), ValueError, "training_data: reading item 7 raised OSError: disk gone"),
    (lambda d: 42, TypeError, "training_data must be a list"),
])
def test_bad_iterables_are_refused_before_training(kind, bad, exc, match):
    X, y = toy()
    net = make(kind)
    before = [p.copy() for p in params(net)]
    with pytest.raises(exc, match=match):
        sgd(net, bad(book_list(X, y)), 1)
    for a, b in zip(before, params(net)):
        np.testing.assert_array_equal(a, b)


def test_network3_accepts_the_books_list_with_one_hot_or_integer_labels():
    X, y = toy()
    a, b, c = make("network3"), make("network3"), make("network3")
    ra = sgd(a, (X, y), 2, validation_data=(X, y))
    rb = sgd(b, book_list(X, y), 2, validation_data=[(x, int(t)) for x, t in zip(X, y)])
    rc = sgd(c, [X, y], 2, validation_data=zip(X, y))
    assert ra == rb == rc
    for p, q, r in zip(params(a), params(b), params(c)):
        np.testing.assert_array_equal(p, q)
        np.testing.assert_array_equal(p, r)


# ---------------------------------------------------------------------------
# cost instances
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cost", [network2.QuadraticCost, network2.CrossEntropyCost, network2.LogLikelihoodCost])
def test_an_instance_of_a_built_in_cost_is_that_cost_natively(cost):
    X, y = toy()
    np.random.seed(1)
    a = network2.Network([12, 8, 4], cost=cost)
    np.random.seed(1)
    b = network2.Network([12, 8, 4], cost=cost())
    random.seed(1)
    out_a = sgd(a, (X, y), 2, lmbda=0.5, evaluation_data=(X, y), monitor_evaluation_cost=True)
    random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_b = sgd(b, (X, y), 2, lmbda=0.5, evaluation_data=(X, y), monitor_evaluation_cost=True)
    assert out_a == out_b
    for p, q in zip(params(a), params(b)):
        np.testing.assert_array_equal(p, q)


class MyCost(object):
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y)


def test_a_cost_of_ones_own_says_so_plainly():
    X, y = toy()
    np.random.seed(1)
    net = network2.Network([12, 8, 4], cost=MyCost())
    with pytest.warns(RuntimeWarning, match="MyCost is a class of your own.*numpy path"):
        sgd(net, (X, y), 1)


def test_params_conv_network_reassigned_in_on_epoch():
    """network3 with a convolution: the filters assigned in on_epoch are trained next."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 36)), rng.integers(0, 3, 40)

    def build():
        np.random.seed(0)
        return network3.Network([ConvPoolLayer((2, 1, 3, 3), (4, 1, 6, 6)), SoftmaxLayer(8, 3)], 4)

    def clip(net, j, record):
        net.layers[0].w = np.clip(net.layers[0].w, -0.1, 0.1)

    a = build()
    quiet(a.SGD, (X, y), 2, 4, 0.3, on_epoch=lambda net, j, record: clip(net, j, record) if j == 0 else None)
    b = build()
    quiet(b.SGD, (X, y), 1, 4, 0.3)
    clip(b, 0, None)
    quiet(b.SGD, (X, y), 1, 4, 0.3)
    for p, q in zip(params(a), params(b)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_leaves_kept_arrays_alone_and_ends_as_the_whole_run(kind, tmp_path):
    X, y = toy()
    whole = make(kind)
    sgd(whole, (X, y), 2)
    ckpt = str(tmp_path / "run.npz")
    first = make(kind)
    sgd(first, (X, y), 1, checkpoint=ckpt)
    resumed = make(kind)
    kept = params(resumed)
    values = [p.copy() for p in kept]
    sgd(resumed, (X, y), 2, resume=ckpt)
    for k, v in zip(kept, values):
        np.testing.assert_array_equal(k, v)
    for p, q in zip(params(whole), params(resumed)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_between_epochs_is_the_next_epochs_start(kind):
    X, y = toy()

    def stop(net, j, record):
        raise KeyboardInterrupt

    a = make(kind)
    with pytest.raises(KeyboardInterrupt):
        sgd(a, (X, y), 3, on_epoch=stop)
    assert a.last_interrupted_at == (1, 0)
    b = make(kind)
    sgd(b, (X, y), 1)
    for p, q in zip(params(a), params(b)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_within_an_epoch_leaves_whole_mini_batches(kind):
    X, y = toy(n=4000)           # the second native call ends within the first 400 examples
    seen = []

    def progress(done, n):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    net = make(kind)
    with pytest.raises(KeyboardInterrupt):
        sgd(net, (X, y), 2, progress=progress)
    assert net.last_interrupted_at == (0, seen[1]) and seen[1] % 5 == 0 and 0 < seen[1] <= 400
