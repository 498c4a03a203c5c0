"""Sweeps and ensembles on a real Dask LocalCluster of two worker processes (one
Dask thread each): the same answers as one process, the data read once per
worker, a killed worker losing no point, bad addresses and data as one-line errors."""
import contextlib
import io
import os
import random
import signal

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed "
                                                        "(pip install nnfast[cluster])")

import nnfast  # noqa: E402
from nnfast import _cluster, network, network3  # noqa: E402
from nnfast.sweep import _digest  # noqa: E402
from test_sweep import small, small_pickle  # noqa: E402,F401 - the fixtures

from conftest import child_env

GRID = {"eta": [0.5, 3.0], "epochs": [1], "n_train": [1000]}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _comparable(rows):
    return [(r["point"], r["seed"], r["weights_sha256"], r["accuracy"], r["best_accuracy"],
             [{k: v for k, v in e.items() if k != "seconds"} for e in r["history"]["epochs"]]) for r in rows]


@pytest.fixture(scope="module")
def fashion(fashion_dir):
    from nnfast import mnist_loader
    return mnist_loader.load_data(fashion_dir, "fashion-mnist")


def _alone(fashion, eta, seed, n_train=1000, epochs=1):
    tr, _, te = fashion
    np.random.seed(seed)
    random.seed(seed)
    net = network.Network([784, 30, 10])
    with contextlib.redirect_stdout(io.StringIO()), nnfast.num_threads(1):
        net.SGD((tr[0][:n_train], tr[1][:n_train]), epochs, 10, eta, test_data=te, progress=False)
    return _digest(net), net.evaluate(te) / len(te[1])


def test_points_on_two_workers_equal_the_points_trained_alone(client, fashion_dir, fashion):
    rows = nnfast.sweep("chapter1", GRID, seeds=2, client=client, data=fashion_dir, dataset="fashion-mnist",
                        threads=1)
    assert len(rows) == 4
    for r in rows:
        assert (r["weights_sha256"], r["accuracy"]) == _alone(fashion, r["point"]["eta"], r["seed"])
        assert r["worker"].startswith("tcp://")
    # the data was read once in each worker process, however many points it trained
    assert sorted(client.run(lambda: _cluster.loads[0]).values()) == [1, 1]
    again = nnfast.sweep("chapter1", GRID, seeds=2, client=client, data=fashion_dir, dataset="fashion-mnist",
                         threads=1)
    assert _comparable(again) == _comparable(rows)
    assert sorted(client.run(lambda: _cluster.loads[0]).values()) == [1, 1]


def test_arrays_are_scattered_once_and_give_the_same_rows(client, fashion):
    data = fashion
    small = tuple((x[:1000], y[:1000]) for x, y in data[:2]) + (data[2],)
    here = nnfast.sweep("chapter1", GRID, client=client, data=small, threads=1)
    there = nnfast.sweep("chapter1", GRID, workers=0, data=small, threads=1)
    assert _comparable(here) == _comparable(there)


def test_data_missing_on_the_workers_names_them_and_writes_nothing(client, tmp_path):
    out = tmp_path / "s.json"
    with pytest.raises(ValueError, match=r"not found on worker .*\(worker tcp://"):
        nnfast.sweep("chapter1", GRID, client=client, data=str(tmp_path / "nowhere"), out=out)
    assert not out.exists()


def test_a_cluster_without_workers_is_a_value_error(small):
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty, \
            distributed.Client(empty) as c:
        with pytest.raises(ValueError, match="has no workers"):
            nnfast.sweep("chapter1", GRID, client=c, data=small)
        with pytest.raises(ValueError, match="has no workers"):
            network3.Ensemble([network3.Network([network3.SoftmaxLayer(784, 10)], 10)]).train(
                small[0], 1, 10, 0.1, client=c)


def test_a_scheduler_that_does_not_answer_is_a_value_error():
    with pytest.raises(ValueError, match="scheduler tcp://127.0.0.1:1 did not answer within 1 s"):
        nnfast.sweep("chapter1", GRID, scheduler="tcp://127.0.0.1:1", timeout=1)


def test_ensemble_on_the_cluster_equals_the_ensemble_trained_here(client, fashion):
    tr, va, te = fashion
    data = ((tr[0][:1000], tr[1][:1000]), (va[0][:500], va[1][:500]), (te[0][:500], te[1][:500]))

    def ensemble():
        np.random.seed(0)
        return network3.Ensemble([network3.Network([network3.FullyConnectedLayer(784, 20, p_dropout=0.2),
                                                    network3.SoftmaxLayer(20, 10)], 10) for _ in range(3)])
    here, there = ensemble(), ensemble()
    histories = [nnfast.history.History() for _ in range(3)]
    with contextlib.redirect_stdout(io.StringIO()):
        r_here = here.train(data[0], 1, 10, 0.5, data[1], data[2], shuffle=True, seeds=[1, 2, 3], threads=1)
        r_there = there.train(data[0], 1, 10, 0.5, data[1], data[2], shuffle=True, seeds=[1, 2, 3], client=client,
                              histories=histories, threads=1)
    assert r_here == r_there
    assert [_digest(n) for n in here.nets] == [_digest(n) for n in there.nets]
    assert len({_digest(n) for n in here.nets}) == 3
    assert here.accuracy(*data[2]) == there.accuracy(*data[2])
    assert all(len(h.epochs) == 1 and h.settings["program"] == "network3" for h in histories)


def test_cli_sweep_on_two_workers(small_pickle, tmp_path):
    import subprocess
    import sys
    out = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "nnfast", "sweep", "--net", "chapter1", "--grid", "eta=0.5,3",
                        "--grid", "epochs=1", "--grid", "n_train=1000", "--workers", "2", "--threads", "1",
                        "--dataset", "fashion-mnist", "--data", small_pickle, "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=child_env())
    assert r.returncode == 0, r.stderr
    assert "on 2 worker processes" in r.stdout and r.stdout.count("\npoint ") == 2
    here = nnfast.sweep("chapter1", {"eta": [0.5, 3.0], "epochs": [1], "n_train": [1000]}, workers=0,
                        data=small_pickle, dataset="fashion-mnist", threads=1)
    assert _comparable(nnfast.sweep.load(out)["rows"]) == _comparable(here)


def test_cli_ctrl_c_on_the_cluster_is_one_line_and_keeps_whole_points(small_pickle, tmp_path):
    """Ctrl-C in a terminal reaches the whole process group, the workers too: only the sweep speaks."""
    import json
    import subprocess
    import sys
    out = tmp_path / "s.json"
    p = subprocess.Popen([sys.executable, "-m", "nnfast", "sweep", "--grid", "eta=0.5,1,2,3,4,5", "--grid",
                          "epochs=60", "--workers", "2", "--threads", "1", "--dataset", "fashion-mnist", "--data",
                          small_pickle, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=child_env(), start_new_session=True)
    try:
        for line in p.stdout:
            if line.startswith("point 1/6"):
                os.killpg(p.pid, signal.SIGINT)
                break
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert err.strip().splitlines() == ["nnfast sweep: interrupted; the finished points are in %s "
                                        "(continue with --resume %s)" % (out, out)]
    rows = json.loads(out.read_text())["rows"]
    assert 1 <= len(rows) < 6 and all(len(r["history"]["epochs"]) == 60 for r in rows)


def test_cli_ensemble_on_the_cluster_equals_the_ensemble_trained_here(client, small_pickle, monkeypatch, capsys):
    from nnfast import cli
    from nnfast.cli import chapters as ch
    monkeypatch.setitem(ch.CH6_NETS, "ensemble", ("test", ch._fc_net, ch.CH6_NETS["ensemble"][2]))
    args = ["chapter6", "--net", "ensemble", "--no-expanded", "--ensemble-size", "2", "--dataset", "fashion-mnist",
            "--data", small_pickle, "--epochs", "1", "--n-train", "500", "--seed", "1", "--threads", "1", "--shuffle"]
    lines = []
    for extra in ([], ["--scheduler", client.scheduler.address]):
        assert cli.main(args + extra) == 0
        out = capsys.readouterr().out
        assert out.count("Finished training network.") == 2
        lines.append([l for l in out.splitlines() if l.startswith("Ensemble of 2 networks")])
    assert len(lines[0]) == 1 and lines[0] == lines[1]


def test_a_killed_worker_loses_no_point(client, fashion_dir, tmp_path):
    """Runs last in this module: it kills one of the fixture's worker processes (its nanny starts a new one)."""
    grid = {"eta": [0.5, 1.0, 2.0, 3.0], "epochs": [2], "n_train": [20000]}
    undisturbed = nnfast.sweep("chapter1", grid, client=client, data=fashion_dir, dataset="fashion-mnist", threads=1)
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(row, done, total):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            killed.append(busy[0])
            os.kill(pids[busy[0]], signal.SIGKILL)
    out = tmp_path / "s.json"
    rows = nnfast.sweep("chapter1", grid, client=client, data=fashion_dir, dataset="fashion-mnist", threads=1,
                        out=out, on_point=kill_a_busy_worker)
    assert killed, "no worker was busy when the first point finished"
    assert _comparable(rows) == _comparable(undisturbed)
    assert _comparable(nnfast.sweep.load(out)["rows"]) == _comparable(undisturbed)
