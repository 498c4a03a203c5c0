"""The book's figures from training histories: accuracy and cost against epoch.

Chapter 3 learns from pictures like these: the cost on the training data
falling smoothly while the accuracy on the test data stops improving is what
overfitting looks like; curves for several learning rates or initialisations
side by side show which learns faster.  ``plot_histories`` draws them from
histories that ``SGD(history=...)`` or ``nnfast ... --history`` saved::

    from nnfast import plot
    plot.plot_histories(["lmbda0.json", "lmbda01.json"], "overfitting.png",
                        metric="both", labels=["lmbda 0", "lmbda 0.1"])

Accuracies are drawn in percent (network and network2 record counts; the
history's settings hold the data sizes).  Needs matplotlib
(``pip install nnfast[plot]``); it draws off-screen (Agg), leaving pyplot's
state alone.
"""
import os

from .history import History

__all__ = ["plot_histories", "series"]

# (record key, legend name, size setting for counts) per metric
_SERIES = {
    "accuracy": [("training_accuracy", "training data", "n_training"),
                 ("evaluation_accuracy", "evaluation data", "n_evaluation"),
                 ("validation_accuracy", "validation data", "n_validation"),
                 ("test_accuracy", "test data", "n_test")],
    "cost": [("training_cost", "training data", None),
             ("evaluation_cost", "evaluation data", None)],
}


def _as_history(h):
    return h if isinstance(h, History) else History.load(h)


def series(history, metric):
    """[(name, epochs, values)] of ``metric`` ("accuracy" in percent, or "cost") in ``history``."""
    if metric not in _SERIES:
        raise ValueError("metric must be 'accuracy' or 'cost', not %r" % (metric,))
    out = []
    for key, name, size_key in _SERIES[metric]:
        epochs, values = history.column(key)
        if not values:
            continue
        if metric == "accuracy":
            if all(isinstance(v, int) for v in values):          # counts (network, network2)
                size = history.settings.get(size_key)
                if not size:
                    raise ValueError("history: %s holds counts but its settings lack %s" % (key, size_key))
                values = [100.0 * v / size for v in values]
            else:                                                 # fractions (network3)
                values = [100.0 * v for v in values]
        out.append((name, epochs, values))
    return out


def _check_output(out):
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise ValueError("%s: is a folder, not a figure file" % out)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ValueError("%s: cannot write there (no such folder, or not writable)" % out)
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".pdf", ".svg"):
        raise ValueError("%s: the figure's name must end in .png, .pdf or .svg" % out)


def plot_histories(histories, out, metric="accuracy", labels=None, title=None):
    """Draw ``metric`` ("accuracy", "cost" or "both") against epoch for each history
    (paths or ``History`` objects), overlaid, and write the figure to ``out``
    (.png, .pdf or .svg).  ``labels`` name the runs (default: the files' names).
    Returns ``out``."""
    if isinstance(histories, (str, os.PathLike, History)):
        histories = [histories]
    histories = list(histories)
    if not histories:
        raise ValueError("no histories given")
    if metric not in ("accuracy", "cost", "both"):
        raise ValueError("metric must be 'accuracy', 'cost' or 'both', not %r" % (metric,))
    if labels is not None and len(labels) != len(histories):
        raise ValueError("%d labels for %d histories" % (len(labels), len(histories)))
    out = os.fspath(out)
    _check_output(out)
    loaded = [_as_history(h) for h in histories]
    several = len(loaded) > 1 or labels is not None
    if labels is None:
        labels = [os.path.splitext(os.path.basename(h.path))[0] if h.path else "run %d" % (k + 1)
                  for k, h in enumerate(loaded)]
    metrics = ["accuracy", "cost"] if metric == "both" else [metric]
    drawn = {m: [(label, series(h, m)) for label, h in zip(labels, loaded)] for m in metrics}
    for m in metrics:
        if not any(s for _, s in drawn[m]):
            raise ValueError("no %s recorded in %s (monitor it: e.g. --monitor all, or "
                             "monitor_..._%s=True in SGD)" % (m, ", ".join(labels), m))
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install nnfast[plot]") from None

    fig = Figure(figsize=(5.2 * len(metrics), 3.8), dpi=100)
    FigureCanvasAgg(fig)
    for i, m in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for label, lines in drawn[m]:
            for name, epochs, values in lines:
                sparse = len(values) < 0.6 * (max(epochs) - min(epochs) + 1)
                ax.plot(epochs, values, marker="o" if sparse or len(values) == 1 else None, markersize=3,
                        linewidth=1.5, label="%s: %s" % (label, name) if several else name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Accuracy (%)" if m == "accuracy" else "Cost")
        ax.set_title(("Accuracy" if m == "accuracy" else "Cost") if title is None or len(metrics) > 1 else title,
                     fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title is not None and len(metrics) > 1:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    if out.lower().endswith(".png"):
        fig.savefig(out, pil_kwargs={"optimize": True})      # smaller files, same pixels
    else:
        fig.savefig(out)
    return out
