"""The command line: the main job runs and prints the book's lines; bad flags exit 2 with one line."""
import os
import subprocess
import sys

import pytest


def _nnfast(*args, env=None):
    return subprocess.run([sys.executable, "-m", "nnfast"] + list(args), capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, **(env or {})))


def test_chapter1_on_mnist(mnist_full_dir):
    r = _nnfast("chapter1", "--data", mnist_full_dir, "--epochs", "2",
                "--sizes", "784,20,10", "--seed", "3", "--threads", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    epochs = [l for l in lines if l.startswith("Epoch")]
    assert len(epochs) == 2
    assert epochs[0].startswith("Epoch 0: ") and "/ 10000" in epochs[0] and epochs[0].endswith(" s]")
    correct = int(epochs[1].split(":")[1].split("/")[0])
    assert correct > 8000                      # MNIST after two epochs: far above chance (1000)
    assert "per epoch" in lines[-1]


def test_same_seed_same_run(mnist_full_dir):
    outs = []
    for threads in ("1", "2"):
        r = _nnfast("chapter1", "--data", mnist_full_dir, "--epochs", "1",
                    "--sizes", "784,10", "--seed", "5", "--threads", threads)
        assert r.returncode == 0, r.stderr
        outs.append([l.split("[")[0] for l in r.stdout.splitlines() if l.startswith("Epoch")])
    assert outs[0] == outs[1]


@pytest.mark.parametrize("args,needle", [
    (["chapter1", "--epochs", "x"], "--epochs"),
    (["chapter1", "--eta", "-1"], "--eta"),
    (["chapter1", "--sizes", "784"], "--sizes"),
    (["chapter1", "--sizes", "100,10"], "784"),
    (["chapter1", "--dataset", "cifar"], "--dataset"),
    (["chapter1", "--threads", "0"], "--threads"),
    (["nosuch"], "invalid choice"),
])
def test_bad_flags_exit_2_with_a_reason(args, needle):
    r = _nnfast(*args)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_missing_data_is_one_clear_line(tmp_path):
    r = _nnfast("chapter1", "--data", str(tmp_path / "nothing"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "nnfast chapter1:" in r.stderr


def test_info_and_help():
    r = _nnfast("info")
    assert r.returncode == 0 and "OpenMP" in r.stdout and "SIMD" in r.stdout
    r = _nnfast("chapter1", "--help")
    assert r.returncode == 0 and "default: 30" in r.stdout.replace("(default: 30)", "default: 30")


@pytest.mark.parametrize("args", [["download", "--no-such-flag"], ["expand", "--no-such-flag"],
                                  ["download", "--dataset", "cifar"]])
def test_download_and_expand_bad_flags_are_one_line_with_status_2(args, capsys):
    from nnfast.cli import main
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
