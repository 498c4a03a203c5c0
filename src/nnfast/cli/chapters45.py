"""``nnfast chapter4`` and ``nnfast chapter5``: the universality construction and
the vanishing gradient, from the command line.

Kept apart from ``__main__`` so that the command table there needs one line:
``register(subparsers, add_common)`` adds both parsers.
"""
import argparse
import contextlib
import io
import os
import random
import sys
import time

import numpy as np

from .common import _int_at_least, _nonneg_float, _positive_float


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown, except None and False: those options explain themselves."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _png_path(path):
    """Check before any work that the figure can be written and matplotlib is there."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError("cannot write %s: folder %s does not exist" % (path, folder))
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise PermissionError("cannot write %s: permission denied" % path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("-o needs matplotlib, which is not installed (pip install matplotlib)") from None
    return path


def _figure(width, height):
    """A matplotlib Figure that draws off-screen, without pyplot's global state."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


# ---------------------------------------------------------------------------
# chapter 4
# ---------------------------------------------------------------------------

def _chapter4(args):
    from .. import universality as U
    output = _png_path(args.output) if args.output else None
    f = U.chapter_function
    xs = np.linspace(0.0, 1.0, args.points)
    print("Chapter 4: f(x) = 0.2 + 0.4x^2 + 0.3x sin(15x) + 0.05 cos(50x) on [0, 1], "
          "built from bumps (no training); errors at %d evenly spaced points" % args.points)
    print("%6s  %14s  %10s  %10s  %8s" % ("bumps", "network", "max error", "mean error", "time"))
    results = []
    for n in args.bumps:
        t = time.perf_counter()
        net = U.approximate(f, n, steepness=args.steepness)
        out = U.evaluate(net, xs)
        err = np.abs(out - f(xs))
        results.append((n, out, err))
        print("%6d  %14s  %10.4f  %10.5f  %7.3fs" % (n, "[1, %d, 1]" % (2 * n), err.max(), err.mean(),
                                                     time.perf_counter() - t))
    if output:
        fig = _figure(10, 4)
        ax_f, ax_e = fig.subplots(1, 2)
        ax_f.plot(xs, f(xs), color="black", linewidth=2, label="f")
        for n, out, err in results:
            ax_f.plot(xs, out, linewidth=1, label="%d bumps" % n)
            ax_e.plot(xs, err, linewidth=1, label="%d bumps (max %.3g)" % (n, err.max()))
        ax_f.set_xlabel("x")
        ax_f.set_title("f and the network's output")
        ax_f.legend(loc="upper left", fontsize="small")
        ax_e.set_yscale("log")
        ax_e.set_xlabel("x")
        ax_e.set_title("|f(x) - output|")
        ax_e.legend(loc="lower right", fontsize="small")
        fig.savefig(output, dpi=100)
        print("Wrote %s" % output)
    return 0


# ---------------------------------------------------------------------------
# chapter 5
# ---------------------------------------------------------------------------

def _print_chain(title, chain):
    print(title)
    print("  terms w_j*sigma'(z_j) (j = 1: sigma'(z_1)): " + ", ".join("%.4g" % t for t in chain.terms))
    print("  product %.4e, dC/da_n = %.4g, so dC/db_1 = %.4e (dC/db_n = %.4e)"
          % (chain.product, chain.dC_da, chain.dC_db[0], chain.dC_db[-1]))


def _chapter5(args):
    from .. import diagnostics, mnist_loader, network2
    from .._config import num_threads
    output = _png_path(args.output) if args.output else None
    if args.seed is not None:
        np.random.seed(args.seed)
        random.seed(args.seed)
    t = time.perf_counter()
    (X, labels), _, _ = mnist_loader.load_data(args.data, dataset=args.dataset, download=args.download,
                                               pixel_scale=args.pixel_scale)
    if args.train_size > len(X):
        raise ValueError("--train-size %d is more than the %d training images" % (args.train_size, len(X)))
    X, labels = X[:args.train_size], labels[:args.train_size]
    Y = np.eye(10)[labels]
    data = (X, Y)
    print("Chapter 5: speed of learning ||dC/db|| of each hidden layer, averaged over the first %d %s "
          "training images (loaded in %.2f s)" % (len(X), args.dataset, time.perf_counter() - t))
    print("network2, cross-entropy, eta %g, lmbda %g, mini-batch %d, %d epochs, one SGD call per epoch"
          % (args.eta, args.lmbda, args.mini_batch_size, args.epochs))
    every = args.print_every or max(1, args.epochs // 5)
    curves = []
    with num_threads(args.threads):
        for depth in args.hidden_layers:
            sizes = [784] + [args.hidden_size] * depth + [10]
            net = network2.Network(sizes, cost=network2.CrossEntropyCost, dtype=np.dtype(args.dtype))
            start = diagnostics.gradient_norms(net, data)
            recorder = diagnostics.GradientNormRecorder(data)
            print("%s at the start: %s" % (sizes, "  ".join("%.4g" % v for v in start)))
            t = time.perf_counter()
            for epoch in range(args.epochs):
                with contextlib.redirect_stdout(io.StringIO()):     # SGD's "Epoch 0 training complete"
                    net.SGD(data, 1, args.mini_batch_size, args.eta, lmbda=args.lmbda)
                record = {"epoch": epoch}
                recorder(net, epoch, record)
                if (epoch + 1) % every == 0 or epoch + 1 == args.epochs:
                    print("  after epoch %4d: %s" % (epoch, "  ".join("%.4g" % v for v in record["gradient_norms"])))
            print("  %d epochs (training and measuring) in %.2f s" % (args.epochs, time.perf_counter() - t))
            curves.append((sizes, [start] + recorder.norms))
    print()
    print("The unstable gradient in a chain of single neurons, C = (a_n - y)^2 / 2, x = 1, y = 0:")
    rng = np.random.RandomState(args.seed if args.seed is not None else 0)
    n = args.chain_length
    weights, biases = rng.randn(n), rng.randn(n)
    _print_chain("weights and biases drawn from N(0, 1): %s, %s" % (
        np.array2string(weights, precision=3), np.array2string(biases, precision=3)),
        diagnostics.unstable_chain(weights, biases, x=1.0, y=0.0))
    _print_chain("weights 100, biases chosen so that every z_j = 0:",
                 diagnostics.unstable_chain([100.0] * n, [-100.0] + [-50.0] * (n - 1), x=1.0, y=0.0))
    if output:
        fig = _figure(4.5 * len(curves), 4)
        axes = fig.subplots(1, len(curves), squeeze=False)[0]
        for ax, (sizes, norms) in zip(axes, curves):
            norms = np.array(norms)
            for l in range(norms.shape[1]):
                ax.plot(np.arange(len(norms)), norms[:, l], label="Hidden layer %d" % (l + 1))
            ax.set_yscale("log")
            ax.grid(True)
            ax.set_xlabel("Number of epochs of training")
            ax.set_title("Speed of learning: %d hidden layers" % (len(sizes) - 2))
            ax.legend(loc="upper right", fontsize="small")
        fig.savefig(output, dpi=100)
        print("Wrote %s" % output)
    return 0


def register(subparsers, add_common):
    """Add the ``chapter4`` and ``chapter5`` commands; ``add_common`` adds the data options."""
    c4 = subparsers.add_parser(
        "chapter4", help="build chapter 4's bump networks for a function and measure their error",
        formatter_class=_Help,
        description="Chapter 4: a visual proof that neural nets can compute any function. For each "
                    "number of bumps N, builds (without training) a [1, 2N, 1] sigmoid network whose "
                    "output follows the chapter's f(x) = 0.2 + 0.4x^2 + 0.3x sin(15x) + 0.05 cos(50x) "
                    "on [0, 1], prints its largest and mean error, and with -o plots f, the outputs "
                    "and the errors.")
    c4.add_argument("--bumps", type=_int_at_least(1), nargs="+", default=[5, 10, 50],
                    help="numbers of bumps to build, one network each")
    c4.add_argument("--steepness", type=_positive_float, default=None,
                    help="weight of the step neurons (default: 4 per bump width, soft steps; the chapter's "
                         "pictures use 1000)")
    c4.add_argument("--points", type=_int_at_least(2), default=2001, help="points of [0, 1] the error is measured at")
    c4.add_argument("-o", "--output", metavar="PNG", default=None,
                    help="write the figure here (needs matplotlib); without it only the table is printed")
    c4.set_defaults(func=_chapter4)

    c5 = subparsers.add_parser(
        "chapter5", help="measure how fast each hidden layer learns (the vanishing gradient)",
        formatter_class=_Help,
        description="Chapter 5: the vanishing gradient problem. Trains [784, 30, 30, 10], "
                    "[784, 30, 30, 30, 10] and [784, 30, 30, 30, 30, 10] (network2, cross-entropy) on the "
                    "first 1,000 training images with the settings of the book's generate_gradient.py "
                    "(mini-batch 1000, eta 0.1, lmbda 5.0, 500 epochs), measuring each hidden layer's "
                    "speed of learning ||dC/db|| (averaged over those images) before training and after "
                    "every epoch; then the chapter's chain of single neurons. -o plots the speeds on a "
                    "log scale like the book's figures.")
    add_common(c5)
    c5.add_argument("--hidden-layers", type=_int_at_least(1), nargs="+", default=[2, 3, 4],
                    help="numbers of hidden layers, one network each")
    c5.add_argument("--hidden-size", type=_int_at_least(1), default=30, help="neurons per hidden layer")
    c5.add_argument("--train-size", type=_int_at_least(1), default=1000,
                    help="train on (and measure over) the first this many training images")
    c5.add_argument("--epochs", type=_int_at_least(0), default=500, help="epochs per network")
    c5.add_argument("--mini-batch-size", type=_int_at_least(1), default=1000,
                    help="mini-batch size (the book's script: 1000, i.e. the whole set)")
    c5.add_argument("--eta", type=_positive_float, default=0.1, help="learning rate")
    c5.add_argument("--lmbda", type=_nonneg_float, default=5.0, help="L2 regularisation")
    c5.add_argument("--print-every", type=_int_at_least(1), default=None,
                    help="print the speeds every this many epochs (default: a fifth of --epochs)")
    c5.add_argument("--chain-length", type=_int_at_least(1), default=4, help="neurons in the chain example")
    c5.add_argument("-o", "--output", metavar="PNG", default=None,
                    help="write the figure here (needs matplotlib)")
    c5.set_defaults(func=_chapter5)
    return c4, c5


if __name__ == "__main__":   # pragma: no cover - run through ``nnfast``
    sys.exit("run as: nnfast chapter4 | nnfast chapter5")
