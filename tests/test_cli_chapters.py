"""`nnfast chapter3`, `chapter6` and the common flags: the book's lines on stdout,
histories that agree with them, and bad input as one line with status 2."""
import subprocess
import sys

import pytest

from nnfast import cli
from nnfast.history import History

from conftest import child_env


def _nnfast(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnfast"] + list(args), capture_output=True, text=True,
                          timeout=300, env=child_env(**(env or {})), cwd=cwd)


def _one_line_error(r, command):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("nnfast %s" % command) and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_chapter3_overfitting_run_and_its_history(fashion_dir, tmp_path):
    h = tmp_path / "over.json"
    r = _nnfast("chapter3", "--run", "overfitting", "--dataset", "fashion-mnist", "--data", fashion_dir,
                "--epochs", "3", "--seed", "1", "--threads", "1", "--history", str(h), "--save", str(tmp_path / "n.json"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""                                  # not a terminal: no bar
    lines = r.stdout.splitlines()
    assert "1000 training images" in lines[0]
    assert [l.split("   [")[0] for l in lines if l.startswith("Epoch")] == [
        "Epoch %d training complete" % j for j in range(3)]
    hist = History.load(h)
    assert hist.settings["run"] == "overfitting" and hist.settings["n_training"] == 1000
    assert hist.settings["dataset"] == "fashion-mnist" and hist.settings["seed"] == 1
    printed = [int(l.split(": ")[1].split(" /")[0]) for l in lines if l.startswith("Accuracy on evaluation")]
    assert [r["evaluation_accuracy"] for r in hist.epochs] == printed
    costs = [float(l.split(": ")[1]) for l in lines if l.startswith("Cost on training")]
    assert [r["training_cost"] for r in hist.epochs] == costs
    from nnfast import network2
    assert network2.load(str(tmp_path / "n.json")).sizes == [784, 30, 10]


def test_chapter3_flags_override_the_preset_and_quiet_leaves_only_book_lines(fashion_dir):
    r = _nnfast("chapter3", "--run", "l2", "--dataset", "fashion-mnist", "--data", fashion_dir, "--epochs", "1",
                "--n-train", "500", "--sizes", "784,10", "--monitor", "training-cost,evaluation-accuracy",
                "--evaluate", "validation", "--quiet", "--seed", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Epoch 0 training complete"
    assert lines[1].startswith("Cost on training data: ")
    assert lines[2].startswith("Accuracy on evaluation data: ") and lines[2].endswith(" / 10000")
    assert lines[3:] == [""]


def test_chapter6_fc_run(mnist_full_dir, tmp_path):
    h = tmp_path / "fc.json"
    r = _nnfast("chapter6", "--net", "fc", "--data", mnist_full_dir, "--epochs", "2",
                "--n-train", "2000", "--seed", "1", "--history", str(h), "--save", str(tmp_path / "fc.npz"),
                "--threads", "1")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "Training mini-batch number 0" in out and "Finished training network." in out
    val = [float(l.split("accuracy ")[1].split("%")[0]) for l in out if l.startswith("Epoch")]
    hist = History.load(h)
    assert [round(100 * r["validation_accuracy"], 2) for r in hist.epochs] == val
    assert hist.settings["net"] == "fc" and hist.settings["eta"] == 0.1 and hist.settings["dtype"] == "float32"
    from nnfast import network3
    assert len(network3.load(str(tmp_path / "fc.npz")).layers) == 2


def test_chapter6_ensemble_votes(fashion_dir, monkeypatch, capsys, tmp_path):
    from nnfast.cli import chapters as ch
    # the book's members are dropout networks; small fully connected ones keep the test fast
    monkeypatch.setitem(ch.CH6_NETS, "ensemble", ("test", ch._fc_net, ch.CH6_NETS["ensemble"][2]))
    code = cli.main(["chapter6", "--net", "ensemble", "--no-expanded", "--ensemble-size", "2", "--dataset",
                     "fashion-mnist", "--data", fashion_dir, "--epochs", "1", "--n-train", "500", "--seed", "1", "--threads", "1",
                     "--history", str(tmp_path / "e.json"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("Finished training network.") == 2
    line = [l for l in out.splitlines() if l.startswith("Ensemble of 2 networks: test accuracy")]
    assert len(line) == 1
    assert History.load(tmp_path / "e-1.json").settings["member"] == "1"
    assert History.load(tmp_path / "e-1.json").settings["command"].startswith("nnfast chapter6 --net ensemble")
    assert len(History.load(tmp_path / "e-2.json").epochs) == 1


def test_chapter6_expanded_data_missing_says_how_to_make_it(fashion_dir):
    r = _nnfast("chapter6", "--net", "expanded", "--dataset", "fashion-mnist", "--data", fashion_dir, "--epochs", "1")
    _one_line_error(r, "chapter6")
    assert "nnfast expand --dataset fashion-mnist" in r.stderr


@pytest.mark.parametrize("command", ["chapter1", "chapter3", "chapter6"])
def test_missing_data_offers_download(command, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _nnfast(command, "--epochs", "1", "--dataset", "fashion-mnist",
                env={"NNFAST_DATA": str(empty), "HOME": str(tmp_path)}, cwd=str(tmp_path))
    _one_line_error(r, command)
    assert "--download" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["chapter3", "--run", "nosuch"], "--run"),
    (["chapter6", "--net", "nosuch"], "--net"),
    (["chapter6", "--eta", "0"], "--eta"),
    (["chapter3", "--lmbda", "-1"], "--lmbda"),
    (["chapter3", "--monitor", "speed"], "--monitor"),
    (["chapter3", "--sizes", "784,30"], "10"),
    (["chapter6", "--epochs", "-3"], "--epochs"),
    (["plot"], "HISTORY"),
])
def test_bad_flags_one_line_status_2(args, needle):
    r = _nnfast(*args)
    _one_line_error(r, args[0])
    assert needle in r.stderr


@pytest.mark.parametrize("flag", ["--history", "--save"])
def test_unwritable_output_fails_before_training(flag, tmp_path):
    r = _nnfast("chapter3", flag, str(tmp_path / "no" / "x.json"))
    _one_line_error(r, "chapter3")
    assert flag in r.stderr and "no folder" in r.stderr


def test_help_shows_presets_and_defaults():
    for command, needles in (("chapter3", ["overfitting-l2", "default: cross-entropy", "87.1%"]),
                             ("chapter6", ["ensemble", "default: conv1", "default: float32", "99.67%"]),
                             ("plot", ["--metric", "default: accuracy"])):
        r = _nnfast(command, "--help")
        text = " ".join(r.stdout.split())
        assert r.returncode == 0 and all(n in text for n in needles), (command, text)


def test_presets_hold_the_books_hyperparameters():
    from nnfast.cli import chapters as ch
    assert ch.CH3_RUNS["overfitting"][1]["epochs"] == 400 and ch.CH3_RUNS["overfitting"][1]["n_train"] == 1000
    assert ch.CH3_RUNS["overfitting-l2"][1]["lmbda"] == 0.1 and ch.CH3_RUNS["l2"][1]["lmbda"] == 5.0
    assert ch.CH3_RUNS["cross-entropy"][1]["eta"] == 0.5
    six = {k: v[2] for k, v in ch.CH6_NETS.items()}
    assert six["fc"] == dict(epochs=60, eta=0.1, lmbda=0.0, expanded=False)
    assert six["relu"]["eta"] == 0.03 and six["relu"]["lmbda"] == 0.1
    assert six["dropout"]["epochs"] == 40 and six["dropout"]["expanded"]
    layers = ch.CH6_NETS["dropout"][1](10)
    assert [getattr(l, "p_dropout", 0) for l in layers] == [0, 0, 0.5, 0.5, 0.5]


def test_chapter1_save_and_history(fashion_dir, tmp_path):
    r = _nnfast("chapter1", "--dataset", "fashion-mnist", "--data", fashion_dir, "--epochs", "2", "--sizes",
                "784,10", "--seed", "4", "--quiet", "--history", str(tmp_path / "h.json"),
                "--save", str(tmp_path / "n.json"))
    assert r.returncode == 0, r.stderr
    printed = [int(l.split(": ")[1].split(" /")[0]) for l in r.stdout.splitlines()]
    assert r.stdout.splitlines()[0].startswith("Epoch 0: ") and len(printed) == 2     # --quiet: book lines only
    assert History.load(tmp_path / "h.json").column("evaluation_accuracy") == ([0, 1], printed)
    from nnfast import network2
    net = network2.load(str(tmp_path / "n.json"))
    assert net.sizes == [784, 10] and net.cost is network2.QuadraticCost


def test_add_common_lets_a_command_replace_a_flag():
    """Other commands register with register(sub, _add_common) and may define their own --epochs."""
    import argparse
    p = argparse.ArgumentParser()
    from nnfast.cli.common import _add_common
    _add_common(p)
    p.add_argument("--epochs", type=int, default=7)
    args = p.parse_args(["--dataset", "fashion-mnist", "--quiet"])
    assert args.epochs == 7 and args.dataset == "fashion-mnist" and args.quiet and args.history is None


def test_chapter6_expanded_net_reads_the_expanded_file(mnist_test_arrays, tmp_path):
    """`nnfast expand` writes a .npz of the three sets; --data takes it (small sets here, for speed)."""
    from nnfast import expand_mnist
    X, y = mnist_test_arrays
    path = str(tmp_path / "mnist_expanded.npz")
    expand_mnist.save_npz(path, (X[:300], y[:300]), (X[300:400], y[300:400]), (X[400:500], y[400:500]))
    r = _nnfast("chapter6", "--net", "expanded", "--data", path, "--epochs", "1", "--seed", "1", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "(expanded)" in r.stdout and "300 training, 100 validation, 100 test images" in r.stdout
    assert "eta 0.03, lmbda 0.1" in r.stdout and "Finished training network." in r.stdout
