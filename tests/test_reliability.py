"""Reliability: divergence, numerics, Ctrl-C, threads, fork, memory (issue 7).

Training that meets an infinity or NaN raises nnfast.TrainingDiverged naming
the epoch and mini-batch; saturated units and log(0) give finite values with
no warnings; SIGINT mid-epoch leaves the weights as after a whole number of
mini-batches; training releases the GIL and gives the same numbers from two
Python threads at once; a forked worker trains after the parent did.
"""
import contextlib
import io
import random
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import TrainingDiverged, network, network2, network3
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer

from conftest import child_env


def toy(n=200, n_in=20, n_out=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)) * scale, rng.integers(0, n_out, n)


def params(net):
    return [np.array(a) for a in net.weights + net.biases]


# ---------------------------------------------------------------------------
# divergence: a clear error, finite weights, no warnings
# ---------------------------------------------------------------------------

COSTS = [network2.QuadraticCost, network2.CrossEntropyCost, network2.LogLikelihoodCost]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_network2_huge_eta_raises_training_diverged(activation, cost, mu):
    X, y = toy(scale=10)
    np.random.seed(1)
    random.seed(1)
    net = network2.Network([20, 15, 5], cost=cost, activation=activation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match=r"epoch 0, mini-batch \d+") as info:
            net.SGD((X, y), 3, 10, 1e308, mu=mu)
    assert info.value.epoch == 0 and info.value.mini_batch >= 0
    if "as before that mini-batch" in str(info.value):
        assert all(np.isfinite(a).all() for a in params(net))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_network_huge_eta_stops_before_the_update(dtype):
    X, y = toy(scale=10)
    np.random.seed(2)
    random.seed(2)
    net = network.Network([20, 15, 5], dtype=dtype)
    eta = 1e308 if dtype == np.float64 else 1e38
    with pytest.raises(TrainingDiverged) as info:
        net.SGD((X, y), 2, 10, eta)
    assert info.value.epoch == 0
    # the network keeps working: it evaluates, and trains on from fresh weights
    assert 0 <= net.evaluate((X, y)) <= len(X)
    net.weights = [np.zeros_like(w) for w in net.weights]
    net.SGD((X, y), 1, 10, 0.1)
    assert all(np.isfinite(a).all() for a in params(net))


def test_weights_as_after_the_mini_batch_before_divergence():
    """Replay with the reference: the weights equal the reference's after mini_batch steps."""
    from nnfast.reference import network as ref
    X, y = toy(n=100, scale=10)
    Y = np.eye(5)[y]
    np.random.seed(3)
    net = network.Network([20, 6, 5])
    start = params(net)
    random.seed(5)
    with pytest.raises(TrainingDiverged) as info:
        net.SGD((X, y), 1, 10, 1e308)
    k = info.value.mini_batch
    assert k >= 1
    assert "as before that mini-batch" in str(info.value)
    random.seed(5)
    idx = list(range(100))
    random.shuffle(idx)
    r = ref.Network([20, 6, 5])
    r.biases, r.weights = [a.copy() for a in start[2:]], [a.copy() for a in start[:2]]
    for m in range(k):
        rows = idx[m * 10:(m + 1) * 10]
        with np.errstate(all="ignore"):
            r.update_mini_batch([(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in rows], 1e308)
    for a, b in zip(params(net), r.weights + r.biases):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)


def test_network3_huge_eta_restores_parameters():
    rng = np.random.default_rng(0)
    X = rng.random((400, 64)).astype(np.float32)
    y = rng.integers(0, 5, 400)
    np.random.seed(0)
    net = network3.Network([ConvPoolLayer((4, 1, 3, 3), (10, 1, 8, 8)),
                            FullyConnectedLayer(4 * 3 * 3, 20, activation_fn=ReLU), SoftmaxLayer(20, 5)], 10)
    before = [p.copy() for p in net.params]
    with pytest.raises(TrainingDiverged, match="epoch 0") as info:
        net.SGD((X, y), 2, 10, 1e30, (X, y))
    assert info.value.mini_batch == 0
    for p, b in zip(net.params, before):
        np.testing.assert_array_equal(p, b)
    assert 0 <= net.accuracy(X, y) <= 1


# ---------------------------------------------------------------------------
# numerics: saturation and log(0) give finite values without warnings
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("x", [1e30, -1e30, 1e-300, 0.0, 50.0])
def test_network2_saturated_costs_are_finite_and_quiet(activation, cost, x):
    np.random.seed(0)
    net = network2.Network([4, 3, 2], cost=cost, activation=activation)
    net.weights = [w * 1e5 for w in net.weights]
    col = np.full((4, 1), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c_train = net.total_cost([(col, np.array([[0.0], [1.0]]))], 0.1)
        c_eval = net.total_cost([(col, 0)], 0.1, convert=True)
        acc = net.accuracy([(col, 1)])
        out = net.feedforward(col)
    assert np.isfinite(c_train) and np.isfinite(c_eval) and acc in (0, 1)
    if activation != "relu" or abs(x) < 1e20:
        assert np.isfinite(out).all()


def test_network_saturated_sigmoid_is_quiet():
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    net.weights = [w * 1e5 for w in net.weights]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (1e300, -1e300, 0.0):
            assert np.isfinite(net.feedforward(np.full((4, 1), x))).all()
            assert net.evaluate([(np.full((4, 1), x), 1)]) in (0, 1)


@pytest.mark.parametrize("act", [network3.sigmoid, network3.tanh, network3.ReLU, network3.linear])
def test_network3_softmax_overflow_is_finite(act):
    np.random.seed(0)
    net = network3.Network([FullyConnectedLayer(4, 3, activation_fn=act), SoftmaxLayer(3, 2)], 1)
    net.layers[0].w *= 1e5
    net.layers[1].w += 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = net.feedforward(np.full((1, 4), 1e10, dtype=np.float32))
    assert np.isfinite(out).all()


@pytest.mark.parametrize("make", [lambda: network.Network([4, 2], dtype=np.float32),
                                  lambda: network2.Network([4, 2], dtype=np.float32)])
def test_inputs_beyond_float32_are_rejected_clearly(make):
    net = make()
    X = np.full((3, 4), 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="beyond the range of float32"):
            net.SGD((X, np.zeros(3, dtype=int)), 1, 1, 0.1)


# ---------------------------------------------------------------------------
# Ctrl-C: SIGINT mid-run leaves the weights as after whole mini-batches
# ---------------------------------------------------------------------------

CHILD_PRELUDE = """
import contextlib, io, random, sys
import numpy as np
from nnfast import network, network2

def data(n=4000, n_in=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, 10, n)

def make(kind):
    np.random.seed(1)
    random.seed(2)
    if kind == "network":
        return network.Network([64, 40, 10])
    return network2.Network([64, 40, 10])
"""

INTERRUPT_CHILD = CHILD_PRELUDE + """
kind, out = sys.argv[1], sys.argv[2]
X, y = data()
net = make(kind)
if kind == "network":
    eye = np.eye(10)
    items = [(X[i].reshape(-1, 1), eye[y[i]].reshape(-1, 1)) for i in range(len(y))]
    ids = {id(t): i for i, t in enumerate(items)}
    train = lambda: net.SGD(items, 100000, 10, 0.5)
else:
    train = lambda: net.SGD((X, y), 100000, 10, 0.5, lmbda=1.0, mu=0.5)
print("ready", flush=True)
try:
    with contextlib.redirect_stdout(io.StringIO()):
        train()
except KeyboardInterrupt:
    pass
else:
    sys.exit("not interrupted")
saved = {"where": np.array(net.last_interrupted_at)}
for i, a in enumerate(net.weights + net.biases):
    saved["p%d" % i] = a.copy()
if kind == "network":
    saved["perm"] = np.array([ids[id(t)] for t in items])
else:
    for i, v in enumerate(net._velocity_w + net._velocity_b):
        saved["v%d" % i] = v
# the network keeps working afterwards
with contextlib.redirect_stdout(io.StringIO()):
    net.SGD((X, y), 1, 10, 0.5)
assert all(np.isfinite(a).all() for a in net.weights)
np.savez(out, **saved)
print("saved", flush=True)
"""


# A child inherits an ignored SIGINT from a test runner started in the background (nohup,
# a CI job) and would then train on until the timeout: it restores Python's Ctrl-C first.
RESTORE_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def run_child(script, args, signal_after=None, sig=signal.SIGINT, timeout=120):
    env = child_env()
    proc = subprocess.Popen([sys.executable, "-c", RESTORE_SIGINT + script] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        if signal_after is not None:
            assert proc.stdout.readline().strip() == "ready"
            threading.Event().wait(signal_after)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def replay(kind, epoch, done):
    """The same run, stopped after `done` examples of epoch `epoch`: (params, velocities, order)."""
    from nnfast import _dense, _train
    ns = {}
    exec(CHILD_PRELUDE, ns)
    X, y = ns["data"]()
    net = ns["make"](kind)
    Y = np.eye(10)[y]
    n = len(y)
    params = _train.dense_params(net)
    params.load()
    if kind == "network":
        engine = _dense.Engine(net, params, X, Y, 0.5, (_dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC), 10)
    else:
        engine = _dense.Engine(net, params, X, Y, 0.5, (_dense.SIGMOID, _dense.SIGMOID, _dense.CROSS_ENTROPY), 10,
                               momentum=True, lmbda_over_n=1.0 / n, reg=_dense.REG_L2, mu=0.5, p_dropout=0.0, seed=0)
    shuffler = _train.Shuffler(n)
    for j in range(epoch + 1):
        order = shuffler.next_order()
        engine.train(j, order, 0, (n if j < epoch else done) // 10)
    vel = [] if engine.velocities is None else engine.velocities[0] + engine.velocities[1]
    return params.arrays, vel, order


@pytest.mark.parametrize("kind", ["network", "network2"])
def test_sigint_stops_at_a_mini_batch_boundary(kind, tmp_path):
    out = str(tmp_path / "state.npz")
    code, stdout, err = run_child(INTERRUPT_CHILD, [kind, out], signal_after=0.7)
    assert code == 0, err
    assert "saved" in stdout
    saved = np.load(out)
    epoch, done = (int(v) for v in saved["where"])
    assert done % 10 == 0 and 0 <= done <= 4000
    want, vel, order = replay(kind, epoch, done)
    for i, w in enumerate(want):
        np.testing.assert_array_equal(saved["p%d" % i], w)
    if kind == "network":
        # the book's list is left shuffled as this epoch's order (or the next one's, when
        # Ctrl-C came between two epochs, after the shuffle)
        perm = saved["perm"]
        assert sorted(perm) == list(range(4000))
        if 0 < done < 4000:
            np.testing.assert_array_equal(perm, order)
    else:
        for i, v in enumerate(vel):
            np.testing.assert_array_equal(saved["v%d" % i], v)


# ---------------------------------------------------------------------------
# threads: the GIL is released, concurrent runs equal sequential ones, fork works
# ---------------------------------------------------------------------------

def test_training_releases_the_gil():
    """While one thread is inside a single native epoch call, another runs Python code."""
    from nnfast import _dense, _train
    rng = np.random.default_rng(0)
    X = rng.random((4000, 200))
    Y = np.eye(10)[rng.integers(0, 10, 4000)]
    rows = np.tile(np.arange(4000, dtype=np.int64), 25)      # 100,000 examples in one call
    np.random.seed(0)
    net = network.Network([200, 100, 10])
    params = _train.dense_params(net)
    params.load()
    engine = _dense.Engine(net, params, X, Y, 0.1, (_dense.SIGMOID, _dense.SIGMOID, _dense.QUADRATIC), 10,
                           rows=rows)
    engine.threads = 1
    started, seen_running, errors = threading.Event(), [], []

    def train():
        started.set()
        try:
            engine.start_epoch(0)
            engine.train(0, np.arange(len(rows), dtype=np.int64), 0, len(rows) // 10)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    worker = threading.Thread(target=train)
    worker.start()
    started.wait()
    count = 0
    while worker.is_alive() and count < 10 ** 9:
        count += 1           # pure Python: needs the GIL
        if count == 1000:
            seen_running.append(worker.is_alive())
    worker.join()
    assert not errors, errors
    assert engine.examples_done == len(rows)
    assert seen_running == [True], "the main thread could not run Python while the epoch ran"


def _update_loop(net, batches, eta):
    for batch in batches:
        net.update_mini_batch(batch, eta)


def test_two_networks_trained_at_once_equal_one_after_the_other():
    """update_mini_batch has no hidden order (SGD's shuffle uses the global `random`,
    so two SGD calls at once interleave its draws: see README), and network3's SGD
    keeps the stored order: both must give the sequential results from two threads."""
    rng = np.random.default_rng(0)
    eye = np.eye(10)
    data = [[(x.reshape(-1, 1), eye[c].reshape(-1, 1)) for x, c in zip(rng.random((300, 64)), rng.integers(0, 10, 300))]
            for _ in range(2)]
    batches = [[d[i:i + 100] for i in range(0, 300, 100)] * 5 for d in data]
    x3, y3 = rng.random((200, 64)).astype(np.float32), rng.integers(0, 10, 200)

    def fresh():
        np.random.seed(3)
        nets = [network.Network([64, 50, 10]), network2.Network([64, 40, 10], activation="tanh")]
        n3 = network3.Network([ConvPoolLayer((4, 1, 3, 3), (10, 1, 8, 8)), FullyConnectedLayer(36, 20),
                               SoftmaxLayer(20, 10)], 10)
        return nets, n3

    def jobs(nets, n3):
        return [lambda: _update_loop(nets[0], batches[0], 0.5),
                lambda: [nets[1].update_mini_batch(b, 0.3, 1.0, 300) for b in batches[1]],
                lambda: n3.SGD((x3, y3), 3, 10, 0.1)]

    nets_a, n3_a = fresh()
    for job in jobs(nets_a, n3_a):
        job()
    nets_b, n3_b = fresh()
    with nnfast.num_threads(2):
        threads = [threading.Thread(target=job) for job in jobs(nets_b, n3_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    for a, b in zip(nets_a, nets_b):
        for p, q in zip(params(a), params(b)):
            np.testing.assert_array_equal(p, q)
    for p, q in zip(n3_a.params, n3_b.params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("options", [dict(activation="tanh", cost=network2.LogLikelihoodCost),
                                     dict(activation="relu", cost=network2.QuadraticCost)])
def test_float32_results_do_not_depend_on_thread_count(options):
    if not nnfast._config._core.openmp_enabled():
        pytest.skip("serial build")
    X, y = toy(n=300, n_in=40, seed=4)
    runs = []
    for t in (1, 2):
        np.random.seed(4)
        random.seed(4)
        net = network2.Network([40, 30, 10], dtype=np.float32, **options)
        with nnfast.num_threads(t):
            out = net.SGD((X, y), 2, 7, 0.05, lmbda=0.5, regularization="L1", mu=0.3, p_dropout=0.1,
                          evaluation_data=(X[:50], y[:50]), monitor_evaluation_cost=True)
        runs.append((out, params(net)))
    assert runs[0][0] == runs[1][0]
    for p, q in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(p, q)


FORK_CHILD = """
import multiprocessing as mp, contextlib, io, random, sys
import numpy as np
import nnfast
from nnfast import network, network3

def train(kind):
    rng = np.random.default_rng(1)
    X, y = rng.random((1000, 64)), rng.integers(0, 10, 1000)
    np.random.seed(0)
    random.seed(0)
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(2):
        if kind == "network":
            net = network.Network([64, 30, 10])
            net.SGD((X, y), 2, 10, 0.5)
            return [float(w.sum()) for w in net.weights]
        net = network3.Network([network3.FullyConnectedLayer(64, 30), network3.SoftmaxLayer(30, 10)], 10)
        net.SGD((X.astype(np.float32), y), 2, 10, 0.5)
        return [float(p.sum()) for p in net.params]

def work(kind, q):
    q.put(train(kind))

if __name__ == "__main__":
    kind = sys.argv[1]
    parent = train(kind)                  # the parent trains first, on two OpenMP threads
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=work, args=(kind, q))
    p.start()
    child = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and child == parent, (p.exitcode, child, parent)
    print("fork ok", flush=True)
"""


@pytest.mark.parametrize("kind", ["network", "network3"])
def test_fork_after_training_works(kind, tmp_path):
    script = tmp_path / "fork_child.py"
    script.write_text(FORK_CHILD)
    env = child_env()
    proc = subprocess.run([sys.executable, str(script), kind], capture_output=True, text=True, env=env,
                          timeout=150)
    assert proc.returncode == 0 and "fork ok" in proc.stdout, proc.stderr



NET3_CHILD = """
import contextlib, io, sys
import numpy as np
from nnfast import network3

def make():
    np.random.seed(0)
    return network3.Network([network3.FullyConnectedLayer(64, 30), network3.SoftmaxLayer(30, 10)], 10)

def data():
    rng = np.random.default_rng(0)
    return rng.random((5000, 64)).astype(np.float32), rng.integers(0, 10, 5000)

if __name__ == "__main__":
    net = make()
    x, y = data()
    print("ready", flush=True)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            net.SGD((x, y), 100000, 10, 0.1)
    except KeyboardInterrupt:
        pass
    else:
        sys.exit("not interrupted")
    np.savez(sys.argv[1], *net.params, where=np.array(net.last_interrupted_at))
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((x, y), 1, 10, 0.1)          # keeps working
    assert all(np.isfinite(p).all() for p in net.params)
    print("saved", flush=True)
"""


def test_sigint_stops_network3_at_a_mini_batch_boundary(tmp_path):
    """The parameters after Ctrl-C are those after net.last_interrupted_at's whole mini-batches:
    replayed on the same (unshuffled) order."""
    out = str(tmp_path / "net3.npz")
    code, stdout, err = run_child(NET3_CHILD, [out], signal_after=0.7)
    assert code == 0 and "saved" in stdout, err
    with np.load(out) as f:
        epoch, done = (int(v) for v in f["where"])
        got = [f["arr_%d" % i] for i in range(len(f.files) - 1)]
    assert done % 10 == 0 and 0 <= done < 5000
    ns = {"__name__": "replay"}
    exec(NET3_CHILD, ns)
    net, (x, y) = ns["make"](), ns["data"]()
    net._sync()
    plan, order, nb = net._plan(), np.arange(len(y), dtype=np.int64), len(y) // 10
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y, dtype=np.int64)
    for e in range(epoch + 1):
        k = nb if e < epoch else done // 10
        if k:
            plan.train(x, y, None, order, len(y), 0, k, 0.1, 0.0, False, 0.0, 0, e * len(y), 1)
    for p, g in zip(net.params, got):
        np.testing.assert_array_equal(p, g)


class HalfQuadraticCost(network2.QuadraticCost):
    """A cost class of the user's own: network2 trains it on its numpy path."""

    @staticmethod
    def delta(z, a, y):
        return 0.5 * (a - y) * network2.sigmoid_prime(z)


@pytest.mark.filterwarnings("ignore:nnfast.network2. cost")
def test_custom_cost_numpy_path_raises_training_diverged():
    X, y = toy(scale=10)
    np.random.seed(1)
    random.seed(1)
    net = network2.Network([20, 15, 5], cost=HalfQuadraticCost, activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", "nnfast.network2: cost")
        with pytest.raises(TrainingDiverged, match=r"epoch 0, mini-batch \d+") as info:
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD((X, y), 3, 10, 1e308)
    assert info.value.epoch == 0
    if "as before that mini-batch" in str(info.value):
        assert all(np.isfinite(a).all() for a in params(net))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", [ReLU, network3.sigmoid])
def test_network3_huge_eta_stops_with_finite_parameters(dtype, act):
    """network3 on the one loop: an inf or NaN weighted input or output delta (or parameters that
    overflowed) ends SGD with TrainingDiverged naming epoch 0 and the mini-batch, the parameters as
    before it, finite (huge, after an update at that eta); given fresh weights it trains on."""
    X, y = toy(n=300, scale=10)
    np.random.seed(3)
    net = network3.Network([FullyConnectedLayer(20, 30, activation_fn=act), SoftmaxLayer(30, 5)], 10, dtype=dtype)
    eta = 1e38 if dtype == np.float32 else 1e308
    with contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(TrainingDiverged, match=r"epoch 0, mini-batch \d+.*as before that mini-batch") as info:
            net.SGD((X.astype(dtype), y), 2, 10, eta)
        assert info.value.epoch == 0 and info.value.mini_batch >= 0
        assert all(np.isfinite(p).all() for layer in net.layers for p in (layer.w, layer.b))
        for layer in net.layers:
            layer.w = np.zeros_like(layer.w)
        net.SGD((X.astype(dtype), y), 1, 10, 0.01)
    assert all(np.isfinite(p).all() for layer in net.layers for p in (layer.w, layer.b))
