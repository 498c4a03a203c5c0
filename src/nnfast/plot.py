"""The book's figures from training histories: accuracy and cost against epoch.

Chapter 3 learns from pictures like these: the cost on the training data
falling smoothly while the accuracy on the test data stops improving is what
overfitting looks like; curves for several learning rates or initialisations
side by side show which learns faster.  ``plot_histories`` draws them from
histories that ``SGD(history=...)`` or ``nnfast ... --history`` saved::

    from nnfast import plot
    plot.plot_histories(["lmbda0.json", "lmbda01.json"], "overfitting.png",
                        metric="both", labels=["lmbda 0", "lmbda 0.1"])

``plot_sweep`` draws a sweep (``nnfast.sweep(out=...)``, ``nnfast sweep --out``):
accuracy against one grid parameter, or a heat map over two, each point the
mean over its seeds with their standard deviation as error bars.

Accuracies are drawn in percent (network and network2 record counts; the
history's settings hold the data sizes).  Needs matplotlib
(``pip install nnfast[plot]``); it draws off-screen (Agg), leaving pyplot's
state alone.
"""
import os

from .history import History

__all__ = ["plot_histories", "series", "plot_sweep", "sweep_table", "is_sweep"]

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


def _figure_modules():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install nnfast[plot]") from None
    return FigureCanvasAgg, Figure, MaxNLocator


def _save(fig, out):
    fig.tight_layout()
    if out.lower().endswith(".png"):
        fig.savefig(out, pil_kwargs={"optimize": True})      # smaller files, same pixels
    else:
        fig.savefig(out)
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
    FigureCanvasAgg, Figure, MaxNLocator = _figure_modules()
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
    return _save(fig, out)


# ---------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------

def is_sweep(path):
    """Whether ``path`` is a sweep file (``"format": "nnfast-sweep"``) rather than a history."""
    import json
    try:
        with open(os.fspath(path), encoding="utf-8") as f:
            return json.load(f).get("format") == "nnfast-sweep"
    except (OSError, ValueError, AttributeError):
        return False


def _label(v):
    return "-".join(str(x) for x in v) if isinstance(v, list) else ("%g" % v if isinstance(v, float) else str(v))


def sweep_table(sweep, params=None, metric="accuracy"):
    """``(params, {values: (mean %, std %, n seeds)})``: ``metric`` over the seeds (and over
    any grid parameter not in ``params``) at each combination of ``params``' values.
    ``params`` default: the grid parameters with more than one value."""
    import numpy as np
    grid = sweep["grid"]
    if params is None:
        params = [k for k, v in grid.items() if len(v) > 1] or list(grid)[:1]
    unknown = [p for p in params if p not in grid]
    if unknown:
        raise ValueError("sweep: no grid parameter %r; the grid has %s" % (unknown[0], ", ".join(grid)))
    if not 1 <= len(params) <= 2:
        raise ValueError("sweep: can draw one or two grid parameters, not %d (%s); choose with --params A,B"
                         % (len(params), ", ".join(params)))
    groups = {}
    for row in sweep["rows"]:
        if row.get(metric) is not None:
            groups.setdefault(tuple(_label(row["point"][p]) for p in params), []).append(100.0 * row[metric])
    if not groups:
        raise ValueError("sweep: no finished point has %s" % metric)
    return params, {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in groups.items()}


def plot_sweep(sweep, out, params=None, metric="accuracy", title=None):
    """Draw a sweep (a path, or the dict ``nnfast.sweep.load`` returns) to ``out``: its
    ``metric`` ("accuracy", the last epoch's, or "best_accuracy") against one grid
    parameter with the seeds' spread as error bars, or as a heat map over two."""
    from . import sweep as _sweep
    if metric not in ("accuracy", "best_accuracy"):
        raise ValueError("metric must be 'accuracy' or 'best_accuracy' for a sweep, not %r" % (metric,))
    out = os.fspath(out)
    _check_output(out)
    data = sweep if isinstance(sweep, dict) else _sweep.load(sweep)
    params, table = sweep_table(data, params, metric)
    FigureCanvasAgg, Figure, _ = _figure_modules()
    axes = [[_label(v) for v in data["grid"][p]] for p in params]
    name = "%s accuracy (%%)" % ("best" if metric == "best_accuracy" else "final")
    fig = Figure(figsize=(5.6, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if len(params) == 1:
        xs = [v for v in axes[0] if (v,) in table]
        means = [table[(v,)][0] for v in xs]
        spread = [table[(v,)][1] for v in xs]
        ax.errorbar(range(len(xs)), means, yerr=spread, marker="o", capsize=4, linewidth=1.5)
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels(xs)
        ax.set_xlabel(params[0])
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    else:
        import numpy as np
        ys, xs = axes
        grid = np.full((len(ys), len(xs)), np.nan)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                if (yv, xv) in table:
                    grid[i, j] = table[(yv, xv)][0]
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        fig.colorbar(image, ax=ax, label=name)
        for (yv, xv), (mean, std, n) in table.items():
            light = image.norm(mean) > 0.6            # dark text on viridis' light end
            ax.text(xs.index(xv), ys.index(yv), "%.2f" % mean + ("\n±%.2f" % std if n > 1 else ""),
                    ha="center", va="center", fontsize="x-small", color="black" if light else "white")
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels(xs)
        ax.set_yticks(range(len(ys)))
        ax.set_yticklabels(ys)
        ax.set_xlabel(params[1])
        ax.set_ylabel(params[0])
    seeds = len(data.get("seeds", [])) or 1
    ax.set_title(title or "%s: %d of %d points%s" % (data.get("net", "sweep"), len(data["rows"]),
                                                       len(_sweep.plan(data["grid"], data.get("seeds", [0]))),
                                                       ", mean ± sd of %d seeds" % seeds if seeds > 1 else ""),
                 fontsize="medium")
    return _save(fig, out)
