"""The progress bar: on stderr only when it is a terminal (or asked for), never in stdout."""
import io
import random
import sys

import numpy as np
import pytest

from nnfast import _progress, network, network2, network3


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def _data(mnist_test_arrays, n=2000):
    X, y = mnist_test_arrays
    return (X[:n], y[:n]), (X[n:n + 500], y[n:n + 500])


def _train(kind, tr, ev, **kw):
    np.random.seed(0)
    random.seed(0)
    if kind == "network":
        network.Network([784, 20, 10]).SGD(tr, 2, 10, 3.0, test_data=ev, **kw)
    elif kind == "network2":
        network2.Network([784, 20, 10]).SGD(tr, 2, 10, 0.5, evaluation_data=ev,
                                             monitor_evaluation_accuracy=True, **kw)
    else:
        net = network3.Network([network3.FullyConnectedLayer(784, 20), network3.SoftmaxLayer(20, 10)], 10)
        net.SGD(tr, 2, 10, 0.1, ev, ev, **kw)


def _run(kind, tr, ev, monkeypatch, capsys, stderr, **kw):
    monkeypatch.setattr(sys, "stderr", stderr)
    try:
        _train(kind, tr, ev, **kw)
    finally:
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    return capsys.readouterr().out, stderr.getvalue()


@pytest.mark.parametrize("kind", ["network", "network2", "network3"])
@pytest.mark.parametrize("use_tqdm", [False, True])
def test_bar_on_a_terminal_and_stdout_unchanged(kind, use_tqdm, mnist_test_arrays, monkeypatch, capsys):
    if use_tqdm and _progress._tqdm is None:
        pytest.skip("tqdm not installed")
    tr, ev = _data(mnist_test_arrays)
    if not use_tqdm:
        monkeypatch.setattr(_progress, "_tqdm", None)
    out_bar, err_bar = _run(kind, tr, ev, monkeypatch, capsys, FakeTTY())
    out_plain, err_plain = _run(kind, tr, ev, monkeypatch, capsys, io.StringIO())   # not a terminal
    out_off, err_off = _run(kind, tr, ev, monkeypatch, capsys, FakeTTY(), progress=False)
    assert "Epoch 0" in err_bar and "ex/s" in err_bar
    assert "2,000/2,000" in err_bar if not use_tqdm else "/2000" in err_bar
    assert err_bar.endswith("\r")                  # cleared at the end of each epoch
    assert err_plain == "" and err_off == ""
    assert out_bar == out_plain == out_off         # the book's lines, untouched
    assert "\r" not in out_bar and "ex/s" not in out_bar


def test_bar_forced_on_without_a_terminal(mnist_test_arrays, monkeypatch, capsys):
    tr, ev = _data(mnist_test_arrays)
    monkeypatch.setattr(_progress, "_tqdm", None)
    _, err = _run("network", tr, ev, monkeypatch, capsys, io.StringIO(), progress=True)
    assert "Epoch 1  [" in err and "left" in err


@pytest.mark.parametrize("kind", ["network", "network2", "network3"])
def test_callable_progress_counts_examples(kind, mnist_test_arrays, capsys):
    tr, ev = _data(mnist_test_arrays)
    calls = []
    _train(kind, tr, ev, progress=lambda done, n: calls.append((done, n)))
    assert calls and all(n == 2000 for _, n in calls)
    ends = [i for i, (done, n) in enumerate(calls) if done == n]
    assert len(ends) == 2                          # each of the two epochs ends at n
    dones = [d for d, _ in calls[:ends[0] + 1]]
    assert dones == sorted(dones) and dones[0] > 0


def test_network2_numpy_path_reports_too(mnist_test_arrays, capsys):
    class MyCost(network2.CrossEntropyCost):
        pass
    tr, _ = _data(mnist_test_arrays, 200)
    calls = []
    with pytest.warns(RuntimeWarning):
        network2.Network([784, 10], cost=MyCost).SGD(tr, 1, 10, 0.5, progress=lambda d, n: calls.append(d))
    assert calls == list(range(10, 201, 10))


def test_bad_progress_argument(mnist_test_arrays):
    tr, _ = _data(mnist_test_arrays, 100)
    with pytest.raises(TypeError, match="progress"):
        network.Network([784, 10]).SGD(tr, 1, 10, 3.0, progress="yes")


def test_plain_bar_line_format(monkeypatch):
    err = FakeTTY()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_progress, "_tqdm", None)
    p = _progress.Progress(None)
    p.start("Epoch 7", 50000)
    p.update(50000)
    p.clear()
    line = err.getvalue().split("\r")[1]
    assert line.startswith("Epoch 7  [####################]  50,000/50,000  ")
    assert line.endswith(" ex/s  0:00 left")
    assert err.getvalue().endswith("\r" + " " * len(line) + "\r")
