"""Every command's errors end with exit status 2 and a short message (README "Command line")."""
import sys

from nnfast.cli.main import main
from nnfast.history import History


def test_plot_without_matplotlib_is_status_2(tmp_path, monkeypatch, capsys):
    h = History(str(tmp_path / "h.json"), {"program": "network2", "n_training": 10, "n_evaluation": 10})
    h.epochs.append({"epoch": 0, "seconds": 0.1, "training_cost": 1.0, "training_accuracy": 5,
                     "evaluation_cost": 1.0, "evaluation_accuracy": 5})
    h.save()
    for m in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, m, None)       # import matplotlib now fails
    assert main(["plot", str(tmp_path / "h.json"), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err == "nnfast plot: plotting needs matplotlib: pip install nnfast[plot]\n"
    assert not (tmp_path / "f.png").exists()

