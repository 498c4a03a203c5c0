"""Checkpoints (issue 7): a run killed with SIGKILL and resumed from its last
checkpoint ends bit for bit where the uninterrupted run ends; a checkpoint of
another run, or a damaged one, is refused with a clear error."""
import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnfast
from nnfast import network, network2

from conftest import child_env

PRELUDE = """
import random
import numpy as np
from nnfast import network, network2

def data(n=1000, n_in=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, 10, n)

def run(kind, epochs, **kw):
    np.random.seed(1)
    random.seed(2)
    X, y = data()
    if kind == "network":
        net = network.Network([32, 20, 10])
        eye = np.eye(10)
        items = [(X[i].reshape(-1, 1), eye[y[i]].reshape(-1, 1)) for i in range(len(y))]
        out = net.SGD(items, epochs, 10, 0.5, **kw)
        return net, items, out
    net = network2.Network([32, 20, 10], cost=network2.CrossEntropyCost)
    evaluation = list(zip(list(X[:200].reshape(200, 32, 1)), [int(v) for v in y[:200]]))
    out = net.SGD((X, y), epochs, 10, 0.5, lmbda=1.0, evaluation_data=evaluation,
                  monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                  monitor_training_cost=True, mu=0.5, p_dropout=0.2, schedule_patience=2,
                  schedule_stop=1e9, **kw)
    return net, None, out
"""
EPOCHS = 200


def reference(kind):
    ns = {}
    exec(PRELUDE, ns)
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
        return ns["run"](kind, EPOCHS)


def saved_epoch(path):
    import json
    with np.load(path, allow_pickle=False) as f:
        return json.loads(str(f["meta"]))["epoch"]


@pytest.mark.parametrize("kind", ["network", "network2"])
def test_sigkill_then_resume_is_bit_identical(kind, tmp_path):
    path = str(tmp_path / "run.npz")
    script = PRELUDE + "\nimport sys\nrun(sys.argv[1], %d, checkpoint=sys.argv[2], checkpoint_every=2)\n" % EPOCHS
    env = child_env(OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", script, kind, path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.path.exists(path), proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL
    # only the finished checkpoint is there: no temporary file left behind counts
    k = saved_epoch(path)
    assert k < EPOCHS - 1, "the run ended before it was killed"
    assert k % 2 == 1

    want_net, want_items, want_out = reference(kind)
    ns = {}
    exec(PRELUDE, ns)
    with contextlib.redirect_stdout(io.StringIO()) as printed, nnfast.num_threads(1):
        net, items, out = ns["run"](kind, EPOCHS, resume=path)
    assert "Epoch %d" % (k + 1) in printed.getvalue() and "Epoch %d " % k not in printed.getvalue()
    for a, b in zip(net.weights + net.biases, want_net.weights + want_net.biases):
        assert np.array_equal(a, b)
    assert out == want_out
    if kind == "network":
        assert all(a[0] is b[0] or np.array_equal(a[0], b[0]) for a, b in zip(items, want_items))
    else:
        for a, b in zip(net._velocity_w + net._velocity_b, want_net._velocity_w + want_net._velocity_b):
            assert np.array_equal(a, b)


def small_run(tmp_path, every=1, epochs=2, **kw):
    np.random.seed(0)
    random.seed(0)
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 8)), rng.integers(0, 3, 50)
    net = network2.Network([8, 5, 3], **kw)
    path = str(tmp_path / "c.npz")
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X, y), epochs, 10, 0.5, checkpoint=path, checkpoint_every=every)
    return net, (X, y), path


def test_checkpoint_every_k_epochs_and_atomic(tmp_path):
    _, _, path = small_run(tmp_path, every=2, epochs=5)
    assert saved_epoch(path) == 3
    assert os.listdir(tmp_path) == ["c.npz"]


@pytest.mark.parametrize("change, match", [
    (dict(sizes=[8, 6, 3]), "sizes"),
    (dict(eta=0.1), "eta"),
    (dict(mini_batch_size=5), "mini_batch_size"),
    (dict(lmbda=1.0), "lmbda"),
    (dict(cost=network2.QuadraticCost), "cost"),
    (dict(data_seed=1), "data"),
    (dict(dtype=np.float32), "dtype"),
])
def test_resume_rejects_a_checkpoint_of_another_run(tmp_path, change, match):
    _, _, path = small_run(tmp_path)
    rng = np.random.default_rng(change.pop("data_seed", 0))
    X, y = rng.random((50, 8)), rng.integers(0, 3, 50)
    net = network2.Network(change.pop("sizes", [8, 5, 3]), cost=change.pop("cost", network2.CrossEntropyCost),
                           dtype=change.pop("dtype", np.float64))
    before = [w.copy() for w in net.weights]
    args = dict(eta=0.5, mini_batch_size=10, lmbda=0.0)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        net.SGD((X, y), 3, args["mini_batch_size"], args["eta"], lmbda=args["lmbda"], resume=path)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, before))


def test_resume_rejects_damaged_files(tmp_path):
    _, data, path = small_run(tmp_path)
    net = network2.Network([8, 5, 3])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not an nnfast checkpoint"):
        net.SGD(data, 3, 10, 0.5, resume=str(bad))
    # a pickled object array inside is never loaded
    np.savez(str(bad), meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not an nnfast checkpoint"):
        net.SGD(data, 3, 10, 0.5, resume=str(bad))
    with np.load(path) as f:
        arrays = dict(f)
    arrays["order"] = np.zeros_like(arrays["order"])
    np.savez(str(bad), **arrays)
    with pytest.raises(ValueError, match="permutation"):
        net.SGD(data, 3, 10, 0.5, resume=str(bad))
    with pytest.raises(ValueError, match="not an nnfast checkpoint"):
        net.SGD(data, 3, 10, 0.5, resume=str(tmp_path / "missing.npz"))


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "2"])
def test_checkpoint_every_must_be_a_positive_int(tmp_path, every):
    net = network.Network([4, 2])
    with pytest.raises(ValueError, match="checkpoint_every"):
        net.SGD((np.zeros((4, 4)), np.zeros(4, dtype=int)), 1, 2, 0.1,
                checkpoint=str(tmp_path / "c.npz"), checkpoint_every=every)


NET3 = """
import numpy as np
from nnfast import network3

def run3(epochs, **kw):
    rng = np.random.default_rng(0)
    x, y = rng.random((500, 16)).astype(np.float32), rng.integers(0, 4, 500)
    np.random.seed(1)
    net = network3.Network([network3.FullyConnectedLayer(16, 12, p_dropout=0.2),
                            network3.SoftmaxLayer(12, 4, p_dropout=0.1)], 10)
    out = net.SGD((x, y), epochs, 10, 0.3, (x[:100], y[:100]), (x[100:200], y[100:200]), lmbda=0.1,
                  shuffle=True, **kw)
    return net, out
"""


def test_network3_sigkill_then_resume_is_bit_identical(tmp_path):
    path = str(tmp_path / "run3.npz")
    script = NET3 + "\nimport sys\nrun3(%d, checkpoint=sys.argv[1], checkpoint_every=2)\n" % EPOCHS
    env = child_env(OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", script, path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.path.exists(path), proc.stderr.read()
    k = saved_epoch(path)
    assert k < EPOCHS - 1 and k % 2 == 1
    ns = {}
    exec(NET3, ns)
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
        want_net, want_out = ns["run3"](EPOCHS)
        net, out = ns["run3"](EPOCHS, resume=path)
    assert out == want_out
    for a, b in zip(net.params, want_net.params):
        assert np.array_equal(a, b)


def test_network3_resume_rejects_another_architecture(tmp_path):
    path = str(tmp_path / "c3.npz")
    ns = {}
    exec(NET3, ns)
    with contextlib.redirect_stdout(io.StringIO()):
        ns["run3"](2, checkpoint=path)
    from nnfast import network3
    rng = np.random.default_rng(0)
    x, y = rng.random((500, 16)).astype(np.float32), rng.integers(0, 4, 500)
    net = network3.Network([network3.FullyConnectedLayer(16, 13), network3.SoftmaxLayer(13, 4)], 10)
    with pytest.raises(ValueError, match="layers"):
        net.SGD((x, y), 3, 10, 0.3, (x[:100], y[:100]), (x[100:200], y[100:200]), lmbda=0.1, shuffle=True,
                resume=path)
