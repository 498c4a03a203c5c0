"""``nnfast`` / ``python -m nnfast``: the book's experiments from the command line.

    nnfast chapter1            chapter 1's network with the book's settings
    nnfast chapter3 --run R    chapter 3's networks: quadratic, cross-entropy, l2, overfitting, ...
    nnfast chapter6 --net N    chapter 6's networks: fc, conv1, conv2, relu, expanded, extra-fc, dropout, ensemble
    nnfast plot H.json ...     the book's figures (accuracy, cost against epoch) from saved histories
    nnfast sweep --net N ...   a preset over a grid of hyper-parameters, on a Dask cluster
    nnfast info                build and machine configuration (show_config)
    nnfast download            fetch MNIST or Fashion-MNIST (SHA-256 checked)
    nnfast expand              the expanded training set of chapter 6
    nnfast reproduce           the book's results table rebuilt on MNIST (resumable)

Every training command takes --history PATH (each epoch's numbers as JSON, for `nnfast plot`),
--save PATH (the trained network), --seed, --threads, --dtype, --epochs and --quiet; a progress
bar shows on stderr when it is a terminal.
"""
import argparse
import sys

import numpy as np

from .common import (CommandError, _add_common, _begin, _Formatter, _history_for, _load, _Parser,  # noqa: F401
                   _positive_float, _positive_int, _run_book, _sizes)


# ---------------------------------------------------------------------------
# chapter 1
# ---------------------------------------------------------------------------

def _save_network1(net, path):
    """Chapter 1's network in network2's JSON (quadratic cost): ``network2.load`` reads it."""
    import json
    from ..history import write_atomic
    write_atomic(path, json.dumps({"sizes": net.sizes, "weights": [np.asarray(w, float).tolist() for w in net.weights],
                                   "biases": [np.asarray(b, float).tolist() for b in net.biases],
                                   "cost": "QuadraticCost"}))


def _chapter1(args):
    from .. import mnist_loader, network
    say, progress = _begin(args)
    (training, _validation, test), seconds = _load(args, loader=mnist_loader.load_data_wrapper)
    say("Loaded %s: %d training, %d test images in %.2f s" % (args.dataset, len(training), len(test), seconds))
    net = network.Network(args.sizes, dtype=np.dtype(args.dtype))
    history = _history_for(args, "chapter1")
    _, times = _run_book(args, say, lambda: net.SGD(training, args.epochs, args.mini_batch_size, args.eta,
                                                     test_data=test, progress=progress, history=history))
    if times:
        say("%d epochs in %.2f s (%.3f s per epoch, including the evaluation on %d test images)" % (
            len(times), sum(times), sum(times) / len(times), len(test)))
    if args.save:
        _save_network1(net, args.save)
        say("saved the network to %s (network2's JSON; nnfast.network2.load reads it)" % args.save)
    return 0


# ---------------------------------------------------------------------------
# info, plot
# ---------------------------------------------------------------------------

def _info(args):
    from .._config import show_config
    show_config()
    return 0


def _plot(args):
    from .. import plot
    labels = args.labels
    if len(args.histories) == 1 and plot.is_sweep(args.histories[0]):
        params = args.params.split(",") if args.params else None
        print("wrote %s" % plot.plot_sweep(args.histories[0], args.output, params=params, title=args.title))
        return 0
    if labels and len(labels) == 1 and len(args.histories) > 1:
        labels = labels[0].split(",")       # --labels "eta 0.5,eta 0.1"
    out = plot.plot_histories(args.histories, args.output, metric=args.metric, labels=labels, title=args.title)
    print("wrote %s" % out)
    return 0


def _add_plot(sub):
    p = sub.add_parser("plot", help="draw accuracy and cost against epoch from saved histories",
                       formatter_class=_Formatter,
                       description="Draw the book's kinds of figures from histories written with --history "
                                   "(or SGD(history=...)): accuracy and/or cost against epoch, training and "
                                   "evaluation data, several runs overlaid.  Needs matplotlib "
                                   "(pip install nnfast[plot]).",
                       epilog="example:\n  nnfast chapter3 --run overfitting --history over.json\n"
                              "  nnfast chapter3 --run overfitting-l2 --history l2.json\n"
                              "  nnfast plot over.json l2.json --labels 'lmbda 0' 'lmbda 0.1' -o overfitting.png")
    p.add_argument("histories", nargs="+", metavar="HISTORY", help="history JSON files (or one sweep file: nnfast sweep --out)")
    p.add_argument("-o", "--output", required=True, metavar="FIGURE",
                   help="the figure to write (.png, .pdf or .svg)")
    p.add_argument("--metric", choices=["accuracy", "cost", "both"], default="accuracy", help="what to draw")
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="a name per run, in the order of the files (default: the files' names)")
    p.add_argument("--title", help="the figure's title")
    p.add_argument("--params", metavar="A[,B]", help="a sweep's grid parameters to draw (default: those it varies)")
    p.set_defaults(func=_plot)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _Parser(prog="nnfast", description=__doc__.split("\n\n")[0].replace("``", ""),
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=__doc__.split("\n\n", 1)[1])
    from .._version import __version__
    parser.add_argument("--version", action="version", version="nnfast " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c1 = sub.add_parser("chapter1", help="train chapter 1's network (book settings by default)",
                        formatter_class=_Formatter,
                        description="Chapter 1: a [784, 30, 10] sigmoid network, quadratic cost, SGD with "
                                    "mini-batches of 10 and eta 3.0 for 30 epochs, evaluated on the 10,000 "
                                    "test images after each epoch, as the book's network.py.")
    _add_common(c1, epochs=30)
    c1.add_argument("--sizes", type=_sizes, default=[784, 30, 10], help="layer sizes, comma-separated")
    c1.add_argument("--mini-batch-size", type=_positive_int, default=10, help="mini-batch size")
    c1.add_argument("--eta", type=_positive_float, default=3.0, help="learning rate")
    c1.set_defaults(func=_chapter1)

    from .chapters import register as _reg36
    _reg36(sub, _add_common)
    _add_plot(sub)
    info = sub.add_parser("info", help="show the build and machine configuration")
    info.set_defaults(func=_info)
    sub.add_parser("download", help="fetch MNIST or Fashion-MNIST's IDX files", add_help=False)
    sub.add_parser("expand", help="write the expanded training set (chapter 6)", add_help=False)
    sub.add_parser("reproduce", help="rebuild the book's results table on MNIST (resumable)", add_help=False)
    from .chapters45 import register as _reg45
    _reg45(sub, _add_common)
    from .sweep import register as _reg_sweep
    _reg_sweep(sub)

    if argv and argv[0] in ("download", "expand", "reproduce"):
        if argv[0] == "download":
            from .download import main as run
        elif argv[0] == "expand":
            from .expand import main as run
        else:
            from .reproduce import main as run
        return run(argv[1:])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    args.argv = argv
    try:
        return args.func(args)
    except CommandError as e:
        print("nnfast %s: %s" % (args.command, e), file=sys.stderr)
        return 2
    except ImportError as e:      # an optional dependency (matplotlib for plot): one line, status 2
        print("nnfast %s: %s" % (args.command, e), file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print("nnfast %s: %s" % (args.command, " ".join(str(e).split())), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnnfast %s: interrupted" % args.command, file=sys.stderr)
        return 130

