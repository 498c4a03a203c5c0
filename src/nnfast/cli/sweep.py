"""``nnfast sweep``: one of the book's networks over a grid of hyper-parameters,
each point a task on a Dask cluster (``nnfast.sweep``)."""
import argparse
import math
import sys

from .common import CommandError, _Formatter, _nonneg_int, _positive_float, _positive_int


def _grid_item(text):
    """``NAME=V1,V2,...`` -> (name, [values as text])."""
    name, eq, values = text.partition("=")
    name = name.strip().replace("-", "_")
    items = [v.strip() for v in values.split(",")]
    if not eq or not name or not values.strip() or not all(items):
        raise argparse.ArgumentTypeError("expected NAME=V1,V2,... (e.g. eta=0.1,0.5,3.0), got %r" % text)
    return name, items


def _value(text):
    """A grid value from the command line: a whole number, a number, or the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _pct(v):
    return "-" if v is None else "%.2f%%" % (100 * v)


def _point_text(point):
    from ..plot import _label
    return " ".join("%s=%s" % (k, _label(v)) for k, v in point.items())


def _summary(rows, seeds):
    """The table: a line per point (and seed), then mean ± sd per point when there are seeds."""
    lines = []
    names = list(rows[0]["point"]) if rows else []
    head = names + ["seed", "accuracy", "best", "seconds", "worker"]
    body = [[_point_text({k: r["point"][k]}).split("=", 1)[1] for k in names] +
            [str(r["seed"]), _pct(r["accuracy"]), _pct(r["best_accuracy"]), "%.1f" % r["seconds"], r["worker"]]
            for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    for line in [head] + body:
        lines.append("  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())
    if len(seeds) > 1:
        lines.append("")
        lines.append("mean ± sd over %d seeds:" % len(seeds))
        groups = {}
        for r in rows:
            groups.setdefault(_point_text(r["point"]), []).append(100 * (r["accuracy"] or 0.0))
        for text, acc in groups.items():
            mean = sum(acc) / len(acc)
            sd = math.sqrt(sum((a - mean) ** 2 for a in acc) / len(acc))
            lines.append("  %s: %.2f%% ± %.2f (%d seeds)" % (text, mean, sd, len(acc)))
    return "\n".join(lines)


def _sweep(args):
    from .. import sweep as _api
    from ..presets import Preset
    if args.workers is not None and args.scheduler is not None:
        raise CommandError("give --workers or --scheduler, not both")
    try:
        preset = Preset.parse(args.net, args.run)
    except ValueError as e:
        raise CommandError(str(e)) from None
    grid = {}
    for name, values in args.grid or []:
        if name in grid:
            raise CommandError("--grid %s given twice" % name)
        grid[name] = [_value(v) for v in values]
    say = (lambda *a: None) if args.quiet else (lambda *a: (print(*a), sys.stdout.flush()))

    def started(info):
        where = ("%d worker processes" % info["workers"]) if info["workers"] else "this process"
        say("sweep of %s: %d points (%d to train) on %s" % (preset.label, info["total"], info["todo"], where))
        if info.get("dashboard"):
            say("Dask dashboard: %s" % info["dashboard"])

    def finished(row, done, total):
        say("point %d/%d: %s seed %d: accuracy %s (best %s) in %.1f s on %s" % (
            done, total, _point_text(row["point"]), row["seed"], _pct(row["accuracy"]), _pct(row["best_accuracy"]),
            row["seconds"], row["worker"]))

    out = args.out or args.resume
    try:
        rows = _api.sweep(preset.label, grid, seeds=args.seeds, seed=args.seed, data=args.data, dataset=args.dataset,
                          expanded=args.expanded, workers=args.workers, scheduler=args.scheduler, timeout=args.timeout,
                          threads=args.threads, out=args.out, resume=args.resume,
                          progress=False if args.quiet else None, on_point=finished, on_start=started)
    except KeyboardInterrupt:
        if out:
            print("\nnnfast sweep: interrupted; the finished points are in %s (continue with --resume %s)"
                  % (out, out), file=sys.stderr)
        else:
            print("\nnnfast sweep: interrupted", file=sys.stderr)
        return 130
    print(_summary(rows, sorted({r["seed"] for r in rows})))
    if out:
        say("wrote %s (draw it with `nnfast plot %s -o sweep.png`)" % (out, out))
    return 0


def _wrap(text):
    import textwrap
    return "\n\n".join(textwrap.fill(part, 100) for part in text.split("\n\n"))


def register(sub):
    p = sub.add_parser(
        "sweep", help="train a preset over a grid of hyper-parameters on a Dask cluster",
        formatter_class=_Formatter,
        description=_wrap("Train one of the book's networks at every point of a grid of hyper-parameters (the "
                    "Cartesian product of the --grid values), each point with --seeds seeds, each a task on "
                    "Dask's distributed scheduler: a LocalCluster of --workers processes here, or the cluster "
                    "at --scheduler.  A point trained on the cluster ends with exactly the weights and "
                    "accuracies it has trained alone with the same seed.  Needs dask[distributed] "
                    "(pip install nnfast[cluster]).\n\nGrid parameters (by preset): eta, mini_batch_size, "
                    "epochs, n_train, dtype (all); sizes (chapter1, chapter3; as 784-30-10); lmbda, p_dropout "
                    "(chapter3, chapter6:dropout); cost, init (chapter3); shuffle (chapter6)"),
        epilog="examples:\n  nnfast sweep --net chapter1 --grid eta=0.5,1,3 --grid epochs=5 --seeds 3 --out eta.json\n"
               "  nnfast sweep --net chapter3 --run l2 --grid eta=0.1,0.5 --grid lmbda=1,5 --workers 2\n"
               "  nnfast sweep --net chapter6:conv1 --grid eta=0.03,0.1 --scheduler tcp://head:8786\n"
               "  nnfast plot eta.json -o eta.png")
    p.add_argument("--net", default="chapter1",
                   help="the preset: chapter1, chapter3 (with --run, or chapter3:RUN) or chapter6:NET")
    p.add_argument("--run", help="chapter3's run or chapter6's net (as chapter3 --run / chapter6 --net)")
    p.add_argument("--grid", action="append", type=_grid_item, metavar="NAME=V1,V2,...",
                   help="a grid parameter and its values (repeat for more; one value fixes it)")
    p.add_argument("--seeds", type=_positive_int, default=1, help="seeds per point: --seed, --seed+1, ...")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="the first seed")
    p.add_argument("--workers", type=_nonneg_int,
                   help="worker processes of a LocalCluster (default: one per core; 0: in this process, "
                        "without Dask)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use the Dask cluster there (tcp://host:8786)")
    p.add_argument("--timeout", type=_positive_float, default=10.0,
                   help="seconds to wait for --scheduler to answer")
    p.add_argument("--threads", type=_positive_int,
                   help="native threads per task (default: cores / workers here; on --scheduler 1, as Dask "
                        "starts its workers with OMP_NUM_THREADS=1)")
    from .. import mnist_loader
    p.add_argument("--dataset", default="mnist", choices=mnist_loader.DATASETS, help="which data set")
    p.add_argument("--data", metavar="PATH",
                   help="data folder as the workers see it (default: each worker's $NNFAST_DATA/<dataset>, "
                        "then ~/.cache/nnfast/<dataset>)")
    p.add_argument("--expanded", action=argparse.BooleanOptionalAction, default=None,
                   help="chapter 6: train on the expanded data (default: the net's)")
    p.add_argument("--out", metavar="SWEEP.json", help="write every finished point there (atomically, as it ends)")
    p.add_argument("--resume", metavar="SWEEP.json", help="keep the points already in this file, train the rest "
                                                          "(--out defaults to it)")
    p.add_argument("--quiet", action="store_true", help="only the final table")
    p.set_defaults(func=_sweep)
    return p
