"""``nnfast reproduce``: a tiny run of a few rows on a subset of MNIST writes the results file and
the README table, and a second run continues each row where the first stopped, ending where an
uninterrupted run ends."""
import json
import os

import pytest

from conftest import _need
from nnfast.cli import reproduce

ROWS = "ch1-30,ch3-l2,ch6-fc"


@pytest.fixture(scope="module")
def mnist_full():
    return _need("mnist", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"])


def _run(tmp, data, work, *extra, rows=ROWS):
    argv = ["--rows", rows, "--data", data, "--work", str(tmp / work), "--json", str(tmp / (work + ".json")),
            "--readme", str(tmp / "README.md"), "--n-train", "200", "--n-eval", "50", "--threads", "1"] + list(extra)
    assert reproduce.main(argv) == 0
    with open(tmp / (work + ".json")) as f:
        return {r["id"]: r for r in json.load(f)["rows"]}


def _epochs(tmp, work, row):
    with open(tmp / work / "seed0" / (row + "-n200-50") / "epochs.json") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in json.load(f)]


def test_tiny_run_resumes_where_it_stopped(tmp_path, mnist_full, capsys):
    (tmp_path / "README.md").write_text("# x\n\n%s\nold\n%s\n\nafter\n" % (reproduce.BEGIN, reproduce.END))
    first = _run(tmp_path, mnist_full, "w", "--epochs-cap", "2")
    assert list(first) == ROWS.split(",")
    for row_id, r in first.items():
        assert r["epochs_run"] == 2 and r["status"] == "partial" and r["seed"] == 0
        assert r["book_epochs"] == {"ch1-30": 30, "ch3-l2": 30, "ch6-fc": 60}[row_id]
        assert r["command"].startswith("nnfast reproduce --rows %s --seed 0" % row_id)
        assert "--epochs-cap 2" in r["command"] and 0 <= r["accuracy"] <= 100 and r["seconds"] >= 0
    assert first["ch1-30"]["book_accuracy"] == 95.42 and first["ch6-fc"]["book_accuracy"] == 97.80
    assert "best_validation_accuracy" in first["ch6-fc"] and "last_accuracy" in first["ch1-30"]
    readme = (tmp_path / "README.md").read_text()
    assert "old" not in readme and readme.endswith("\nafter\n") and "| 1 | `ch1-30`" in readme
    assert "partial: 2 of the book's 30 epochs" in readme

    # the second run trains only the third epoch of each row (one "Epoch 2" line each)
    capsys.readouterr()
    second = _run(tmp_path, mnist_full, "w", "--epochs-cap", "3")
    out = capsys.readouterr().out
    assert "Epoch 0" not in out and "Epoch 1" not in out and out.count("Epoch 2") >= 3
    straight = _run(tmp_path, mnist_full, "fresh", "--epochs-cap", "3")
    for row_id in first:
        assert second[row_id]["epochs_run"] == 3
        assert second[row_id]["accuracy"] == straight[row_id]["accuracy"]
        assert _epochs(tmp_path, "w", row_id) == _epochs(tmp_path, "fresh", row_id)

    # --collect writes the rows from the work folder without training
    os.remove(tmp_path / "w.json")
    capsys.readouterr()
    collected = _run(tmp_path, mnist_full, "w", "--collect")
    assert "Epoch" not in capsys.readouterr().out
    assert {k: (r["accuracy"], r["epochs_run"]) for k, r in collected.items()} == \
        {k: (r["accuracy"], r["epochs_run"]) for k, r in second.items()}
    assert collected["ch1-30"]["command"] == second["ch1-30"]["command"]   # the command that trained it


def test_table_only_and_notes(tmp_path):
    path = tmp_path / "r.json"
    row = dict(id="ch1-30", chapter=1, experiment="x", book_accuracy=95.42, accuracy=95.21, epochs_run=30,
               book_epochs=30, members=1, status="complete", seconds=7.2, note="within the spread of seeds")
    path.write_text(json.dumps({"format": reproduce.FORMAT, "version": 1, "rows": [row]}))
    (tmp_path / "README.md").write_text("%s\n%s\n" % (reproduce.BEGIN, reproduce.END))
    assert reproduce.main(["--table-only", "--json", str(path), "--readme", str(tmp_path / "README.md")]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "| 95.42% | 95.21% | 30 (30) | 7 | within the spread of seeds |" in text


@pytest.mark.parametrize("argv,needle", [(["--rows", "ch9"], "unknown row"), (["--epochs-cap", "0"], "--epochs-cap"),
                                         (["--pixel-scale", "100"], "--pixel-scale")])
def test_bad_arguments_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        reproduce.main(argv)
    assert e.value.code == 2 and needle in capsys.readouterr().err


def test_rows_selection():
    assert reproduce._rows_arg("ch1") == ["ch1-30", "ch1-100"]
    assert reproduce._rows_arg("ch6-*")[0] == "ch6-fc" and reproduce._rows_arg("all") == reproduce.ROW_IDS
    assert reproduce._rows_arg("ch3-l2,ch1-30") == ["ch3-l2", "ch1-30"]


def test_ensemble_row_votes_and_collects_from_checkpoints(tmp_path, mnist_full, monkeypatch):
    row = reproduce.Row("t-ensemble", 6, "three fc networks voting", 99.0, 3, reproduce._CH6, program="network3",
                        net="fc", eta=0.1, lmbda=0.0, expanded=False, members=3)
    monkeypatch.setattr(reproduce, "ROWS", reproduce.ROWS + [row])
    monkeypatch.setattr(reproduce, "ROW_IDS", reproduce.ROW_IDS + [row.id])
    first = _run(tmp_path, mnist_full, "w", "--epochs-cap", "1", rows=row.id)[row.id]
    assert first["epochs_run"] == 1 and first["status"] == "partial" and len(first["member_accuracies"]) == 3
    assert first["accuracy"] is not None and first["members"] == 3
    for k in (1, 2, 3):       # collect rebuilds every member from its checkpoint
        os.remove(tmp_path / "w" / "seed0" / "t-ensemble-n200-50" / ("net%d" % k) / "net.npz")
    again = _run(tmp_path, mnist_full, "w", "--collect", rows=row.id)[row.id]
    assert again["accuracy"] == first["accuracy"] and again["member_accuracies"] == first["member_accuracies"]
