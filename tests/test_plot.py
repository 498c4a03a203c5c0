"""nnfast.plot and `nnfast plot`: the book's figures from histories; bad input is one line, status 2."""
import os
import subprocess
import sys

import pytest

from nnfast.history import History

pytest.importorskip("matplotlib")
from nnfast import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _network2_history(path=None, n=5):
    h = History(path, {"program": "network2", "n_training": 1000, "n_evaluation": 10000})
    for e in range(n):
        h.epochs.append({"epoch": e, "seconds": 0.1, "training_cost": 1.0 / (e + 1),
                         "training_accuracy": 800 + 40 * e, "evaluation_cost": 1.5 - 0.05 * e,
                         "evaluation_accuracy": 8000 + 100 * e})
    if path:
        h.save()
    return h


def _network3_history(n=4):
    h = History(settings={"program": "network3", "n_validation": 10000, "n_test": 10000})
    for e in range(n):
        r = {"epoch": e, "seconds": 2.0, "validation_accuracy": 0.9 + 0.01 * e}
        if e in (0, 2):
            r["test_accuracy"] = 0.905 + 0.01 * e
        h.epochs.append(r)
    return h


def _nnfast(*args):
    return subprocess.run([sys.executable, "-m", "nnfast"] + list(args), capture_output=True, text=True, timeout=120)


def test_series_in_percent():
    s = dict((name, (e, v)) for name, e, v in plot.series(_network2_history(), "accuracy"))
    assert s["training data"] == ([0, 1, 2, 3, 4], [80.0, 84.0, 88.0, 92.0, 96.0])
    assert s["evaluation data"][1][0] == 80.0
    s3 = dict((name, (e, v)) for name, e, v in plot.series(_network3_history(), "accuracy"))
    assert s3["test data"][0] == [0, 2] and s3["validation data"][1][1] == pytest.approx(91.0)
    assert [name for name, _, _ in plot.series(_network2_history(), "cost")] == ["training data", "evaluation data"]


@pytest.mark.parametrize("metric", ["accuracy", "cost", "both"])
def test_writes_a_png(tmp_path, metric):
    a = _network2_history(str(tmp_path / "a.json"))
    out = plot.plot_histories([a.path, _network2_history(n=3)], tmp_path / "fig.png", metric=metric)
    data = open(out, "rb").read()
    assert data[:8] == PNG and 5000 < len(data) < 150000


def test_network3_history_and_labels(tmp_path):
    out = plot.plot_histories([_network3_history(), _network3_history(2)], str(tmp_path / "f.png"),
                              labels=["conv1", "fc"], title="chapter 6")
    assert open(out, "rb").read()[:8] == PNG


def test_plot_errors(tmp_path):
    h = _network2_history()
    with pytest.raises(ValueError, match="no cost recorded"):
        plot.plot_histories([_network3_history()], tmp_path / "f.png", metric="cost")
    with pytest.raises(ValueError, match="labels"):
        plot.plot_histories([h], tmp_path / "f.png", labels=["a", "b"])
    with pytest.raises(ValueError, match="cannot write"):
        plot.plot_histories([h], tmp_path / "no" / "f.png")
    with pytest.raises(ValueError, match=".png, .pdf or .svg"):
        plot.plot_histories([h], tmp_path / "f.txt")
    with pytest.raises(ValueError, match="metric"):
        plot.plot_histories([h], tmp_path / "f.png", metric="speed")


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install nnfast\[plot\]"):
        plot.plot_histories([_network2_history()], tmp_path / "f.png")


def test_cli_plot(tmp_path):
    _network2_history(str(tmp_path / "a.json"))
    _network2_history(str(tmp_path / "b.json"), n=3)
    out = tmp_path / "fig.png"
    r = _nnfast("plot", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-o", str(out), "--metric", "both",
                "--labels", "eta 0.5,eta 0.1")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == PNG and os.path.getsize(out) > 5000


@pytest.mark.parametrize("content", ["{}", "not json", '{"format": "nnfast-history", "version": 2, "epochs": []}'])
def test_cli_plot_of_a_bad_history_is_one_line_status_2(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = _nnfast("plot", str(bad), "-o", str(tmp_path / "f.png"))
    assert r.returncode == 2
    assert r.stderr.startswith("nnfast plot: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "f.png").exists()


def test_cli_plot_missing_file_and_unwritable_output(tmp_path):
    r = _nnfast("plot", str(tmp_path / "nothing.json"), "-o", str(tmp_path / "f.png"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nothing.json" in r.stderr
    _network2_history(str(tmp_path / "a.json"))
    r = _nnfast("plot", str(tmp_path / "a.json"), "-o", str(tmp_path / "no" / "f.png"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot write" in r.stderr
    r = _nnfast("plot", str(tmp_path / "a.json"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "-o" in r.stderr
