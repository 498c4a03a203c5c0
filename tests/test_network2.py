"""nnfast.network2 against the book's algorithm (nnfast.reference.network2)."""
import contextlib
import io
import json
import os
import random
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import network2
from nnfast.reference import network2 as ref

from conftest import as_test_list, as_training_list


def _pair(sizes, seed=1, **kw):
    np.random.seed(seed)
    a = ref.Network(sizes, **_for(ref, kw))
    np.random.seed(seed)
    b = network2.Network(sizes, **_for(network2, kw))
    return a, b


def _for(mod, kw):
    """Cost names -> the module's classes (they are the same objects, but say so through each module)."""
    kw = dict(kw)
    if isinstance(kw.get("cost"), str):
        kw["cost"] = getattr(mod, kw["cost"])
    return kw


def _run(net, *args, np_seed=12345, **kw):
    """SGD with its output captured; np.random is seeded first (the dropout seed is drawn
    from it), so two networks built one after the other get the same masks."""
    if np_seed is not None:
        np.random.seed(np_seed)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = net.SGD(*args, **kw)
    return out.getvalue(), result


def _params(net):
    return net.weights + net.biases


def _maxdiff(xs, ys):
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(xs, ys))


def _same_lines(out_ref, out_fast, rtol=1e-9):
    """Identical printed lines, except that costs agree to ``rtol``."""
    la, lb = out_ref.split("\n"), out_fast.split("\n")
    assert len(la) == len(lb), (out_ref, out_fast)
    for p, q in zip(la, lb):
        if p.startswith("Cost on "):
            head_p, val_p = p.rsplit(": ", 1)
            head_q, val_q = q.rsplit(": ", 1)
            assert head_p == head_q
            assert float(val_q) == pytest.approx(float(val_p), rel=rtol, abs=0)
        else:
            assert p == q


def _same_results(ra, rb, rtol=1e-9):
    ev_cost_a, ev_acc_a, tr_cost_a, tr_acc_a = ra
    ev_cost_b, ev_acc_b, tr_cost_b, tr_acc_b = rb
    assert ev_acc_a == ev_acc_b and tr_acc_a == tr_acc_b
    assert all(type(v) is int for v in ev_acc_b + tr_acc_b)
    for ca, cb in ((ev_cost_a, ev_cost_b), (tr_cost_a, tr_cost_b)):
        assert len(ca) == len(cb)
        np.testing.assert_allclose(cb, ca, rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def real(mnist_test_arrays):
    """1,000 training images (book's training format) and 300 evaluation images (test format)."""
    X, y = mnist_test_arrays
    return as_training_list(X[:1000], y[:1000]), as_test_list(X[5000:5300], y[5000:5300])


ALL_FLAGS = dict(monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                 monitor_training_cost=True, monitor_training_accuracy=True)

# (network options, SGD options, eta); mini-batch 7 leaves a short last one of 1000 % 7 = 6
CASES = [
    ({"cost": "QuadraticCost"}, {}, 0.5),
    ({"cost": "QuadraticCost"}, {"lmbda": 5.0}, 0.5),
    ({"cost": "CrossEntropyCost"}, {}, 0.5),
    ({"cost": "CrossEntropyCost"}, {"lmbda": 5.0}, 0.5),
    ({"cost": "LogLikelihoodCost"}, {}, 0.5),
    ({"cost": "LogLikelihoodCost"}, {"lmbda": 5.0}, 0.5),
    ({"cost": "CrossEntropyCost"}, {"lmbda": 5.0, "regularization": "L1"}, 0.5),
    ({"cost": "QuadraticCost"}, {"lmbda": 2.0, "regularization": "L1"}, 0.5),
    ({"cost": "LogLikelihoodCost"}, {"lmbda": 5.0, "regularization": "L1"}, 0.5),
    ({"initializer": "large"}, {"lmbda": 1.0}, 0.5),
    ({"initializer": "he", "activation": "relu"}, {"lmbda": 1.0}, 0.1),
    # tanh at eta 0.5 with cross-entropy is chaotic: rounding differences (1e-16) grow
    # tenfold every few mini-batches in the reference itself, so it runs at eta 0.1
    ({"activation": "tanh"}, {"lmbda": 1.0}, 0.1),
    ({"activation": "tanh", "cost": "LogLikelihoodCost"}, {"lmbda": 1.0}, 0.1),
    ({"activation": "relu"}, {"lmbda": 1.0}, 0.5),
    ({}, {"lmbda": 1.0, "mu": 0.5}, 0.5),
    ({"cost": "LogLikelihoodCost"}, {"lmbda": 2.0, "mu": 0.3, "regularization": "L1"}, 0.5),
    ({}, {"lmbda": 1.0, "p_dropout": 0.3}, 0.5),
    ({"activation": "relu", "cost": "LogLikelihoodCost"},
     {"lmbda": 2.0, "p_dropout": 0.2, "mu": 0.3, "regularization": "L1"}, 0.1),
]


@pytest.mark.parametrize("netkw,sgdkw,eta", CASES, ids=lambda v: repr(v).replace(" ", ""))
def test_two_epochs_on_real_mnist_match_the_reference(real, netkw, sgdkw, eta):
    train, evaluation = real
    a, b = _pair([784, 30, 10], seed=3, **netkw)
    d1, d2 = list(train), list(train)
    random.seed(11)
    out_ref, res_ref = _run(a, d1, 2, 7, eta, evaluation_data=evaluation, **ALL_FLAGS, **sgdkw)
    random.seed(11)
    out_fast, res_fast = _run(b, d2, 2, 7, eta, evaluation_data=evaluation, **ALL_FLAGS, **sgdkw)
    assert _maxdiff(a.weights, b.weights) < 1e-9
    assert _maxdiff(a.biases, b.biases) < 1e-9
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)
    assert all(p is q for p, q in zip(d1, d2))        # the list is left shuffled as the book leaves it
    assert b.p_dropout == a.p_dropout and b.regularization == a.regularization
    if sgdkw.get("mu"):                                # the final velocities, as the reference keeps them
        assert _maxdiff(a._velocity_w + a._velocity_b, b._velocity_w + b._velocity_b) < 1e-9


def test_two_hidden_layers_with_dropout_and_momentum(real):
    """Masks on both hidden layers (streams 1 and 2), a short last batch of 1000 % 9 = 1."""
    train, evaluation = real
    a, b = _pair([784, 20, 15, 10], seed=4, cost="LogLikelihoodCost")
    kw = dict(evaluation_data=evaluation, lmbda=1.0, p_dropout=0.25, mu=0.4, **ALL_FLAGS)
    random.seed(5)
    out_ref, res_ref = _run(a, list(train), 2, 9, 0.3, **kw)
    random.seed(5)
    out_fast, res_fast = _run(b, list(train), 2, 9, 0.3, **kw)
    assert _maxdiff(_params(a), _params(b)) < 1e-9
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)


def test_dropout_draws_the_seed_as_the_reference():
    """One draw from np.random per SGD call with dropout, none without."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 6)), rng.integers(0, 3, 40)
    for p, draws in ((0.0, 0), (0.5, 1)):
        np.random.seed(7)
        net = network2.Network([6, 5, 3])
        random.seed(1)
        _run(net, (X, y), 1, 10, 0.5, p_dropout=p, np_seed=None)
        after = np.random.randint(1 << 30)
        np.random.seed(7)
        network2.Network([6, 5, 3])
        for _ in range(draws):
            np.random.randint(0, 2 ** 62, dtype=np.int64)
        assert after == np.random.randint(1 << 30)


def test_defaults_are_the_books_lines_and_lists(real):
    """Book call, positional arguments, no extra options: the book's exact lines."""
    train, evaluation = real
    a, b = _pair([784, 10], seed=0)
    random.seed(2)
    out_ref, res_ref = _run(a, list(train[:400]), 1, 10, 0.5, 0.0, evaluation[:100], True, True, True, True)
    random.seed(2)
    out_fast, res_fast = _run(b, list(train[:400]), 1, 10, 0.5, 0.0, evaluation[:100], True, True, True, True)
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)
    lines = out_fast.split("\n")
    assert lines[0] == "Epoch 0 training complete"
    assert [l.split(":")[0] for l in lines[1:5]] == ["Cost on training data", "Accuracy on training data",
                                                    "Cost on evaluation data", "Accuracy on evaluation data"]
    assert lines[2].endswith(" / 400") and lines[4].endswith(" / 100") and lines[5:] == ["", ""]
    assert _run(b, list(train[:50]), 2, 10, 0.5) == ("Epoch 0 training complete\n\nEpoch 1 training complete\n\n",
                                                     ([], [], [], []))


@pytest.mark.parametrize("sched", [
    dict(schedule_patience=1, schedule_factor=2.0, schedule_stop=8.0),
    dict(schedule_patience=2, schedule_factor=3.0, schedule_stop=9.0, monitor_evaluation_accuracy=True),
    dict(early_stopping_n=2),
    dict(early_stopping_n=3, schedule_patience=1, schedule_stop=1000.0, monitor_evaluation_accuracy=True),
])
def test_schedule_and_early_stopping_match_the_reference(real, sched):
    train, evaluation = real
    a, b = _pair([784, 20, 10], seed=6)
    random.seed(3)
    out_ref, res_ref = _run(a, list(train[:300]), 25, 10, 2.0, evaluation_data=evaluation[:100], **sched)
    random.seed(3)
    # one thread: results do not depend on it (tested above), and a tiny net's many
    # mini-batch barriers are slow with two threads on a loaded machine
    with nnfast.num_threads(1):
        out_fast, res_fast = _run(b, list(train[:300]), 25, 10, 2.0, evaluation_data=evaluation[:100], **sched)
    assert out_fast == out_ref
    assert res_fast == res_ref
    # (no 1e-9 on the weights here: 25 epochs at eta 2.0 amplify rounding differences
    # of the reference itself; the eta sequence and the accuracies are what is checked)
    epochs_run = out_ref.count("training complete")
    assert epochs_run < 25                               # it did stop early
    if "schedule_patience" in sched:
        assert "Learning rate reduced to" in out_ref


def test_results_do_not_depend_on_thread_count(real):
    train, evaluation = real
    runs = []
    for t in (1, 2):
        np.random.seed(5)
        net = network2.Network([784, 30, 10], activation="relu")
        random.seed(6)
        with nnfast.num_threads(t):
            out, res = _run(net, list(train), 2, 10, 0.1, lmbda=1.0, evaluation_data=evaluation,
                            p_dropout=0.2, mu=0.5, **ALL_FLAGS)
        runs.append((out, res, _params(net)))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    for p, q in zip(runs[0][2], runs[1][2]):
        assert np.array_equal(p, q)


def test_array_pairs_train_like_lists(real, mnist_test_arrays):
    X, y = mnist_test_arrays
    train, _ = real
    results = []
    for data, ev in ((list(train[:500]), as_test_list(X[5000:5100], y[5000:5100])),
                     ((X[:500], y[:500]), (X[5000:5100], y[5000:5100])),
                     ((X[:500], np.eye(10)[y[:500]]), (X[5000:5100], np.eye(10)[y[5000:5100]])),
                     (zip(*zip(*train[:500])), iter(as_test_list(X[5000:5100], y[5000:5100])))):
        np.random.seed(0)
        net = network2.Network([784, 16, 10])
        random.seed(4)
        out, res = _run(net, data, 2, 10, 0.5, lmbda=1.0, evaluation_data=ev, **ALL_FLAGS)
        results.append((out, res, _params(net)))
    for other in results[1:]:
        assert other[0] == results[0][0] and other[1] == results[0][1]
        assert _maxdiff(results[0][2], other[2]) == 0.0


def test_float32_network_trains(mnist_test_arrays):
    X, y = mnist_test_arrays
    np.random.seed(0)
    net = network2.Network([784, 30, 10], dtype=np.float32)
    assert all(p.dtype == np.float32 for p in _params(net))
    random.seed(0)
    out, (ec, ea, tc, ta) = _run(net, (X[:6000], y[:6000]), 2, 10, 0.5, lmbda=1.0,
                                 evaluation_data=(X[8000:], y[8000:]), monitor_evaluation_accuracy=True,
                                 monitor_training_cost=True)
    assert all(p.dtype == np.float32 for p in _params(net))
    assert ea[-1] > 0.85 * 2000 and tc[1] < tc[0]


# ------------------------------------------------------------ reader-facing methods

def test_accuracy_total_cost_feedforward_backprop_match_the_reference(real):
    train, evaluation = real
    for netkw in ({}, {"cost": "QuadraticCost", "activation": "tanh"},
                  {"cost": "LogLikelihoodCost", "activation": "relu"}):
        a, b = _pair([784, 20, 10], seed=2, **netkw)
        for net in (a, b):
            net.p_dropout = 0.3                       # the evaluation path's (1 - p) scaling
            net.regularization = "L1" if netkw else "L2"
        assert b.accuracy(train, convert=True) == a.accuracy(train, convert=True)
        assert b.accuracy(evaluation) == a.accuracy(evaluation)
        assert b.total_cost(train, 3.0) == pytest.approx(a.total_cost(train, 3.0), rel=1e-12)
        assert b.total_cost(evaluation, 3.0, convert=True) == pytest.approx(
            a.total_cost(evaluation, 3.0, convert=True), rel=1e-12)
        x, t = train[0]
        np.testing.assert_allclose(b.feedforward(x), a.feedforward(x), rtol=1e-14)
        for p, q in zip(*(net.backprop(x, t)[0] + net.backprop(x, t)[1] for net in (a, b))):
            np.testing.assert_allclose(q, p, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("kw", [dict(), dict(lmbda=2.0, regularization="L1"), dict(mu=0.5), dict(masks=True),
                                dict(p_dropout=0.4)])
def test_update_mini_batch_matches_the_reference(real, kw):
    train, _ = real
    kw = dict(kw)
    a, b = _pair([784, 12, 10], seed=9, cost="LogLikelihoodCost", activation="tanh")
    lmbda = kw.pop("lmbda", 0.5)
    if kw.pop("masks", False):
        rng = np.random.default_rng(1)
        kw["masks"] = [[(rng.random((12, 1)) > 0.3).astype(float)] for _ in range(8)]
    p = kw.pop("p_dropout", 0.0)
    a.p_dropout = b.p_dropout = p
    for k in range(3):                                  # with mu, velocities carry over between calls
        batch = train[8 * k:8 * k + 8]
        a.update_mini_batch(batch, 0.4, lmbda, 1000, **kw)
        b.update_mini_batch(batch, 0.4, lmbda, 1000, **kw)
    assert _maxdiff(_params(a), _params(b)) < 1e-13


# ------------------------------------------------------------------ custom cost

class _ScaledQuadratic(object):
    """A reader's own cost: 0.75*||a - y||^2 (what the native path does not know)."""

    @staticmethod
    def fn(a, y):
        return 0.75 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return 1.5 * (a - y) * ref.sigmoid_prime(z)


class _WeightedLL(ref.LogLikelihoodCost):
    """A subclass of a built-in that changes it: softmax output, scaled delta."""

    @staticmethod
    def fn(a, y):
        return 2.0 * ref.LogLikelihoodCost.fn(a, y)

    @staticmethod
    def delta(z, a, y):
        return 2.0 * (a - y)


@pytest.mark.parametrize("cost,sgdkw", [(_ScaledQuadratic, dict(lmbda=1.0)),
                                        (_WeightedLL, dict(lmbda=1.0, mu=0.3, p_dropout=0.2,
                                                           regularization="L1"))])
def test_custom_cost_runs_on_the_numpy_path_like_the_reference(real, cost, sgdkw):
    train, evaluation = real
    a, b = _pair([784, 20, 10], seed=8, cost=cost, activation="relu")
    random.seed(9)
    out_ref, res_ref = _run(a, list(train[:400]), 2, 7, 0.1, evaluation_data=evaluation[:100],
                            **ALL_FLAGS, **sgdkw)
    random.seed(9)
    with pytest.warns(RuntimeWarning, match="built-in"):
        out_fast, res_fast = _run(b, list(train[:400]), 2, 7, 0.1, evaluation_data=evaluation[:100],
                                  **ALL_FLAGS, **sgdkw)
    assert _maxdiff(_params(a), _params(b)) < 1e-9
    _same_lines(out_ref, out_fast)
    _same_results(res_ref, res_fast)
    with warnings.catch_warnings():                       # the notice comes once
        warnings.simplefilter("error")
        _run(b, list(train[:20]), 1, 7, 0.1)
        b.update_mini_batch(train[:5], 0.1, 0.0, 1000)


# ------------------------------------------------------------------ bad input

BAD = [
    (dict(lmbda=-1.0), "lmbda"),
    (dict(lmbda=float("nan")), "lmbda"),
    (dict(lmbda=float("inf")), "lmbda"),
    (dict(lmbda="5"), "lmbda"),
    (dict(epochs=-1), "epochs"),
    (dict(mini_batch_size=0), "mini_batch_size"),
    (dict(eta=float("nan")), "eta"),
    (dict(mu=1.0), "mu"),
    (dict(p_dropout=1.0), "p_dropout"),
    (dict(regularization="L3"), "regularization"),
    (dict(monitor_evaluation_cost=True), "monitor_evaluation_cost needs evaluation_data"),
    (dict(monitor_evaluation_accuracy=True, evaluation_data=[]), "monitor_evaluation_accuracy needs"),
    (dict(early_stopping_n=2), "early_stopping_n needs"),
    (dict(schedule_patience=2), "schedule_patience needs"),
    (dict(evaluation_data=[(np.zeros((5, 1)), 0)], monitor_evaluation_accuracy=True), "evaluation_data"),
    (dict(evaluation_data=(np.zeros((3, 5)), np.zeros(3, int)), monitor_evaluation_cost=True), "evaluation_data"),
    (dict(evaluation_data=[(np.zeros((4, 1)), 7)], monitor_evaluation_accuracy=True), "evaluation_data"),
    (dict(evaluation_data=[(np.zeros((4, 1)), np.zeros((3, 1)))], monitor_evaluation_cost=True),
     "evaluation_data"),
    (dict(training_data=[(np.zeros((4, 1)), np.zeros((3, 1)))]), "training_data"),
]


@pytest.mark.parametrize("change,match", BAD)
def test_bad_arguments_are_refused_before_training(change, match):
    np.random.seed(0)
    net = network2.Network([4, 3, 2])
    before = [p.copy() for p in _params(net)]
    train = [(np.full((4, 1), 0.1 * i), np.array([[1.0], [0.0]])) for i in range(5)]
    train_before = list(train)
    args = dict(training_data=train, epochs=1, mini_batch_size=2, eta=1.0, lmbda=0.0)
    args.update(change)
    state = np.random.get_state()[1].copy()
    with pytest.raises((ValueError, TypeError), match=match):
        _run(net, np_seed=None, **args)
    assert all(np.array_equal(p, q) for p, q in zip(before, _params(net)))
    assert all(p is q for p, q in zip(train, train_before))          # not shuffled either
    assert np.array_equal(np.random.get_state()[1], state)            # no seed drawn
    assert net.p_dropout == 0.0 and net.regularization == "L2"


def test_bad_options_in_the_constructor():
    with pytest.raises(ValueError, match="activation"):
        network2.Network([4, 2], activation="softplus")
    with pytest.raises(ValueError, match="initializer"):
        network2.Network([4, 2], initializer="xavier")
    with pytest.raises(TypeError, match="dtype"):
        network2.Network([4, 2], dtype=np.int32)


# ------------------------------------------------------------------ save / load

def test_save_is_the_books_format_and_both_loaders_read_it(tmp_path):
    np.random.seed(0)
    net = network2.Network([784, 30, 10])
    f = str(tmp_path / "net.json")
    net.save(f)
    data = json.load(open(f))
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "CrossEntropyCost"
    assert os.listdir(str(tmp_path)) == ["net.json"]
    for mod in (network2, ref):                # each module's own cost classes: they share nothing
        back = mod.load(f)
        assert back.cost is mod.CrossEntropyCost and back.sizes == [784, 30, 10]
        assert all(np.array_equal(p, q) for p, q in zip(_params(net), _params(back)))
    assert type(network2.load(f)) is network2.Network


def test_save_load_roundtrip_with_options_and_training_after(tmp_path, real):
    train, evaluation = real
    np.random.seed(1)
    net = network2.Network([784, 20, 10], cost=network2.LogLikelihoodCost, activation="relu")
    random.seed(1)
    _run(net, list(train[:200]), 1, 10, 0.1, lmbda=1.0, p_dropout=0.25, regularization="L1")
    f = str(tmp_path / "net.json")
    net.save(f)
    data = json.load(open(f))
    assert data["activation"] == "relu" and data["p_dropout"] == 0.25 and data["regularization"] == "L1"
    fast, slow = network2.load(f), ref.load(f)
    for back, mod in ((fast, network2), (slow, ref)):
        assert back.cost is mod.LogLikelihoodCost and back.activation == "relu"
        assert back.p_dropout == 0.25 and back.regularization == "L1"
        assert all(np.array_equal(p, q) for p, q in zip(_params(net), _params(back)))
    assert fast.accuracy(evaluation) == slow.accuracy(evaluation) == net.accuracy(evaluation)
    assert fast.total_cost(evaluation, 1.0, convert=True) == pytest.approx(
        slow.total_cost(evaluation, 1.0, convert=True), rel=1e-12)
    random.seed(2)
    _run(fast, list(train[:200]), 1, 10, 0.1, lmbda=1.0, regularization="L1")
    random.seed(2)
    _run(slow, list(train[:200]), 1, 10, 0.1, lmbda=1.0, regularization="L1")
    assert _maxdiff(_params(fast), _params(slow)) < 1e-12


def test_reference_written_and_hand_written_files_load(tmp_path):
    np.random.seed(3)
    a = ref.Network([5, 4, 3], cost=ref.QuadraticCost, activation="tanh")
    f = str(tmp_path / "ref.json")
    a.save(f)
    b = network2.load(f)
    assert b.cost is network2.QuadraticCost and b.activation == "tanh"
    assert all(np.array_equal(p, q) for p, q in zip(_params(a), _params(b)))
    text = ('{"sizes": [2, 3, 2], "weights": [[[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], '
            '[[1, 2, 3], [-1.5, 0.5, 2.5]]], "biases": [[[0.1], [0.2], [0.3]], [[-1], [1]]], '
            '"cost": "QuadraticCost"}')
    g = tmp_path / "book.json"
    g.write_text(text)
    net = network2.load(str(g))
    x = np.array([[1.0], [2.0]])
    assert np.array_equal(net.feedforward(x), ref.load(str(g)).feedforward(x))
    assert net.accuracy([(x, 0)]) == ref.load(str(g)).accuracy([(x, 0)])


@pytest.mark.parametrize("change", [{"cost": "Network"}, {"cost": "_ScaledQuadratic"}, {"activation": "eval"},
                                    {"weights": [[[0.5, -0.5, 1.0]]]}, {"weights": [[[0.5, "1"]]]},
                                    {"sizes": None}])
def test_load_rejects_bad_files(tmp_path, change):
    data = {"sizes": [2, 1], "weights": [[[0.5, -0.5]]], "biases": [[[0.0]]], "cost": "CrossEntropyCost"}
    for k, v in change.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ValueError):
        network2.load(str(f))


def test_module_names_of_the_book():
    for name in ("QuadraticCost", "CrossEntropyCost", "Network", "load", "vectorized_result",
                 "sigmoid", "sigmoid_prime"):
        assert hasattr(network2, name)
    assert np.array_equal(network2.vectorized_result(3), ref.vectorized_result(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert network2.sigmoid(np.array([-1000.0]))[0] == 0.0
