"""Sweeps without a cluster: private generators, the grid's checks, the file,
resume and Ctrl-C, the plot and the command line's one-line errors.  The Dask
side is in test_sweep_cluster.py."""
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import nnfast
from nnfast import _cluster, network, network3
from nnfast.sweep import _digest

from conftest import child_env

GRID = {"eta": [0.5, 3.0], "epochs": [1], "n_train": [1000]}


@pytest.fixture(scope="module")
def small(fashion_dir):
    """Fashion-MNIST cut small: 1,000 training, 500 validation and 500 test images."""
    from nnfast import mnist_loader
    tr, va, te = mnist_loader.load_data(fashion_dir, "fashion-mnist")
    return (tr[0][:1000], tr[1][:1000]), (va[0][:500], va[1][:500]), (te[0][:500], te[1][:500])


@pytest.fixture(scope="module")
def small_pickle(small, tmp_path_factory):
    """The same in the book's mnist.pkl.gz layout: a data path the command line and the workers read."""
    import gzip
    import pickle
    path = tmp_path_factory.mktemp("data") / "small.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(small, f)
    return str(path)


def alone(data, eta, seed, epochs=1):
    """The book's way: seed the global generators, build, train, in this thread."""
    np.random.seed(seed)
    random.seed(seed)
    net = network.Network([784, 30, 10])
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
        net.SGD(data[0], epochs, 10, eta, test_data=data[2], progress=False)
    return _digest(net), net.evaluate(data[2]) / len(data[2][1])


def _comparable(rows):
    """What must not depend on where or when a point ran."""
    return [(r["point"], r["seed"], r["weights_sha256"], r["accuracy"], r["best_accuracy"],
             [{k: v for k, v in e.items() if k != "seconds"} for e in r["history"]["epochs"]]) for r in rows]


def test_private_generators_ignore_the_other_threads(small):
    expected = alone(small, 3.0, 7, epochs=2)
    stop = threading.Event()

    def noise():                     # another thread drawing from the global generators meanwhile
        while not stop.is_set():
            random.random()
            np.random.random()
    other = threading.Thread(target=noise)
    other.start()
    try:
        with _cluster.private_generators(7):
            net = network.Network([784, 30, 10])
            with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
                net.SGD(small[0], 2, 10, 3.0, test_data=small[2], progress=False)
    finally:
        stop.set()
        other.join()
    assert (_digest(net), net.evaluate(small[2]) / 500) == expected
    # after the block the module functions are the global generators' own again
    assert random.random.__self__ is random._inst and np.random.randn.__self__ is np.random.mtrand._rand
    assert "dispatch" not in np.random.seed.__name__


def test_sweep_in_process_equals_the_points_trained_alone(small, tmp_path):
    out = tmp_path / "s.json"
    rows = nnfast.sweep("chapter1", GRID, seeds=2, seed=3, workers=0, data=small, threads=1, out=out)
    assert [(r["point"]["eta"], r["seed"]) for r in rows] == [(0.5, 3), (0.5, 4), (3.0, 3), (3.0, 4)]
    for r in rows:
        assert (r["weights_sha256"], r["accuracy"]) == alone(small, r["point"]["eta"], r["seed"])
        assert r["history"]["format"] == "nnfast-history" and len(r["history"]["epochs"]) == 1
        assert r["settings"]["sizes"] == [784, 30, 10] and r["seconds"] > 0
    saved = nnfast.sweep.load(out)
    assert saved["net"] == "chapter1" and _comparable(saved["rows"]) == _comparable(rows)


def _chapter3_alone(data, seed):
    from nnfast import network2
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    net.SGD(data[0], 1, 10, 0.5, lmbda=5.0, evaluation_data=data[2], monitor_evaluation_accuracy=True)
    return net


def _chapter6_alone(data, seed):
    net = network3.Network([network3.FullyConnectedLayer(784, 100), network3.SoftmaxLayer(100, 10)], 10)
    net.SGD(data[0], 1, 10, 0.1, data[1], data[2], lmbda=0.0)
    return net


@pytest.mark.parametrize("label, train", [("chapter3:l2", _chapter3_alone), ("chapter6:fc", _chapter6_alone)])
def test_chapter3_and_chapter6_points_equal_their_presets_trained_alone(small, label, train):
    [row] = nnfast.sweep(label, {"epochs": [1]}, seed=4, workers=0, data=small, threads=1)
    np.random.seed(4)
    random.seed(4)
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
        net = train(small, 4)
    assert row["weights_sha256"] == _digest(net) and len(row["history"]["epochs"]) == 1


def test_nnfast_sweep_is_the_function_and_the_module():
    import nnfast.sweep as module
    assert callable(nnfast.sweep) and nnfast.sweep is module and module.sweep.__doc__
    from nnfast.sweep import sweep
    assert callable(sweep)


def test_interrupt_keeps_whole_points_and_resume_trains_the_rest(small, tmp_path):
    out = tmp_path / "s.json"
    full = nnfast.sweep("chapter1", GRID, seeds=2, workers=0, data=small, threads=1)

    def stop_after_two(row, done, total):
        if done == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        nnfast.sweep("chapter1", GRID, seeds=2, workers=0, data=small, threads=1, out=out, on_point=stop_after_two)
    assert len(json.loads(out.read_text())["rows"]) == 2
    assert [p for p in os.listdir(tmp_path)] == ["s.json"]            # no temporary file left
    started = []
    rows = nnfast.sweep("chapter1", GRID, seeds=2, workers=0, data=small, threads=1, resume=out,
                        on_start=started.append)
    assert started[0]["todo"] == 2 and started[0]["total"] == 4
    assert _comparable(rows) == _comparable(full)
    assert _comparable(nnfast.sweep.load(out)["rows"]) == _comparable(full)


@pytest.mark.parametrize("net, grid, message", [
    ("chapter1", {"alpha": [1]}, "unknown grid parameter 'alpha'"),
    ("chapter1", {"lmbda": [1.0]}, "'lmbda' does not apply to chapter1"),
    ("chapter9", {"eta": [1]}, "unknown preset 'chapter9'"),
    ("chapter3:nope", {"eta": [1]}, "unknown preset chapter3:nope"),
    ("chapter6:ensemble", {"eta": [1]}, "unknown preset chapter6:ensemble"),
    ("chapter1", {"eta": ["fast"]}, "grid eta: expected a number, got 'fast'"),
    ("chapter1", {"eta": [-1]}, "grid eta: must be > 0"),
    ("chapter1", {"mini_batch_size": [2.5]}, "grid mini_batch_size: expected a whole number"),
    ("chapter1", {"sizes": [[784, 10, 3]]}, "grid sizes: need positive sizes from 784 to 10"),
    ("chapter3:l2", {"cost": ["hinge"]}, "grid cost: expected one of quadratic, cross-entropy"),
    ("chapter6:conv1", {"p_dropout": [0.1]}, "'p_dropout' does not apply to chapter6:conv1"),
    ("chapter1", {}, "empty grid"),
    ("chapter1", {"eta": []}, "grid eta: no values"),
    ("chapter1", {"eta": 0.5}, "grid eta: expected a list of values"),
    ("chapter1", {"eta": [0.5, 0.5]}, "appears twice"),
])
def test_bad_input_is_a_value_error_naming_it(net, grid, message, tmp_path):
    out = tmp_path / "s.json"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        nnfast.sweep(net, grid, workers=0, data=str(tmp_path), out=out)
    assert not out.exists()


def test_bad_seeds_and_data(tmp_path):
    for seeds in (0, [1, 1], [-1], "3"):
        with pytest.raises(ValueError, match="seed"):
            nnfast.sweep("chapter1", {"eta": [1.0]}, seeds=seeds, workers=0)
    with pytest.raises(ValueError, match="threads must be"):
        nnfast.sweep("chapter1", {"eta": [1.0]}, workers=0, threads=0)
    with pytest.raises(ValueError, match="data must be a data folder"):
        nnfast.sweep("chapter1", {"eta": [1.0]}, workers=0, data=42)
    with pytest.raises(FileNotFoundError, match="missing"):
        nnfast.sweep("chapter1", {"eta": [1.0]}, workers=0, data=str(tmp_path), out=tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_missing_dask_is_one_line_saying_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'nnfast\[cluster\]'"):
        _cluster.require_dask("sweep")


def test_ensemble_train_here_is_each_member_under_its_own_seed(small):
    def nets():
        np.random.seed(0)
        return [network3.Network([network3.FullyConnectedLayer(784, 20), network3.SoftmaxLayer(20, 10)], 10)
                for _ in range(2)]
    members = nets()
    ensemble = network3.Ensemble(members)
    with contextlib.redirect_stdout(io.StringIO()):
        ensemble.train(small[0], 1, 10, 0.5, small[1], small[2], shuffle=True, seeds=[5, 6])
    for seed, trained in zip([5, 6], members):
        net = nets()[0 if seed == 5 else 1]
        np.random.seed(seed)
        random.seed(seed)
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(small[0], 1, 10, 0.5, small[1], small[2], shuffle=True)
        assert _digest(net) == _digest(trained)
    with pytest.raises(ValueError, match="seeds must be 2 whole numbers"):
        ensemble.train(small[0], 1, 10, 0.5, seeds=[1])


def test_plot_of_a_sweep_one_and_two_parameters(small, tmp_path):
    pytest.importorskip("matplotlib", reason="plotting needs matplotlib")
    from nnfast import plot
    out = tmp_path / "s.json"
    nnfast.sweep("chapter1", {"eta": [0.5, 3.0], "mini_batch_size": [10, 20], "epochs": [1]}, seeds=2,
                 workers=0, data=small, threads=1, out=out)
    data = nnfast.sweep.load(out)
    params, table = plot.sweep_table(data)
    assert params == ["eta", "mini_batch_size"] and len(table) == 4 and all(n == 2 for _, _, n in table.values())
    mean, std, _ = table[("0.5", "10")]
    acc = [100 * r["accuracy"] for r in data["rows"] if r["point"]["eta"] == 0.5 and r["point"]["mini_batch_size"] == 10]
    assert (mean, std) == pytest.approx((np.mean(acc), np.std(acc)))
    assert plot.plot_sweep(out, str(tmp_path / "heat.png")) and (tmp_path / "heat.png").stat().st_size > 1000
    assert plot.plot_sweep(data, str(tmp_path / "eta.svg"), params=["eta"])
    with pytest.raises(ValueError, match="no grid parameter 'lmbda'"):
        plot.plot_sweep(data, str(tmp_path / "x.png"), params=["lmbda"])
    from nnfast import cli
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["plot", str(out), "-o", str(tmp_path / "cli.png"), "--params", "mini_batch_size"]) == 0
    assert (tmp_path / "cli.png").exists()


def _nnfast(*args, **kw):
    return subprocess.run([sys.executable, "-m", "nnfast"] + list(args), capture_output=True, text=True,
                          timeout=120, env=child_env(), **kw)


@pytest.mark.parametrize("args, message", [
    (["--grid", "alpha=1,2"], "unknown grid parameter 'alpha'"),
    (["--grid", "eta=fast"], "grid eta: expected a number, got 'fast'"),
    ([], "empty grid"),
    (["--net", "chapter3:nope", "--grid", "eta=1"], "unknown preset chapter3:nope"),
    (["--grid", "eta"], "expected NAME=V1,V2"),
    (["--grid", "eta=1", "--scheduler", "tcp://127.0.0.1:1", "--timeout", "1"], "scheduler tcp://127.0.0.1:1 did not answer"),
    (["--grid", "eta=1", "--workers", "0", "--data", "/nonexistent/folder"], "/nonexistent/folder"),
])
def test_cli_bad_input_is_one_line_with_status_2(args, message, tmp_path):
    if "--scheduler" in args:
        pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip install nnfast[cluster])")
    r = _nnfast("sweep", *args, "--out", str(tmp_path / "s.json"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("nnfast sweep") and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not (tmp_path / "s.json").exists()


def test_cli_ctrl_c_leaves_the_finished_points_and_resume_finishes(small_pickle, tmp_path):
    out = tmp_path / "s.json"
    args = ["sweep", "--net", "chapter1", "--grid", "eta=0.5,1,2,3", "--grid", "epochs=40", "--workers", "0",
            "--threads", "1", "--dataset", "fashion-mnist", "--data", small_pickle, "--out", str(out)]
    p = subprocess.Popen([sys.executable, "-m", "nnfast"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=child_env())
    try:
        for line in p.stdout:
            if line.startswith("point 1/4"):
                p.send_signal(signal.SIGINT)
                break
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "interrupted; the finished points are in" in err and "Traceback" not in err
    kept = json.loads(out.read_text())["rows"]
    assert 1 <= len(kept) < 4
    r = _nnfast(*[a if a != str(out) else str(out) for a in args[:-2]], "--resume", str(out))
    assert r.returncode == 0, r.stderr
    assert "(%d to train)" % (4 - len(kept)) in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [row["point"]["eta"] for row in rows] == [0.5, 1.0, 2.0, 3.0]
    assert rows[:len(kept)] == kept
