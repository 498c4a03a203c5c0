"""``nnfast chapter4`` and ``nnfast chapter5``: they print their tables, write the figure, and
turn a user's mistake into one line on stderr and exit status 2."""
import os
import re
import sys

import pytest

from nnfast.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def needs_matplotlib():
    pytest.importorskip("matplotlib", reason="matplotlib (optional, for -o figures) is not installed")


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_chapter4_table_and_figure(tmp_path, capsys):
    needs_matplotlib()
    out = tmp_path / "bumps.png"
    assert main(["chapter4", "--bumps", "3", "30", "-o", str(out)]) == 0
    assert is_png(out) and os.path.getsize(out) > 10000
    text = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+\[1, (\d+), 1\]\s+([\d.]+)\s+([\d.]+)", text, re.M)
    assert [(int(n), int(h)) for n, h, _, _ in rows] == [(3, 6), (30, 60)]
    assert float(rows[1][2]) < float(rows[0][2]) / 4            # 30 bumps: far smaller error
    assert "Wrote " + str(out) in text


def test_chapter4_without_figure_needs_no_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # import matplotlib now fails
    assert main(["chapter4", "--bumps", "4", "--steepness", "1000"]) == 0
    assert "[1, 8, 1]" in capsys.readouterr().out
    assert main(["chapter4", "--bumps", "4", "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and err.count("\n") == 1 and not os.path.exists(tmp_path / "f.png")


def test_unwritable_output_is_one_line_before_any_work(tmp_path, capsys):
    assert main(["chapter4", "-o", str(tmp_path / "no" / "such" / "dir" / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfast chapter4: cannot write") and err.count("\n") == 1


def test_output_under_a_file_is_one_line(tmp_path, capsys):
    """A path whose folder is a regular file cannot be written, even by root."""
    (tmp_path / "plain").write_text("not a folder")
    assert main(["chapter4", "-o", str(tmp_path / "plain" / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfast chapter4: ") and err.count("\n") == 1


@pytest.mark.parametrize("args", [["chapter4", "--bumps", "0"], ["chapter4", "--bumps", "x"],
                                  ["chapter4", "--steepness", "-1"], ["chapter5", "--epochs", "-1"],
                                  ["chapter5", "--eta", "0"], ["chapter5", "--lmbda", "-2"]])
def test_bad_flags_exit_2(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert args[1] in capsys.readouterr().err


def test_help_shows_defaults(capsys):
    for command, needle in (("chapter4", "(default: [5, 10, 50])"), ("chapter5", "epochs per network (default: 500)")):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        assert needle in " ".join(capsys.readouterr().out.split())


def test_chapter5_small_run(fashion_dir, tmp_path, capsys):
    needs_matplotlib()
    out = tmp_path / "speed.png"
    status = main(["chapter5", "--dataset", "fashion-mnist", "--data", fashion_dir, "--epochs", "2",
                   "--train-size", "200", "--hidden-layers", "2", "3", "--seed", "1", "--threads", "1",
                   "-o", str(out)])
    assert status == 0 and is_png(out)
    text = capsys.readouterr().out
    starts = re.findall(r"^\[784, (?:30, )+10\] at the start: (.*)$", text, re.M)
    assert len(starts) == 2 and [len(s.split()) for s in starts] == [2, 3]
    speeds = [float(v) for v in starts[1].split()]
    assert speeds[0] < speeds[1] < speeds[2]                  # earlier layers learn more slowly
    assert len(re.findall(r"after epoch\s+1:", text)) == 2
    assert "dC/db_1" in text and "25, 25, 25" in text


def test_chapter5_missing_data(tmp_path, capsys):
    assert main(["chapter5", "--data", str(tmp_path / "nothing"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfast chapter5:") and "Traceback" not in err
