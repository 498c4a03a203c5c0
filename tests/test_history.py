"""Histories: what SGD records equals what it returns and prints, and the file survives interruption."""
import json
import random

import numpy as np
import pytest

from nnfast import network, network2, network3
from nnfast.history import History, HistoryFormatError


def _small(mnist_test_arrays, n_train=600, n_eval=300):
    X, y = mnist_test_arrays
    return (X[:n_train], y[:n_train]), (X[n_train:n_train + n_eval], y[n_train:n_train + n_eval])


def test_network2_history_equals_returned_lists(mnist_test_arrays, tmp_path):
    tr, ev = _small(mnist_test_arrays)
    np.random.seed(1)
    random.seed(1)
    net = network2.Network([784, 20, 10])
    path = tmp_path / "h.json"
    result = net.SGD(tr, 3, 10, 0.5, lmbda=1.0, evaluation_data=ev, monitor_evaluation_cost=True,
                     monitor_evaluation_accuracy=True, monitor_training_cost=True,
                     monitor_training_accuracy=True, history=str(path), progress=False)
    h = History.load(path)
    for key, returned in zip(("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy"), result):
        assert h.column(key) == ([0, 1, 2], [float(v) if "cost" in key else v for v in returned])
    assert h.settings["program"] == "network2" and h.settings["sizes"] == [784, 20, 10]
    assert h.settings["n_training"] == 600 and h.settings["n_evaluation"] == 300
    assert h.settings["lmbda"] == 1.0 and h.settings["cost"] == "CrossEntropyCost"
    assert all(r["seconds"] > 0 for r in h.epochs)


def test_network2_only_monitored_keys(mnist_test_arrays):
    tr, ev = _small(mnist_test_arrays)
    h = History()
    ec, ea, tc, ta = network2.Network([784, 10]).SGD(tr, 2, 10, 0.5, evaluation_data=ev,
                                                      monitor_evaluation_accuracy=True, history=h)
    assert [r["evaluation_accuracy"] for r in h.epochs] == ea
    assert not {"training_cost", "training_accuracy", "evaluation_cost"} & set(h.keys())


def test_network_history_equals_printed_lines(mnist_test_arrays, capsys):
    tr, ev = _small(mnist_test_arrays)
    h = History()
    network.Network([784, 20, 10]).SGD(tr, 3, 10, 3.0, test_data=ev, history=h)
    printed = [int(l.split(":")[1].split("/")[0]) for l in capsys.readouterr().out.splitlines()]
    assert h.column("evaluation_accuracy") == ([0, 1, 2], printed)
    assert h.settings["program"] == "network" and h.settings["n_evaluation"] == 300


def test_network3_history_matches_return_values(mnist_test_arrays, capsys):
    tr, ev = _small(mnist_test_arrays)
    te = (mnist_test_arrays[0][1000:1300], mnist_test_arrays[1][1000:1300])
    np.random.seed(2)
    net = network3.Network([network3.FullyConnectedLayer(784, 20), network3.SoftmaxLayer(20, 10)], 10)
    h = History()
    best, iteration, test_acc = net.SGD(tr, 3, 10, 0.2, ev, te, history=h)
    epochs, val = h.column("validation_accuracy")
    assert epochs == [0, 1, 2] and max(val) == best
    printed = [float(l.split()[-1].rstrip("%")) for l in capsys.readouterr().out.splitlines()
               if l.startswith("Epoch")]
    assert printed == [round(100 * v, 2) for v in val]
    best_epoch = iteration // 60
    assert dict(zip(*h.column("test_accuracy")))[best_epoch] == test_acc
    assert h.settings["program"] == "network3" and h.settings["n_validation"] == 300


def test_on_epoch_adds_keys_and_interrupted_run_keeps_its_epochs(mnist_test_arrays, tmp_path):
    tr, _ = _small(mnist_test_arrays)
    path = tmp_path / "run.json"
    seen = []

    def on_epoch(net, epoch, record):
        seen.append((epoch, dict(record)))
        record["norm"] = float(np.linalg.norm(net.weights[0]))
        if epoch == 2:
            raise KeyboardInterrupt

    net = network2.Network([784, 10])
    with pytest.raises(KeyboardInterrupt):
        net.SGD(tr, 5, 10, 0.5, monitor_training_cost=True, history=path, on_epoch=on_epoch)
    h = History.load(path)
    assert [r["epoch"] for r in h.epochs] == [0, 1]          # epoch 2 did not finish its bookkeeping
    assert all(r["norm"] > 0 for r in h.epochs)
    assert [e for e, _ in seen] == [0, 1, 2] and "training_cost" in seen[0][1]
    assert not list(tmp_path.glob(".nnfast-*"))              # no temporary file left behind


def test_on_epoch_alone_needs_no_history(mnist_test_arrays):
    tr, _ = _small(mnist_test_arrays)
    calls = []
    network.Network([784, 10]).SGD(tr, 2, 10, 3.0, on_epoch=lambda net, e, r: calls.append((e, sorted(r))))
    assert calls == [(0, ["epoch", "seconds"]), (1, ["epoch", "seconds"])]


def test_record_that_is_not_json_is_refused(mnist_test_arrays):
    tr, _ = _small(mnist_test_arrays)

    def bad(net, epoch, record):
        record["net"] = net
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        network.Network([784, 10]).SGD(tr, 1, 10, 3.0, history=History(), on_epoch=bad)


def test_bad_arguments(mnist_test_arrays, tmp_path):
    tr, _ = _small(mnist_test_arrays)
    with pytest.raises(TypeError, match="history"):
        network.Network([784, 10]).SGD(tr, 1, 10, 3.0, history=42)
    with pytest.raises(TypeError, match="on_epoch"):
        network.Network([784, 10]).SGD(tr, 1, 10, 3.0, on_epoch="x")
    net = network.Network([784, 10])
    w = net.weights[0].copy()
    with pytest.raises(FileNotFoundError):          # the path is tried before any training
        net.SGD(tr, 1, 10, 3.0, history=tmp_path / "no" / "h.json")
    assert np.array_equal(net.weights[0], w)


@pytest.mark.parametrize("content,needle", [
    ("not json", "not JSON"),
    ('{"format": "other", "version": 1, "epochs": []}', "not an nnfast history"),
    ('[1, 2]', "not an nnfast history"),
    ('{"format": "nnfast-history", "version": 99, "epochs": []}', "version 99"),
    ('{"format": "nnfast-history", "version": 1, "epochs": {}}', "epochs"),
    ('{"format": "nnfast-history", "version": 1, "settings": 3, "epochs": []}', "settings"),
])
def test_load_rejects_wrong_format(tmp_path, content, needle):
    p = tmp_path / "h.json"
    p.write_text(content)
    with pytest.raises(HistoryFormatError, match=needle):
        History.load(p)


def test_round_trip_and_numpy_values(tmp_path):
    h = History(settings={"eta": np.float32(0.5)})
    h.epochs.append({"epoch": 0, "seconds": 1.5, "evaluation_accuracy": np.int64(9000),
                     "gradient_norms": np.array([0.1, 0.2]), "nan": float("nan")})
    h.save(tmp_path / "h.json")
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["format"] == "nnfast-history" and data["version"] == 1
    g = History.load(tmp_path / "h.json")
    assert g.settings == {"eta": 0.5}
    assert g.epochs == [{"epoch": 0, "seconds": 1.5, "evaluation_accuracy": 9000,
                         "gradient_norms": [0.1, 0.2], "nan": None}]
